"""LaTeX to MathML and to plain text: formulas render, and text from arXiv can never become
markup."""

from __future__ import annotations

import re

import pytest

from paperfeed.latex import MATHML_ELEMENTS, plain_text, render

PAYLOADS = [
    r"A $\text{<svg/onload=window.pwned=1>}$ b",
    "A $\\text{<img src=x\tonerror=window.pwned=1>}$ b",
    r"A $\text{<details/open/ontoggle=window.pwned=1>}$ b",
    r'A $\text{<img src="x" onerror="window.pwned=1"/>}$ b',
    r"A $\mathrm{<script>window.pwned=1</script>}$ b",
    r"A $$\text{<iframe srcdoc=x>}$$ b",
]


@pytest.mark.parametrize("title", PAYLOADS)
def test_markup_inside_a_formula_is_shown_as_text(title: str) -> None:
    html = str(render(title))
    tags = set(re.findall(r"<\s*([a-zA-Z][\w:-]*)", html))
    assert tags <= {"span"} | MATHML_ELEMENTS, html
    assert not re.search(r"<[^>]*\bon\w+\s*=", html), html


def test_formulas_still_render_as_mathml() -> None:
    html = str(render(r"Energy $E = mc^2$, $\frac{a}{b} < \sqrt{x}$ and $$\sum_i x_i$$"))
    assert html.count("<math") == 3
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">' in html
    assert "<mfrac>" in html and "<msqrt>" in html and "<mo>&lt;</mo>" in html
    assert 'display="block"' in html
    assert "tex-source" not in html


def test_an_escaped_dollar_is_a_dollar_on_the_page_as_in_the_tab() -> None:
    title = r"Costs \$5, $x$ more"
    html = str(render(title))
    assert html.startswith("Costs $5, <math") and "\\" not in html
    assert plain_text(title) == "Costs $5, x more"
    marked = str(render(title, re.compile(r"\bcosts\b", re.I)))
    assert marked.startswith("<mark>Costs</mark> $5, <math")


def test_a_formula_with_a_plain_less_than_in_text_shows_its_source() -> None:
    html = str(render(r"Where $\text{a < b}$ holds"))
    assert '<span class="tex-source">$\\text{a &lt; b}$</span>' in html


# --- macros from preambles, symbols typed as themselves ------------------------------------


def test_common_preamble_macros_render_as_what_they_mean() -> None:
    # arXiv metadata never carries the preamble that defined \Q: it showed as "\Q(√5)".
    html = str(render(r"Modular forms over $\Q(\sqrt{5})$"))
    assert "<mi>ℚ</mi>" in html and "\\Q" not in html
    for macro, letter in (("R", "ℝ"), ("N", "ℕ"), ("Z", "ℤ"), ("C", "ℂ"), ("RR", "ℝ")):
        assert f"<mi>{letter}</mi>" in str(render(f"$\\{macro}^n$")), macro
    assert "<mo>Tr</mo>" in str(render(r"$\Tr \rho$"))
    # A macro is a whole name: \Qp is not \Q followed by p, and \\Q is a line break then Q.
    assert "ℚ" not in str(render(r"$\Qp$")) and "ℚ" not in str(render(r"$a\\Q$"))


def test_an_unknown_macro_stays_readable_and_the_rest_renders() -> None:
    html = str(render(r"A $\cla$ module over $\foo{x}^2$"))
    assert "tex-source" not in html and html.count("<math") == 2
    assert "<mi>\\cla</mi>" in html and "<mi>\\foo</mi>" in html
    assert "<msup>" in html


def test_a_symbol_typed_as_itself_is_an_operator() -> None:
    html = str(render("Bounds $x ≤ √y → ∞$ and $α$"))
    assert "<mo>≤</mo>" in html and "<mo>√</mo>" in html and "<mo>→</mo>" in html
    assert "<mi>α</mi>" in html  # letters stay identifiers


# --- plain text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        (r"$\Lambda_{\alpha}$ baryons", "Λ_α baryons"),
        (r"Comments on $k$ and $\alpha^2$", "Comments on k and α²"),
        (r"Forms over $\Q(\sqrt{5})$ via\n  the", "Forms over ℚ(√5) via the"),
        (r"$E = mc^2$", "E = mc²"),
        (r"An $O(n\log n)$ sort", "An O(n log n) sort"),
        (r"$\sum_{i=1}^n x_i$", "∑_(i=1)^n x_i"),
        (r"$\frac{a+b}{2}$ and $10^{-3}$", "(a+b)/2 and 10⁻³"),
        (r"$\mathbb{R}^{n\times d}$, $\mathcal{N}(0,1)$", "ℝ^(n×d), 𝒩(0,1)"),
        (r"$\SL_2(\Z)$ and $\hat{x}$", "SL₂(ℤ) and x̂"),
        (r"$\lim_{n\to\infty} a_n$", "lim_(n→∞) a_n"),
        (r"An unknown $\cla$ module", "An unknown \\cla module"),
        (r"Costs \$5, $$x$$ and \(y\)", "Costs $5, x and y"),
        (r"Broken $\frac{a}{$ stays", "Broken \\frac a stays"),
        ("No math at all {braces} stay", "No math at all {braces} stay"),
    ],
)
def test_plain_text_reads_like_the_formula(text: str, plain: str) -> None:
    assert plain_text(text.replace(r"\n", "\n")) == plain


@pytest.mark.parametrize("title", PAYLOADS)
def test_plain_text_of_an_attack_is_text(title: str) -> None:
    # Plain text is escaped where it is used; here it must at least hold no MathML of ours.
    plain = plain_text(title)
    assert "<math" not in plain and "$" not in plain


def test_a_dollar_left_out_upstream_shows_prose_as_its_source_not_as_one_long_formula() -> None:
    # arXiv 0704.0200's abstract (real): `\Delta\alpha_n=0.8\pm 1.7$` lost its opening
    # dollar, so the next ones pair across sentences.
    abstract = (
        r"$\Delta\beta_p=1.2\mp 0.6$, \Delta\alpha_n=0.8\pm 1.7$ and $\Delta\beta_n=2.0\mp"
        r" 1.8$ are contributed by a larger number of resonant and nonresonant processes"
        r" with cancellations between the contributions to the $\sigma$-meson"
    )
    html = str(render(abstract))
    assert html.count("<math") == 2  # the first formula, and " and " (one word) between
    assert '<span class="tex-source">$ are contributed by a larger number of' in html
    # Words set inside \text{} are a formula's own, and a formula with a word or two stays one.
    assert "<math" in str(render(r"$x > 0 \text{ if and only if } y > 0$"))
    assert "<math" in str(render(r"$f(x) = \sin x \cos x$"))
    assert "<math" in str(render(r"$x \in A$ and $y$"))
