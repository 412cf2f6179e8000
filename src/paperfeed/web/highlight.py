"""Showing why a search result matched: <mark>ed words and the abstract around them."""

from __future__ import annotations

import re

from paperfeed.latex import balance_math, excerpt
from paperfeed.search.query import STOP_WORDS, ParsedQuery


def highlighter(parsed: ParsedQuery) -> re.Pattern[str] | None:
    """A pattern for the query's words (and their inflections) to <mark> in results."""
    words = {w for w in parsed.terms if w not in STOP_WORDS and len(w) > 1}
    words |= {w for p in parsed.phrases for w in p if w not in STOP_WORDS}
    if not words:
        return None
    stems = sorted({_stem(w) for w in words}, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(s) for s in stems) + r")\w*", re.I)


def _stem(word: str) -> str:
    for suffix in ("ations", "ation", "ings", "ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def snippet(abstract: str, pattern: re.Pattern[str] | None, width: int = 300) -> str:
    """The part of the abstract around the first match, so highlights are visible."""
    if pattern is None or len(abstract) <= width:
        return abstract if len(abstract) <= width else excerpt(abstract, width)
    match = pattern.search(abstract)
    if match is None or match.start() < width // 2:
        return excerpt(abstract, width)
    start = abstract.rfind(" ", 0, match.start() - width // 3) + 1
    if len(re.findall(r"(?<!\\)\$", abstract[:start])) % 2:
        start = abstract.find("$", start) + 1  # do not start inside a formula
    piece = balance_math(abstract[start : start + width].rsplit(" ", 1)[0])
    return "…" + piece.lstrip() + ("…" if start + width < len(abstract) else "")
