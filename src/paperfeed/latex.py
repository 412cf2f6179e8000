"""LaTeX in titles, abstracts and comments: MathML for pages, plain Unicode for the rest.

Math is `$...$`, `$$...$$`, `\\(...\\)` or `\\[...\\]`; everything else is escaped text.
A formula latex2mathml cannot parse is shown as its source, never as an error.

Titles and abstracts come from anyone who can post to arXiv, and latex2mathml copies the
argument of `\\text{...}` into its output unescaped (`$\\text{<svg/onload=...>}$` ran script).
So its MathML is parsed and re-serialized with an allowlist of MathML elements and
attributes: anything else, or output that is not well-formed, shows the source instead.
`formula` is that one path; titles (`render`) and comments (community/comments.py) use it.

Authors define macros in preambles that the metadata never carries. The few whose meaning
is near universal (`\\Q` for the rationals, `\\Tr`...) are expanded (`MACROS`); any other
unknown macro stays readable as its name. A symbol typed as itself (`≤`, `√`, `→`) is an
operator, as its macro would be, not a letter.

Where no markup can go (the browser tab, feed titles, emails), `plain_text` gives the
text with each formula as Unicode: `$\\Lambda_{\\alpha}$` is `Λ_α`, `$\\alpha^2$` is `α²`.
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from functools import lru_cache

from latex2mathml.converter import convert
from markupsafe import Markup, escape

MATHML_NS = "http://www.w3.org/1998/Math/MathML"
MATHML_ELEMENTS = frozenset(
    [
        "math",
        "mi",
        "mn",
        "mo",
        "ms",
        "mtext",
        "mspace",
        "mrow",
        "mfrac",
        "msqrt",
        "mroot",
        "mstyle",
        "merror",
        "mpadded",
        "mphantom",
        "mfenced",
        "menclose",
        "msub",
        "msup",
        "msubsup",
        "munder",
        "mover",
        "munderover",
        "mmultiscripts",
        "mprescripts",
        "none",
        "mtable",
        "mtr",
        "mlabeledtr",
        "mtd",
        "semantics",
        "annotation",
    ]
)
MATHML_ATTRIBUTES = frozenset(
    [
        "display",
        "fence",
        "form",
        "mathvariant",
        "stretchy",
        "separator",
        "separators",
        "lspace",
        "rspace",
        "accent",
        "accentunder",
        "movablelimits",
        "columnalign",
        "columnspacing",
        "columnlines",
        "columnspan",
        "rowalign",
        "rowspacing",
        "rowlines",
        "rowspan",
        "frame",
        "framespacing",
        "equalrows",
        "equalcolumns",
        "align",
        "linethickness",
        "bevelled",
        "numalign",
        "denomalign",
        "width",
        "height",
        "depth",
        "voffset",
        "minsize",
        "maxsize",
        "symmetric",
        "largeop",
        "displaystyle",
        "scriptlevel",
        "notation",
        "open",
        "close",
        "mathsize",
        "encoding",
    ]
)
ET.register_namespace("", MATHML_NS)

_MATH = re.compile(
    r"\$\$(?P<d1>.+?)\$\$|\\\[(?P<d2>.+?)\\\]|(?<!\\)\$(?P<i1>[^$]+?)(?<!\\)\$|\\\((?P<i2>.+?)\\\)",
    re.S,
)

# Preamble macros common on arXiv whose meaning hardly varies. Not `\F`, `\E` or `\P`:
# a foliation, an energy and a projection are as common as a field, expectation, probability.
MACROS: dict[str, str] = {
    **{name: rf"\mathbb{{{name}}}" for name in ("Q", "R", "N", "Z", "C")},
    **{name * 2: rf"\mathbb{{{name}}}" for name in ("Q", "R", "N", "Z", "C")},
    **{
        name: rf"\operatorname{{{name}}}"
        for name in (
            "Tr", "tr", "Hom", "End", "Aut", "Gal", "Spec", "SL", "GL", "PSL", "SO", "SU",
            "rank", "sgn", "diag", "supp", "Var", "Cov",
        )
    },
    "eps": r"\varepsilon",
    "lam": r"\lambda",
    "mathbbm": r"\mathbb",
    "mathds": r"\mathbb",
    "msun": r"M_\odot",
    "kms": r"\mathrm{km\,s^{-1}}",
}  # fmt: skip
_MACRO = re.compile(r"\\([A-Za-z]+)|\\.", re.S)


def expand_macros(tex: str) -> str:
    """`\\Q` -> `\\mathbb{Q}` and the rest of `MACROS`; `\\\\` and other macros stay."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return MACROS.get(name, match.group(0)) if name else match.group(0)

    return _MACRO.sub(replace, tex)


@lru_cache(maxsize=8192)
def render(text: str, marks: re.Pattern[str] | None = None) -> Markup:
    """Escape the text, turn its formulas into MathML, and <mark> words matching `marks`."""
    out: list[str] = []
    position = 0
    mark = _escape if marks is None else (lambda part: _mark(part, marks))

    def plain(part: str) -> str:
        return mark(part.replace("\\$", "$"))  # `\$` is a dollar, as in `plain_text`

    for match in _MATH.finditer(text):
        out.append(plain(text[position : match.start()]))
        tex = next(g for g in match.groups() if g is not None)
        display = match.group("d1") is not None or match.group("d2") is not None
        out.append(formula(tex, display, match.group(0)))
        position = match.end()
    out.append(plain(text[position:]))
    return Markup("".join(out))


def _escape(text: str) -> str:
    return str(escape(text))


def _mark(text: str, pattern: re.Pattern[str]) -> str:
    out, position = [], 0
    for match in pattern.finditer(text):
        out.append(str(escape(text[position : match.start()])))
        out.append(f"<mark>{escape(match.group(0))}</mark>")
        position = match.end()
    out.append(str(escape(text[position:])))
    return "".join(out)


@lru_cache(maxsize=8192)
def formula(tex: str, display: bool, source: str) -> Markup:
    """One formula as allowlisted MathML, or its `source` as escaped text if it cannot be.

    `tex` is the inside of the delimiters; `source` is what the author wrote, delimiters
    and all, shown when the formula does not convert.
    """
    if _is_prose(tex):
        return Markup(f'<span class="tex-source">{escape(source)}</span>')
    root = _mathml(tex, display)
    safe = _safe_mathml(root) if root is not None else None
    if safe is None:
        return Markup(f'<span class="tex-source">{escape(source)}</span>')
    return Markup(safe)


# Three words in a row outside `\text{}`-like groups: a dollar sign left out upstream
# (`$x$ and \Delta y$ ...`) pairs the rest of the abstract into one "formula" whose prose
# MathML would set on one unbreakable line, pages wide. Real formulas put words in \text.
_PROSE = re.compile(r"(?:^|\s)[A-Za-z]{2,}\s+[A-Za-z]{2,}\s+[A-Za-z]{2,}(?=\s|[,.;:]|$)")
_TEXT_GROUP = re.compile(r"\\(?:text|mathrm|textrm|textit|textbf|mbox|operatorname)\s*\{[^{}]*\}")


def _is_prose(tex: str) -> bool:
    """Whether `tex` reads as sentences, not as a formula (see `_PROSE`)."""
    return _PROSE.search(_TEXT_GROUP.sub(" ", tex[:20_000])) is not None


def _mathml(tex: str, display: bool) -> ET.Element | None:
    """latex2mathml's output as a tree, or None when it cannot convert or parse it."""
    try:
        mathml = convert(expand_macros(tex.strip()), display="block" if display else "inline")
        return ET.fromstring(mathml)
    except Exception:  # latex2mathml raises many kinds of errors on odd input
        return None


def _safe_mathml(root: ET.Element) -> str | None:
    """The MathML re-serialized (all text escaped), or None if it holds anything but
    allowlisted MathML elements and attributes."""
    for element in root.iter():
        namespace, _, name = element.tag.rpartition("}")
        if namespace != "{" + MATHML_NS or name not in MATHML_ELEMENTS:
            return None
        if not all(attribute in MATHML_ATTRIBUTES for attribute in element.attrib):
            return None
        if name == "mi" and _is_operator(element.text):
            element.tag = f"{{{MATHML_NS}}}mo"  # `≤` typed as itself spaces like `\leq`
    return ET.tostring(root, encoding="unicode")


def _is_operator(text: str | None) -> bool:
    return text is not None and len(text) == 1 and unicodedata.category(text) == "Sm"


# --- plain text ----------------------------------------------------------------------------

_SUPERSCRIPT = str.maketrans("0123456789+-−=()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾")
_SUBSCRIPT = str.maketrans("0123456789+-−=()", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎")
_SCRIPTABLE = frozenset("0123456789+-−=()")
_PRIMES = frozenset("′″‴'")
# Combining marks for accents over one letter: \hat x is x̂, \vec v is v⃗.
_ACCENTS = {
    "^": "\u0302",
    "ˆ": "\u0302",
    "~": "\u0303",
    "˜": "\u0303",
    "¯": "\u0304",
    "‾": "\u0305",
    "―": "\u0305",
    "˘": "\u0306",
    "˙": "\u0307",
    "¨": "\u0308",
    "ˇ": "\u030c",
    "→": "\u20d7",
}
_RELATIONS = frozenset("=≠<>≤≥≈≡∼≃≅∝→←↔⇒⇐⇔↦∈∉⊂⊆⊃⊇")
_INVISIBLE = dict.fromkeys(map(ord, "\u2061\u2062\u2063\u2064\u200b"), None)
_WHITESPACE = re.compile(r"\s+")


@lru_cache(maxsize=8192)
def plain_text(text: str) -> str:
    """The text on one line, each formula as Unicode (no `$`, braces or macros left).

    For places that show text only: the browser tab (`<title>`), feed titles, emails.
    """
    out: list[str] = []
    position = 0
    for match in _MATH.finditer(text):
        out.append(text[position : match.start()].replace("\\$", "$"))
        tex = next(g for g in match.groups() if g is not None)
        out.append(_formula_text(tex))
        position = match.end()
    out.append(text[position:].replace("\\$", "$"))
    return _WHITESPACE.sub(" ", "".join(out)).strip()


def _formula_text(tex: str) -> str:
    root = _mathml(tex, display=False)
    if root is None:  # not convertible: the source, without the braces that group it
        return _WHITESPACE.sub(" ", re.sub(r"[{}]", " ", expand_macros(tex))).strip()
    return _text(root, top=True).strip()


def _tag(element: ET.Element) -> str:
    return element.tag.rpartition("}")[2]


def _text(element: ET.Element, top: bool = False) -> str:
    """The visible text of a MathML element, scripts written as x², x_i, a/b, √x."""
    tag = _tag(element)
    kids = list(element)
    if tag in ("mi", "mn", "mo", "mtext", "ms"):
        value = (element.text or "").translate(_INVISIBLE).replace("\u00a0", " ")
        if top and (tag == "mo" or _is_operator(value)) and value in _RELATIONS:
            return f" {value} "
        return value
    if tag == "mspace":
        return " "
    if tag in ("mphantom", "annotation"):
        return ""
    if tag == "semantics":
        return _text(kids[0], top) if kids else ""
    if tag in _SCRIPTS and kids:
        base = _text(kids[0], top)
        scripts = [_text(kid) for kid in kids[1:3]]
        if tag == "mover" and len(scripts) == 1:
            mark = _ACCENTS.get(scripts[0].strip())
            if mark and len(base) == 1:
                return base + mark
            if mark:
                return base
        marks = {"msub": "_", "munder": "_", "msup": "^", "mover": "^"}
        kinds = [marks[tag]] if tag in marks else ["_", "^"]
        return base + "".join(_script(s, kind) for s, kind in zip(scripts, kinds, strict=False))
    if tag == "mfrac" and len(kids) == 2:
        return f"{_group(_text(kids[0]))}/{_group(_text(kids[1]))}"
    if tag == "msqrt":
        return "√" + _group(_join(kids, top=False))
    if tag == "mroot" and len(kids) == 2:
        index = _text(kids[1])
        root = {"3": "∛", "4": "∜"}.get(index, index.translate(_SUPERSCRIPT) + "√")
        return root + _group(_text(kids[0]))
    if tag == "mtable":
        return "; ".join(", ".join(_text(cell) for cell in row) for row in kids)
    return _join(kids, top)


def _join(kids: list[ET.Element], top: bool) -> str:
    """Children side by side, with a space where they would run together: around a word
    (log, sin, Tr, an unknown `\\foo`) and after a script (`∑_(i=1)^n x_i`, `x² y`)."""
    out, previous = "", ""
    after_script = False
    for kid in kids:
        part = _text(kid, top)
        if out and part and part[0].isalnum() and not out[-1].isspace():
            words = _is_word(previous) or _is_word(part)
            if (words and out[-1].isalnum()) or after_script:
                out += " "
        out += part
        previous, after_script = part, _tag(kid) in _SCRIPTS
    return out


_SCRIPTS = frozenset({"msub", "msup", "msubsup", "munder", "mover", "munderover"})


def _is_word(text: str) -> bool:
    name = text.removeprefix("\\")
    return len(name) > 1 and name.isalpha()


def _script(text: str, kind: str) -> str:
    text = text.strip()
    if not text:
        return ""
    if all(c in _PRIMES for c in text):
        return text.replace("'", "′")
    if all(c in _SCRIPTABLE for c in text):
        return text.translate(_SUPERSCRIPT if kind == "^" else _SUBSCRIPT)
    return kind + _group(text)


def _group(text: str) -> str:
    """Parentheses around more than one symbol, so a/(b+c), x_(ij) and e^(iπ) read right."""
    text = text.strip()
    if len(text) <= 1 or text.isdigit() or (text[0] == "(" and text[-1] == ")"):
        return text
    return f"({text})"


def balance_math(text: str) -> str:
    """Drop a formula cut in half at either end of a piece of text."""
    if len(re.findall(r"(?<!\\)\$", text)) % 2:
        text = text[: text.rfind("$")].rstrip()
    return text


def excerpt(text: str, limit: int = 280) -> str:
    """Cut at a word boundary, never inside a formula, with an ellipsis when shortened."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    cut = cut if cut > limit // 2 else limit
    head = text[:cut]
    unescaped = len(re.findall(r"(?<!\\)\$", head))
    if unescaped % 2:
        head = head[: head.rfind("$")].rstrip()
    return head.rstrip(" ,.;:") + "…"
