"""How well each candidate paper matches a query, and which candidates match at all.

A paper's score mixes its two kinds of evidence:

    KEYWORD_WEIGHT x (its BM25 / the query's best BM25) + (1 - KEYWORD_WEIGHT) x cosine

Reciprocal-rank fusion, which the engine used before, throws the scores away: the tenth
keyword hit counted the same whether it held every word or one. On the dev half of the
judged queries (bench/search_quality.py) the weighted sum ranked better (nDCG@10 0.809
against 0.795 with the same keyword index), and 0.2 was the best weight of 0.2-0.5.

The cosine in that sum is to the query moved toward the best candidate's own vector
(pseudo-relevance feedback: the query plus FEEDBACK_WEIGHT times that vector, normalized),
which reads the query the way the papers it found are written: dev nDCG@10 0.805 -> 0.817,
test 0.837 -> 0.850. It only reorders: whether a paper matches is judged on its cosine to
the query itself, so feedback never adds matches (it doubled the results of queries with
no good answer when it did).

A paper *matches* (is counted, listed, and reordered by the other sorts) when it
  - holds every word of the query (the keyword index counts those exactly), or
  - is close in meaning: cosine >= MEANING_FLOOR, or
  - is a strong keyword hit, at least STRONG_KEYWORD_SHARE of the best BM25, and at least
    a little related in meaning (cosine >= RELATED_FLOOR).
A short query (SHORT_QUERY_WORDS content words or fewer) is close in meaning to more of
its neighbours than a long one, so its meaning floor is SHORT_MEANING_FLOOR. A query with
a word that no paper holds but one nearly spelled so does (a typo) has only its meaning to
go on, so its meaning floor is TYPO_MEANING_FLOOR. Without the vector half (keyword-only
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
SHORT_QUERY_WORDS = 3
SHORT_MEANING_FLOOR = 0.35
TYPO_MEANING_FLOOR = 0.20
STRONG_KEYWORD_SHARE = 0.5
RELATED_FLOOR = 0.15
FEEDBACK_WEIGHT = 1.0


@dataclass
class Evidence:
    """One row per candidate paper."""

    pks: np.ndarray  # int64
    keyword: np.ndarray  # BM25 score, 0 for a paper found by meaning alone
    cosine: np.ndarray  # NaN where there is no vector to compare
    every_word: np.ndarray  # bool: holds every word of the query
    # Cosine to the query after feedback (`feedback_source`), NaN where unknown; None
    # when there was none: scores then use `cosine`.
    feedback: np.ndarray | None = None

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


def first_scores(evidence: Evidence) -> np.ndarray:
    """The weighted sum on the cosine to the query itself."""
    best = float(evidence.keyword.max()) if len(evidence.keyword) else 0.0
    share = evidence.keyword / best if best > 0 else np.zeros_like(evidence.keyword)
    meaning = np.where(np.isnan(evidence.cosine), 0.0, evidence.cosine)
    return KEYWORD_WEIGHT * share + (1 - KEYWORD_WEIGHT) * meaning


def feedback_source(evidence: Evidence) -> int | None:
    """The best candidate with a vector, whose vector the query moves toward."""
    known = ~np.isnan(evidence.cosine)
    if not known.any():
        return None
    pks = evidence.pks[known]
    return int(pks[best_first(first_scores(evidence)[known], pks)[0]])


@dataclass
class Ranked:
    order: list[int]  # the matching candidates, best first (ties by pk)
    scores: dict[int, float]


def meaning_floor(mode: Mode, words: int, typo: bool = False) -> float:
    """The cosine a paper needs to match on meaning alone, for a query of `words` content
    words (`typo`: one of them is in no paper but nearly is). Meaning-only search keeps
    MEANING_FLOOR for short queries: with no keyword evidence beside it, the higher floor
    cost it 0.025 nDCG@10 on the dev half."""
    if typo:
        return TYPO_MEANING_FLOOR
    if mode == "hybrid" and words <= SHORT_QUERY_WORDS:
        return SHORT_MEANING_FLOOR
    return MEANING_FLOOR


def rank(evidence: Evidence, mode: Mode, floor: float = MEANING_FLOOR) -> Ranked:
    """The candidates that match, best first, with their scores; `floor` is the query's
    `meaning_floor`."""
    if not len(evidence.pks):
        return Ranked([], {})
    best = float(evidence.keyword.max())
    share = evidence.keyword / best if best > 0 else np.zeros_like(evidence.keyword)
    cosine = evidence.cosine
    known = ~np.isnan(cosine)
    meaning = np.where(known, cosine, 0.0)
    close = known & (meaning >= floor)
    if mode == "vector":
        scores, matches = meaning, close
    else:
        strong = share >= STRONG_KEYWORD_SHARE
        if mode == "lexical":
            scores, matches = share, evidence.every_word | strong
        else:
            related = ~known | (meaning >= RELATED_FLOOR)
            matches = evidence.every_word | close | (strong & related)
            fed = evidence.feedback
            ranking = meaning if fed is None else np.where(np.isnan(fed), meaning, fed)
            scores = KEYWORD_WEIGHT * share + (1 - KEYWORD_WEIGHT) * np.where(known, ranking, 0.0)
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
