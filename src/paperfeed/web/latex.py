"""LaTeX in titles and abstracts, rendered on the server to MathML (no JavaScript needed).

Math is `$...$`, `$$...$$`, `\\(...\\)` or `\\[...\\]`; everything else is escaped text.
A formula latex2mathml cannot parse is shown as its source, never as an error.

Titles and abstracts come from anyone who can post to arXiv, and latex2mathml copies the
argument of `\\text{...}` into its output unescaped (`$\\text{<svg/onload=...>}$` ran script).
So its MathML is parsed and re-serialized with an allowlist of MathML elements and
attributes: anything else, or output that is not well-formed, shows the source instead.
"""

from __future__ import annotations

import re
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


@lru_cache(maxsize=8192)
def render(text: str, marks: re.Pattern[str] | None = None) -> Markup:
    """Escape the text, turn its formulas into MathML, and <mark> words matching `marks`."""
    out: list[str] = []
    position = 0
    plain = _escape if marks is None else (lambda part: _mark(part, marks))
    for match in _MATH.finditer(text):
        out.append(plain(text[position : match.start()]))
        tex = next(g for g in match.groups() if g is not None)
        display = match.group("d1") is not None or match.group("d2") is not None
        out.append(_formula(tex.strip(), match.group(0), display))
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


def _formula(tex: str, source: str, display: bool) -> str:
    try:
        mathml = convert(tex, display="block" if display else "inline")
    except Exception:  # latex2mathml raises many kinds of errors on odd input
        mathml = None
    safe = _safe_mathml(mathml) if mathml else None
    if safe is None:
        return f'<span class="tex-source">{escape(source)}</span>'
    return safe


def _safe_mathml(mathml: str) -> str | None:
    """The MathML re-serialized (all text escaped), or None if it holds anything but
    allowlisted MathML elements and attributes."""
    try:
        root = ET.fromstring(mathml)
    except ET.ParseError:
        return None
    for element in root.iter():
        namespace, _, name = element.tag.rpartition("}")
        if namespace != "{" + MATHML_NS or name not in MATHML_ELEMENTS:
            return None
        if not all(attribute in MATHML_ATTRIBUTES for attribute in element.attrib):
            return None
    return ET.tostring(root, encoding="unicode")


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
