"""A paper's key sentence: the sentence of its abstract that best stands for the whole.

Shown, labelled as a quote from the abstract, where no machine-written summary exists: it
invents nothing, and costs a few microseconds per page, so it is computed on the fly.

The method (docs/summaries.md), a centroid sentence in the manner of extractive
summarizers (Radev et al. 2004, MEAD), weighted by the paper's keywords:
1. split the abstract into sentences; keep those of `MIN_WORDS` to `MAX_WORDS` words;
2. a content word (not a stopword, three letters or more, plurals folded) weighs the number
   of *other* sentences it appears in, plus `KEYWORD_WEIGHT` if it is a word of one of the
   paper's stored YAKE keywords (search/keywords.py);
3. a sentence scores the sum of its distinct content words' weights over the square root
   of their count (long sentences do not win by length alone); the best wins, the
   earlier one on a tie.
An abstract of fewer than `MIN_SENTENCES` sentences has none: the quote would be most of it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from paperfeed.search.keywords import _stem, _words, stopwords

MIN_WORDS = 6
MAX_WORDS = 60
MIN_SENTENCES = 3
KEYWORD_WEIGHT = 2.0
MAX_ABSTRACT = 10_000  # characters read
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[$\\])")


def sentences(abstract: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(" ".join(abstract[:MAX_ABSTRACT].split())) if s]


def _content(sentence: str) -> set[str]:
    stop = stopwords()
    return {_stem(w) for w in _words(sentence) if len(w) >= 3 and w not in stop and w.isalpha()}


def key_sentence(abstract: str, keywords: Sequence[str] = ()) -> str | None:
    """The abstract's key sentence (see the module's docstring), or None."""
    found = sentences(abstract)
    if len(found) < MIN_SENTENCES:
        return None
    words = [_content(s) for s in found]
    spread = Counter(w for ws in words for w in ws)
    keyed = {_stem(w) for k in keywords for w in _words(k)}
    best: tuple[float, int] | None = None
    for i, (sentence, ws) in enumerate(zip(found, words, strict=True)):
        if not MIN_WORDS <= len(sentence.split()) <= MAX_WORDS or not ws:
            continue
        weight = sum((spread[w] - 1) + (KEYWORD_WEIGHT if w in keyed else 0.0) for w in ws)
        score = weight / math.sqrt(len(ws))
        if best is None or score > best[0]:
            best = (score, i)
    return found[best[1]] if best is not None and best[0] > 0 else None
