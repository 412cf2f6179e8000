"""LaTeX to MathML: formulas render, and text from arXiv can never become markup."""

from __future__ import annotations

import re

import pytest

from paperfeed.web.latex import MATHML_ELEMENTS, render

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


def test_a_formula_with_a_plain_less_than_in_text_shows_its_source() -> None:
    html = str(render(r"Where $\text{a < b}$ holds"))
    assert '<span class="tex-source">$\\text{a &lt; b}$</span>' in html
