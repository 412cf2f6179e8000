"""How well each candidate paper matches a query, and which candidates match at all.

A paper's score mixes its two kinds of evidence:

    KEYWORD_WEIGHT x (its BM25 / the query's best BM25) + (1 - KEYWORD_WEIGHT) x cosine

Reciprocal-rank fusion, which the engine used before, throws the scores away: the tenth
keyword hit counted the same whether it held every word or one. On the dev half of the
judged queries (bench/search_quality.py) the weighted sum ranked better (nDCG@10 0.809
against 0.795 with the same keyword index), and 0.2 was the best weight of 0.2-0.5.

A paper *matches* (is counted, listed, and reordered by the other sorts) when it
  - holds every word of the query (the keyword index counts those exactly), or
  - is close in meaning: cosine >= MEANING_FLOOR, or
  - is a strong keyword hit, at least STRONG_KEYWORD_SHARE of the best BM25, and at least
    a little related in meaning (cosine >= RELATED_FLOOR).
A query with a word that no paper holds (most often a typo) has only its meaning to go
on, so its meaning floor is TYPO_MEANING_FLOOR. Without the vector half (keyword-only
mode, or a paper not embedded yet) the keyword rules decide alone. The floors were chosen
on the dev half for the best nDCG@10 at which queries with no good answer get few results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from paperfeed.search.ranking import best_first

Mode = Literal["hybrid", "lexical", "vector"]
KEYWORD_WEIGHT = 0.2
MEANING_FLOOR = 0.30
TYPO_MEANING_FLOOR = 0.20
STRONG_KEYWORD_SHARE = 0.5
RELATED_FLOOR = 0.15


@dataclass
class Evidence:
    """One row per candidate paper."""

    pks: np.ndarray  # int64
    keyword: np.ndarray  # BM25 score, 0 for a paper found by meaning alone
    cosine: np.ndarray  # NaN where there is no vector to compare
    every_word: np.ndarray  # bool: holds every word of the query

    @classmethod
    def gather(
        cls,
        keyword: dict[int, float],
        every_word: set[int],
        meaning: list[int],
        cosine_of: dict[int, float],
    ) -> Evidence:
        """The candidates in a stable order: keyword hits, then those found by meaning."""
        pks = list(dict.fromkeys([*keyword, *every_word, *meaning]))
        return cls(
            pks=np.array(pks, dtype=np.int64),
            keyword=np.array([keyword.get(pk, 0.0) for pk in pks], dtype=np.float64),
            cosine=np.array([cosine_of.get(pk, np.nan) for pk in pks], dtype=np.float64),
            every_word=np.array([pk in every_word for pk in pks], dtype=bool),
        )


@dataclass
class Ranked:
    order: list[int]  # the matching candidates, best first (ties by pk)
    scores: dict[int, float]


def rank(evidence: Evidence, mode: Mode, typo: bool = False) -> Ranked:
    """The candidates that match, best first, with their scores."""
    if not len(evidence.pks):
        return Ranked([], {})
    best = float(evidence.keyword.max())
    share = evidence.keyword / best if best > 0 else np.zeros_like(evidence.keyword)
    cosine = evidence.cosine
    known = ~np.isnan(cosine)
    meaning = np.where(known, cosine, 0.0)
    floor = TYPO_MEANING_FLOOR if typo else MEANING_FLOOR
    close = known & (meaning >= floor)
    if mode == "vector":
        scores, matches = meaning, close
    else:
        strong = share >= STRONG_KEYWORD_SHARE
        if mode == "lexical":
            scores, matches = share, evidence.every_word | strong
        else:
            related = ~known | (meaning >= RELATED_FLOOR)
            scores = KEYWORD_WEIGHT * share + (1 - KEYWORD_WEIGHT) * meaning
            matches = evidence.every_word | close | (strong & related)
    pks = evidence.pks[matches]
    kept = scores[matches]
    order = pks[best_first(kept, pks)].tolist()
    return Ranked(order, dict(zip(pks.tolist(), kept.tolist(), strict=True)))


def count(evidence: Evidence, ranked: Ranked, every_word_total: int, mode: Mode) -> int:
    """Papers that match: those of the index holding every word (counted by the keyword
    index, most of them past the candidates) and the other candidates that match."""
    if mode == "vector":
        return len(ranked.order)
    holding = set(evidence.pks[evidence.every_word].tolist())
    return every_word_total + sum(1 for pk in ranked.order if pk not in holding)
