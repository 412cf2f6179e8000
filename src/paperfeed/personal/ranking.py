"""Rank a window of recent papers for one reader, and say why each one is there.

A pure function of the reader's signals and the candidate papers (no database, no state):
`rank(signals, candidates)`. The per-user model is fitted inside the call from the signals
(a few milliseconds), so there is nothing to store or keep in sync between nodes: the
model is derived data, current as soon as a signal is in the database.

The score of a candidate paper is a sum of parts, each standardised over the candidates
(z-scores, so the weights in `Weights` compare like with like):

- similarity to the papers the reader liked (upvoted, saved to a collection, imported
  from a library): the cosine to their weighted mean, plus a per-user linear model on the
  embedding vectors (arxiv-sanity-lite's idea, a ridge classifier here: liked papers
  against "not interested" ones and a sample of the window as unlabelled background) once
  there are `min_model_positives` liked papers; the sum is standardised again, so the
  other weights mean the same with or without the model;
- minus the highest cosine to a paper marked "not interested";
- boosts for a followed author, organization or category;
- popularity (log of the trending score), times the reader's popularity weight.

Hidden authors and categories, papers already seen and the signal papers themselves are
left out. With no personal signal at all (a new reader, or every kind switched off), the
order is the popularity order. Ties go to the more popular paper, then the lower id, so
the same input always gives the same order.

The weights were chosen by measurement: `bench/for_you.py`, table in docs/for-you.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

# Signal kinds, each of which a reader can switch off.
UPVOTE = "upvote"
SAVED = "saved"  # in one of the reader's collections
LIBRARY = "library"  # imported from a reference manager
NOT_INTERESTED = "not_interested"
AUTHOR = "author"  # followed authors
ORGANIZATION = "organization"  # followed organizations
CATEGORY = "category"  # followed categories
POSITIVE_KINDS = (UPVOTE, SAVED, LIBRARY)
SIGNAL_KINDS = (*POSITIVE_KINDS, NOT_INTERESTED, AUTHOR, ORGANIZATION, CATEGORY)

# Explanation kinds besides the follow kinds above.
SIMILAR = "similar"  # "like <paper you saved>"
POPULAR = "popular"  # "popular this week"


@dataclass(frozen=True)
class Weights:
    """How much each part of the score counts (in standard deviations over the window)."""

    nearest: float = 0.0  # highest cosine to any liked paper (measured: no gain, 25k x m)
    centroid: float = 1.0  # cosine to the weighted mean of the liked papers
    model: float = 1.0  # the per-user linear model
    negative: float = 0.3  # highest cosine to a "not interested" paper (subtracted)
    author: float = 3.0  # a followed author is on the paper
    organization: float = 0.3  # the paper's organization is followed
    category: float = 0.5  # one of the paper's categories is followed
    min_model_positives: int = 5  # liked papers before the linear model is fitted
    ridge: float = 100.0  # L2 penalty of the linear model
    background: int = 512  # window papers sampled as the model's unlabelled background
    max_nearest: int = 64  # liked papers (the heaviest, then the newest) for the nearest part


DEFAULT_WEIGHTS = Weights()
DEFAULT_POPULARITY_WEIGHT = 1.5
# How much each kind of liked paper counts by default (a caller may pass its own weights).
KIND_WEIGHTS: Mapping[str, float] = {UPVOTE: 1.0, SAVED: 1.5, LIBRARY: 1.0, NOT_INTERESTED: 1.0}
# A paper is "popular" (and says so) when its popularity is this many deviations above
# the window's mean and popularity counts.
POPULAR_Z = 1.0


@dataclass(frozen=True)
class PaperSignal:
    """One paper the reader liked or rejected, with its embedding vector."""

    paper_id: int
    kind: str  # UPVOTE, SAVED, LIBRARY or NOT_INTERESTED
    vector: np.ndarray
    weight: float = 1.0


@dataclass(frozen=True)
class Signals:
    """Everything known about one reader's taste, and which of it they want counted."""

    positives: Sequence[PaperSignal] = ()
    negatives: Sequence[PaperSignal] = ()
    followed_authors: frozenset[str] = frozenset()
    followed_organizations: frozenset[str] = frozenset()
    followed_categories: frozenset[str] = frozenset()
    hidden_authors: frozenset[str] = frozenset()
    hidden_categories: frozenset[str] = frozenset()
    seen: frozenset[int] = frozenset()  # paper ids marked as seen: left out
    popularity_weight: float = DEFAULT_POPULARITY_WEIGHT
    enabled: frozenset[str] = frozenset(SIGNAL_KINDS)


@dataclass(frozen=True)
class Reason:
    """One piece of evidence for a recommendation.

    kind is SIMILAR (value: the liked paper's id, signal_kind: how it was liked), AUTHOR,
    ORGANIZATION, CATEGORY (value: the followed name) or POPULAR (value: "").
    weight: what this evidence added to the paper's score, for ordering reasons.
    """

    kind: str
    value: str | int
    weight: float
    signal_kind: str = ""
    similarity: float = 0.0  # SIMILAR only: the cosine to the liked paper


@dataclass(frozen=True)
class Ranked:
    """The top papers, best first, with their scores and reasons (non-empty for each)."""

    ids: np.ndarray
    scores: np.ndarray
    reasons: list[list[Reason]]
    personal: bool  # False: no personal signal counted, this is the popularity order


def _index(values: Iterable[Iterable[str]]) -> dict[str, np.ndarray]:
    positions: dict[str, list[int]] = {}
    for i, names in enumerate(values):
        for name in dict.fromkeys(names):
            positions.setdefault(name, []).append(i)
    return {name: np.asarray(found, dtype=np.int64) for name, found in positions.items()}


def _standard(x: np.ndarray) -> np.ndarray:
    std = float(x.std())
    if not math.isfinite(std) or std < 1e-9:
        return np.zeros_like(x)
    return (x - float(x.mean())) / std


@dataclass
class Candidates:
    """The papers of a window, as every reader's ranking reads them.

    Built once per window and shared by all readers: the lookups (who wrote what, which
    papers are in which category) are built on first use and kept.
    """

    ids: np.ndarray  # paper ids, int64
    vectors: np.ndarray  # (n, d) unit rows
    authors: Sequence[Sequence[str]]
    categories: Sequence[Sequence[str]]
    organizations: Sequence[str | None]
    popularity: np.ndarray  # e.g. the trending score; >= 0
    _cache: dict[str, object] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids, dtype=np.int64)
        self.vectors = np.ascontiguousarray(self.vectors, dtype=np.float32)
        self.popularity = np.asarray(self.popularity, dtype=np.float64)
        n = len(self.ids)
        if self.vectors.ndim != 2 or self.vectors.shape[0] != n:
            raise ValueError(f"vectors must be ({n}, d), got {self.vectors.shape}")
        for name in ("authors", "categories", "organizations", "popularity"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} must have one entry per paper ({n})")

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def by_author(self) -> dict[str, np.ndarray]:
        return _index(self.authors)

    @cached_property
    def by_category(self) -> dict[str, np.ndarray]:
        return _index(self.categories)

    @cached_property
    def by_organization(self) -> dict[str, np.ndarray]:
        return _index([org] if org else [] for org in self.organizations)

    @cached_property
    def position(self) -> dict[int, int]:
        return {int(pid): i for i, pid in enumerate(self.ids)}

    @cached_property
    def popularity_z(self) -> np.ndarray:
        return _standard(np.log1p(np.maximum(self.popularity, 0.0))).astype(np.float32)


def _matches(index: Mapping[str, np.ndarray], names: Iterable[str], n: int) -> np.ndarray:
    """Per candidate, the number of these names it matches."""
    count = np.zeros(n, dtype=np.float32)
    for name in names:
        found = index.get(name)
        if found is not None:
            count[found] += 1
    return count


def _stack(signals: Sequence[PaperSignal]) -> tuple[np.ndarray, np.ndarray]:
    """The signals' unit vectors (float32 rows) and weights."""
    raw = np.stack([np.asarray(s.vector, dtype=np.float32) for s in signals])
    norms = np.linalg.norm(raw, axis=1, keepdims=True)
    unit = (raw / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
    weights = np.asarray([s.weight for s in signals], dtype=np.float64)
    return unit, weights


def linear_model(
    positives: np.ndarray,
    positive_weights: np.ndarray,
    negatives: np.ndarray,
    background: np.ndarray,
    ridge: float,
) -> np.ndarray:
    """A ridge classifier: liked (+1) against rejected and background (-1) papers.

    Class-balanced: the liked papers weigh as much together as the background does, and a
    rejected paper as much as a liked one. Returns (d + 1,) weights, the bias last.
    """
    m = len(positives)
    rows = np.concatenate([positives, negatives, background]).astype(np.float32)
    y = np.concatenate([np.ones(m), -np.ones(len(negatives) + len(background))])
    c = np.concatenate(
        [
            positive_weights / positive_weights.sum(),
            np.full(len(negatives), 1.0 / m),
            np.full(len(background), 1.0 / max(len(background), 1)),
        ]
    )
    # The normal equations with a bias column, the Gram matrix in float32 (the costly part).
    weighted = rows * c[:, None].astype(np.float32)
    d = rows.shape[1]
    gram = np.empty((d + 1, d + 1))
    gram[:d, :d] = weighted.T @ rows
    gram[:d, d] = gram[d, :d] = weighted.sum(axis=0)
    gram[d, d] = c.sum()
    gram[np.diag_indices_from(gram)] += ridge / len(rows)
    rhs = np.append(weighted.T.astype(np.float64) @ y, c @ y)
    return np.linalg.solve(gram, rhs)


def _heaviest(signals: Sequence[PaperSignal], limit: int) -> list[PaperSignal]:
    """The `limit` heaviest signals, the later ones first among equals (callers pass them
    oldest first)."""
    order = sorted(range(len(signals)), key=lambda i: (-signals[i].weight, -i))[:limit]
    return [signals[i] for i in sorted(order)]


def rank(
    signals: Signals,
    candidates: Candidates,
    limit: int = 100,
    weights: Weights = DEFAULT_WEIGHTS,
) -> Ranked:
    """The `limit` best candidates for this reader, best first, each with its reasons."""
    n = len(candidates)
    enabled = signals.enabled
    positives = [s for s in signals.positives if s.kind in enabled]
    negatives = list(signals.negatives) if NOT_INTERESTED in enabled else []
    follows = {
        AUTHOR: signals.followed_authors if AUTHOR in enabled else frozenset(),
        ORGANIZATION: signals.followed_organizations if ORGANIZATION in enabled else frozenset(),
        CATEGORY: signals.followed_categories if CATEGORY in enabled else frozenset(),
    }
    indexes = {
        AUTHOR: candidates.by_author,
        ORGANIZATION: candidates.by_organization,
        CATEGORY: candidates.by_category,
    }
    boosts = {
        AUTHOR: weights.author,
        ORGANIZATION: weights.organization,
        CATEGORY: weights.category,
    }

    # Who is left out: hidden authors and categories, seen papers, the signal papers.
    keep = np.ones(n, dtype=bool)
    keep[_matches(candidates.by_author, signals.hidden_authors, n) > 0] = False
    keep[_matches(candidates.by_category, signals.hidden_categories, n) > 0] = False
    excluded = set(signals.seen) | {s.paper_id for s in signals.positives}
    excluded |= {s.paper_id for s in signals.negatives}
    position = candidates.position
    gone = [position[pid] for pid in excluded if pid in position]
    keep[gone] = False

    score = np.zeros(n, dtype=np.float32)
    similar = np.zeros(n, dtype=np.float32)  # the part the liked papers give, for reasons
    personal = False
    vectors = candidates.vectors
    # One pass over the window's vectors for every direction a part needs.
    directions: list[np.ndarray] = []
    if positives:
        personal = True
        liked, liked_weights = _stack(positives)
        directions.append((liked_weights[:, None] * liked).sum(axis=0))
        if len(positives) >= weights.min_model_positives and weights.model:
            rejected = _stack(negatives)[0] if negatives else np.empty((0, vectors.shape[1]))
            kept = np.flatnonzero(keep)  # the background: kept papers, evenly spread
            picks = np.linspace(0, len(kept) - 1, min(len(kept), weights.background))
            sample = kept[np.unique(picks.astype(np.int64))]
            coef = linear_model(liked, liked_weights, rejected, vectors[sample], weights.ridge)
            directions.append(coef[:-1])
    if negatives:
        personal = True
        directions.extend(_stack(negatives)[0])
    projected = (
        vectors @ np.stack(directions).astype(np.float32).T
        if directions
        else np.empty((n, 0), dtype=np.float32)
    )
    if positives:
        similar += weights.centroid * _standard(projected[:, 0])
        if weights.nearest:
            nearest, _ = _stack(_heaviest(positives, weights.max_nearest))
            similar += weights.nearest * _standard((vectors @ nearest.T).max(axis=1))
        if len(positives) >= weights.min_model_positives and weights.model:
            similar += weights.model * _standard(projected[:, 1])
        similar = _standard(similar)
        score += similar
    if negatives:
        score -= weights.negative * _standard(projected[:, -len(negatives) :].max(axis=1))
    matched: dict[str, np.ndarray] = {}
    for kind, names in follows.items():
        if names:
            personal = True
            matched[kind] = _matches(indexes[kind], names, n)
            score += boosts[kind] * np.minimum(matched[kind], 1.0)

    popularity = candidates.popularity_z
    popularity_weight = signals.popularity_weight if personal else 1.0
    if not personal:
        score = popularity.copy()
    elif popularity_weight:
        score += popularity_weight * popularity

    order = _best(score, keep, candidates, limit)
    reasons = _reasons(order, candidates, positives, follows, boosts, similar, popularity_weight)
    return Ranked(candidates.ids[order], score[order], reasons, personal)


def _best(score: np.ndarray, keep: np.ndarray, candidates: Candidates, limit: int) -> np.ndarray:
    """Positions of the `limit` best kept papers: by score, then popularity, then lower id.

    Only the papers scoring at least the `limit`-th best score are sorted (ties included).
    """
    if limit <= 0:
        return np.empty(0, dtype=np.int64)
    kept = np.flatnonzero(keep)
    if limit < len(kept):
        kth = -np.partition(-score[kept], limit - 1)[limit - 1]
        kept = kept[score[kept] >= kth]
    order = np.lexsort((candidates.ids[kept], -candidates.popularity[kept], -score[kept]))
    return kept[order][:limit]


def _reasons(
    order: np.ndarray,
    candidates: Candidates,
    positives: Sequence[PaperSignal],
    follows: Mapping[str, frozenset[str]],
    boosts: Mapping[str, float],
    similar: np.ndarray,
    popularity_weight: float,
) -> list[list[Reason]]:
    """Why each ranked paper is there, strongest first; never empty."""
    nearest_ids: list[int] = []
    nearest_cos: list[float] = []
    nearest_kind: list[str] = []
    if positives and len(order):
        liked, _ = _stack(positives)
        cosines = candidates.vectors[order] @ liked.T
        best = cosines.argmax(axis=1)
        nearest_ids = [positives[j].paper_id for j in best]
        nearest_kind = [positives[j].kind for j in best]
        nearest_cos = [float(cosines[i, j]) for i, j in enumerate(best)]
    popularity = candidates.popularity_z
    out: list[list[Reason]] = []
    for rank_i, pos in enumerate(order):
        found: list[Reason] = []
        if nearest_ids and similar[pos] > 0:
            found.append(
                Reason(
                    SIMILAR,
                    nearest_ids[rank_i],
                    float(similar[pos]),
                    nearest_kind[rank_i],
                    nearest_cos[rank_i],
                )
            )
        for kind, names in follows.items():
            if not names:
                continue
            paper_names: Sequence[str]
            if kind == AUTHOR:
                paper_names = candidates.authors[pos]
            elif kind == CATEGORY:
                paper_names = candidates.categories[pos]
            else:
                org = candidates.organizations[pos]
                paper_names = [org] if org else []
            for name in dict.fromkeys(paper_names):
                if name in names:
                    found.append(Reason(kind, name, boosts[kind]))
        pop = float(popularity[pos]) * popularity_weight
        if pop > 0 and (popularity[pos] >= POPULAR_Z or not found):
            found.append(Reason(POPULAR, "", pop))
        if not found:
            # Nothing stood out: name the closest liked paper, or popularity as it is.
            if nearest_ids:
                found.append(
                    Reason(
                        SIMILAR,
                        nearest_ids[rank_i],
                        float(similar[pos]),
                        nearest_kind[rank_i],
                        nearest_cos[rank_i],
                    )
                )
            else:
                found.append(Reason(POPULAR, "", pop))
        found.sort(key=lambda r: -r.weight)
        out.append(found)
    return out
