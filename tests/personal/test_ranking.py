"""The "For you" ranking: order, evidence, and what each signal and control does."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from paperfeed.personal import ranking
from paperfeed.personal.ranking import (
    AUTHOR,
    CATEGORY,
    NOT_INTERESTED,
    ORGANIZATION,
    POPULAR,
    SAVED,
    SIMILAR,
    UPVOTE,
    Candidates,
    PaperSignal,
    Signals,
    linear_model,
    rank,
)

DIM = 16


def axis(i: int, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """A unit vector near the i-th axis (topic i)."""
    v = np.zeros(DIM, dtype=np.float32)
    v[i] = 1.0
    if noise:
        v += noise * np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def window(papers: list[dict]) -> Candidates:
    """Candidates from dicts: id, topic (or vector), authors, categories, org, popularity."""
    return Candidates(
        ids=np.array([p["id"] for p in papers]),
        vectors=np.stack([p.get("vector", axis(p.get("topic", 0))) for p in papers]),
        authors=[p.get("authors", []) for p in papers],
        categories=[p.get("categories", []) for p in papers],
        organizations=[p.get("org") for p in papers],
        popularity=np.array([float(p.get("pop", 0)) for p in papers]),
    )


def liked(paper_id: int, topic: int, kind: str = UPVOTE, seed: int = 0) -> PaperSignal:
    return PaperSignal(paper_id, kind, axis(topic, 0.1, seed), ranking.KIND_WEIGHTS[kind])


# A window of 40 papers over 8 topics: topic = id % 8, popularity rising with the id,
# authors and categories by topic.
WINDOW = [
    {
        "id": i,
        "vector": axis(i % 8, 0.05, seed=i),
        "authors": [f"Author {i % 8}", f"Student {i}"],
        "categories": [f"cat.{i % 8}"],
        "org": f"Org {i % 4}",
        "pop": i,
    }
    for i in range(1, 41)
]


def positions(result: ranking.Ranked) -> dict[int, int]:
    return {int(pid): r for r, pid in enumerate(result.ids)}


def test_empty_signals_give_the_popularity_order_ties_by_id() -> None:
    papers = [{"id": i, "topic": i % 3, "pop": [5, 9, 9, 1][i % 4]} for i in range(1, 13)]
    result = rank(Signals(), window(papers))
    expected = sorted(range(1, 13), key=lambda i: (-[5, 9, 9, 1][i % 4], i))
    assert result.ids.tolist() == expected
    assert not result.personal
    # A new reader's feed says why: popularity, and nothing it does not know.
    assert all(reasons and reasons[0].kind == POPULAR for reasons in result.reasons)
    # The same with every signal kind switched off, whatever the popularity weight.
    off = Signals(
        positives=[liked(100, 0)],
        followed_authors=frozenset({"Author 1"}),
        enabled=frozenset(),
        popularity_weight=0.0,
    )
    assert rank(off, window(papers)).ids.tolist() == expected


def test_the_same_input_gives_the_same_order_and_scores() -> None:
    signals = Signals(
        positives=[liked(100 + k, k % 3, seed=k) for k in range(8)],
        negatives=[PaperSignal(200, NOT_INTERESTED, axis(5))],
        followed_categories=frozenset({"cat.2"}),
    )
    first = rank(signals, window(WINDOW), limit=40)
    second = rank(signals, window(WINDOW), limit=40)
    assert first.ids.tolist() == second.ids.tolist()
    assert np.array_equal(first.scores, second.scores)
    assert first.reasons == second.reasons


def test_equal_scores_go_to_the_more_popular_then_the_lower_id() -> None:
    papers = [
        {"id": 7, "topic": 1, "pop": 3},
        {"id": 3, "topic": 1, "pop": 3},
        {"id": 5, "topic": 1, "pop": 8},
        {"id": 9, "topic": 2, "pop": 0},
    ]
    signals = Signals(positives=[liked(100, 1)], popularity_weight=0.0)
    assert rank(signals, window(papers)).ids.tolist() == [5, 3, 7, 9]


def test_liked_papers_bring_their_topic_up_and_name_the_closest_one() -> None:
    signals = Signals(
        positives=[liked(100, 3, SAVED), liked(101, 6, UPVOTE, seed=1)], popularity_weight=0.0
    )
    result = rank(signals, window(WINDOW), limit=10)
    topics = {int(pid) % 8 for pid in result.ids}
    assert topics == {3, 6}, "the ten best are the two liked topics' ten papers"
    for pid, reasons in zip(result.ids, result.reasons, strict=True):
        similar = [r for r in reasons if r.kind == SIMILAR]
        assert len(similar) == 1
        expected = (100, SAVED) if pid % 8 == 3 else (101, UPVOTE)
        assert (similar[0].value, similar[0].signal_kind) == expected
        assert similar[0].similarity > 0.8


def test_follows_are_named_as_the_evidence() -> None:
    signals = Signals(
        followed_authors=frozenset({"Author 2"}),
        followed_categories=frozenset({"cat.5"}),
        followed_organizations=frozenset({"Org 3"}),
        popularity_weight=0.0,
    )
    result = rank(signals, window(WINDOW), limit=40)
    assert result.personal
    by_id = dict(zip(result.ids.tolist(), result.reasons, strict=True))
    assert [(r.kind, r.value) for r in by_id[10]] == [(AUTHOR, "Author 2")]
    assert [(r.kind, r.value) for r in by_id[13]] == [(CATEGORY, "cat.5")]
    assert [(r.kind, r.value) for r in by_id[11]] == [(ORGANIZATION, "Org 3")]
    # Authors count most: every paper of the followed author comes first.
    assert {int(pid) % 8 for pid in result.ids[:5]} == {2}


def test_popular_papers_say_so_when_popularity_counts() -> None:
    papers = [{"id": i, "topic": 0, "pop": 1} for i in range(1, 20)]
    papers.append({"id": 50, "topic": 0, "pop": 1000})
    signals = Signals(positives=[liked(100, 0)], popularity_weight=1.0)
    result = rank(signals, window(papers))
    assert result.ids[0] == 50
    assert POPULAR in {r.kind for r in result.reasons[0]}
    muted = rank(replace(signals, popularity_weight=0.0), window(papers))
    assert POPULAR not in {r.kind for reasons in muted.reasons for r in reasons}


def test_every_recommendation_has_a_reason() -> None:
    signals = Signals(positives=[liked(100, 0)], followed_categories=frozenset({"cat.1"}))
    result = rank(signals, window(WINDOW), limit=40)
    assert len(result.ids) == 40
    assert all(result.reasons)


def test_not_interested_pushes_similar_papers_down() -> None:
    base = Signals(positives=[liked(100, 1), liked(101, 4, seed=1)], popularity_weight=0.0)
    before = positions(rank(base, window(WINDOW), limit=40))
    rejected = replace(base, negatives=[PaperSignal(300, NOT_INTERESTED, axis(4))])
    after = positions(rank(rejected, window(WINDOW), limit=40))
    topic4 = [pid for pid in before if pid % 8 == 4]
    assert all(after[pid] >= before[pid] for pid in topic4)
    assert sum(after[pid] for pid in topic4) > sum(before[pid] for pid in topic4)
    strong = replace(ranking.DEFAULT_WEIGHTS, negative=3.0)
    after = positions(rank(rejected, window(WINDOW), limit=40, weights=strong))
    assert max(after[pid] for pid in before if pid % 8 == 1) < min(after[pid] for pid in topic4)


def test_not_interested_also_teaches_the_linear_model() -> None:
    """With enough liked papers the model is fitted; a rejected paper is a negative in it."""
    positives = [liked(100 + k, k % 2, seed=k) for k in range(6)]  # topics 0 and 1
    near = axis(1, 0.0)
    near[0] = 0.9  # between topics 0 and 1
    papers = [*WINDOW, {"id": 99, "vector": near / np.linalg.norm(near), "pop": 0}]
    # Only the model can react to the rejected paper.
    no_negative = replace(ranking.DEFAULT_WEIGHTS, negative=0.0, centroid=0.0)
    signals = Signals(positives=positives, popularity_weight=0.0)
    before = positions(rank(signals, window(papers), limit=50, weights=no_negative))
    rejected = replace(signals, negatives=[PaperSignal(300, NOT_INTERESTED, axis(1))])
    after = positions(rank(rejected, window(papers), limit=50, weights=no_negative))
    assert after[99] > before[99]


def test_disabled_signal_kinds_are_ignored() -> None:
    full = Signals(
        positives=[liked(100, 1, UPVOTE), liked(101, 5, SAVED, seed=1)],
        negatives=[PaperSignal(300, NOT_INTERESTED, axis(1))],
        followed_authors=frozenset({"Author 3"}),
        followed_categories=frozenset({"cat.6"}),
    )
    candidates = window(WINDOW)
    all_kinds = frozenset(ranking.SIGNAL_KINDS)
    cases = {
        UPVOTE: replace(full, positives=[liked(101, 5, SAVED, seed=1)]),
        NOT_INTERESTED: replace(full, negatives=[]),
        AUTHOR: replace(full, followed_authors=frozenset()),
        CATEGORY: replace(full, followed_categories=frozenset()),
    }
    for kind, without in cases.items():
        off = rank(replace(full, enabled=all_kinds - {kind}), candidates, limit=40)
        expected = rank(without, candidates, limit=40)
        assert off.ids.tolist() == expected.ids.tolist(), kind
        assert off.reasons == expected.reasons, kind
    # A switched-off kind is never given as a reason either.
    off = rank(replace(full, enabled=all_kinds - {AUTHOR}), candidates, limit=40)
    assert AUTHOR not in {r.kind for reasons in off.reasons for r in reasons}


def test_the_popularity_weight_moves_popular_papers_up() -> None:
    signals = Signals(positives=[liked(100, 2)], popularity_weight=0.0)
    candidates = window(WINDOW)
    ranks = [
        positions(rank(replace(signals, popularity_weight=w), candidates, limit=40))
        for w in (0.0, 1.0, 100.0)
    ]
    popular_other_topic = 39  # topic 7, the second most popular paper
    assert ranks[0][popular_other_topic] > ranks[1][popular_other_topic] > 0
    assert ranks[2][40] == 0 and ranks[2][39] == 1, "a high weight is the popularity order"
    liked_topic = [pid for pid in ranks[0] if pid % 8 == 2]
    assert sorted(ranks[0][pid] for pid in liked_topic) == list(range(5))


def test_hidden_seen_and_signal_papers_are_left_out() -> None:
    signals = Signals(
        positives=[PaperSignal(4, UPVOTE, axis(4))],
        negatives=[PaperSignal(6, NOT_INTERESTED, axis(6))],
        hidden_authors=frozenset({"Author 1"}),
        hidden_categories=frozenset({"cat.2"}),
        seen=frozenset({12, 20}),
    )
    result = rank(signals, window(WINDOW), limit=40)
    left = set(result.ids.tolist())
    assert left.isdisjoint({4, 6, 12, 20})
    assert not any(pid % 8 in (1, 2) for pid in left)
    assert len(left) == 40 - 5 - 5 - 4  # topic 1, topic 2, ids 4, 6, 12, 20


def test_limit_cuts_the_list_but_not_the_order() -> None:
    signals = Signals(positives=[liked(100, 3)], followed_categories=frozenset({"cat.1"}))
    candidates = window(WINDOW)
    full = rank(signals, candidates, limit=40)
    assert rank(signals, candidates, limit=7).ids.tolist() == full.ids[:7].tolist()
    assert len(rank(signals, candidates, limit=0).ids) == 0


def test_the_linear_model_separates_liked_papers_from_the_background() -> None:
    rng = np.random.default_rng(1)
    positives = np.stack([axis(0, 0.3, seed=k) for k in range(10)])
    background = rng.standard_normal((200, DIM)).astype(np.float32)
    background /= np.linalg.norm(background, axis=1, keepdims=True)
    coef = linear_model(positives, np.ones(10), np.empty((0, DIM)), background, ridge=1.0)
    scores = np.concatenate([positives, background]) @ coef[:-1] + coef[-1]
    assert scores[:10].min() > np.median(scores[10:])


def test_candidates_must_have_one_entry_per_paper() -> None:
    with pytest.raises(ValueError, match="authors"):
        Candidates(
            ids=np.array([1, 2]),
            vectors=np.stack([axis(0), axis(1)]),
            authors=[[]],
            categories=[[], []],
            organizations=[None, None],
            popularity=np.zeros(2),
        )
