"""What a person typed into the search box, understood.

Supports bare words, "quoted phrases" (must appear), -word and -"phrase" exclusion, and an
arXiv id or URL (which goes straight to that paper). Never raises: unbalanced quotes are
read as plain words, odd characters are dropped, and over-long input is cut.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from paperfeed.papers.ids import ArxivId, parse_arxiv_id

MAX_QUERY_CHARS = 500
MAX_TERMS = 32

STOP_WORDS = frozenset(
    """a an and are as at be but by for from has have how in into is it its of on or that the
    their there these this to was we were what when which who why will with via our""".split()  # noqa: SIM905
)
_TOKEN = re.compile(r'-?"[^"]*"|\S+')
_WORD = re.compile(r"[\w]+", re.UNICODE)


@dataclass
class ParsedQuery:
    text: str
    terms: list[str] = field(default_factory=list)
    phrases: list[list[str]] = field(default_factory=list)
    excluded_terms: list[str] = field(default_factory=list)
    excluded_phrases: list[list[str]] = field(default_factory=list)
    arxiv_id: ArxivId | None = None
    truncated: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.terms or self.phrases)

    @property
    def only_stop_words(self) -> bool:
        words = self.terms + [w for p in self.phrases for w in p]
        return bool(words) and all(w in STOP_WORDS for w in words)

    @property
    def content_terms(self) -> list[str]:
        """Words that carry meaning, for ranking (stop words match nearly everything)."""
        return [t for t in self.terms if t not in STOP_WORDS]

    @property
    def semantic_text(self) -> str:
        """The text to embed: what was asked for, without the exclusions and operators."""
        parts = [" ".join(p) for p in self.phrases] + self.terms
        return " ".join(parts)


def clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] not in ("C",) or ch == " ")
    return " ".join(text.split())


def words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def parse_query(raw: str) -> ParsedQuery:
    truncated = len(raw) > MAX_QUERY_CHARS
    text = clean(raw[:MAX_QUERY_CHARS])
    parsed = ParsedQuery(text=text, truncated=truncated)
    if not text:
        return parsed
    arxiv = parse_arxiv_id(text)
    if arxiv is not None:
        parsed.arxiv_id = arxiv
        return parsed
    if text.count('"') % 2:
        text = text.replace('"', " ")
    for token in _TOKEN.findall(text):
        negative = token.startswith("-") and len(token) > 1
        body = token[1:] if negative else token
        if body.startswith('"'):
            phrase = words(body)
            if not phrase:
                continue
            if len(phrase) == 1:
                (parsed.excluded_terms if negative else parsed.terms).extend(phrase)
            else:
                (parsed.excluded_phrases if negative else parsed.phrases).append(phrase)
        else:
            found = words(body)
            (parsed.excluded_terms if negative else parsed.terms).extend(found)
    parsed.terms = list(dict.fromkeys(parsed.terms))[:MAX_TERMS]
    parsed.excluded_terms = list(dict.fromkeys(parsed.excluded_terms))[:MAX_TERMS]
    parsed.phrases = parsed.phrases[:8]
    parsed.excluded_phrases = parsed.excluded_phrases[:8]
    return parsed
