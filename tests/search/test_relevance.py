import numpy as np
import pytest

from paperfeed.search import relevance
from paperfeed.search.relevance import Evidence, count, rank


def evidence(rows: list[tuple[int, float, float, bool]]) -> Evidence:
    """(pk, BM25, cosine or NaN, holds every word) per candidate."""
    return Evidence(
        pks=np.array([r[0] for r in rows], dtype=np.int64),
        keyword=np.array([r[1] for r in rows]),
        cosine=np.array([r[2] for r in rows]),
        every_word=np.array([r[3] for r in rows], dtype=bool),
    )


ROWS = [
    (1, 10.0, 0.50, True),  # holds every word, close in meaning
    (2, 9.0, 0.05, True),  # holds every word, unrelated in meaning: still a match
    (3, 6.0, 0.20, False),  # a strong keyword hit, a little related
    (4, 6.0, 0.10, False),  # a strong keyword hit, unrelated
    (5, 2.0, 0.20, False),  # a weak keyword hit
    (6, 0.0, 0.45, False),  # found by meaning alone
    (7, 0.0, 0.25, False),  # meaning alone, below the floor
]


def test_hybrid_matches_every_word_holders_close_papers_and_strong_related_hits() -> None:
    ranked = rank(evidence(ROWS), "hybrid")
    assert sorted(ranked.order) == [1, 2, 3, 6]
    # 0.2 x BM25 share + 0.8 x cosine
    assert ranked.scores[1] == pytest.approx(0.2 + 0.8 * 0.50)
    assert ranked.scores[6] == pytest.approx(0.8 * 0.45)
    assert ranked.order == [1, 6, 3, 2]


def test_the_weights_follow_the_scores_not_the_ranks() -> None:
    """A meaning-only paper beats a keyword hit that barely matches; RRF ranked them the
    other way round whenever the hit was high in its own list."""
    rows = [(1, 10.0, 0.31, True), (2, 0.0, 0.60, False)]
    assert rank(evidence(rows), "hybrid").order == [2, 1]


def test_a_word_no_paper_holds_lowers_the_meaning_floor() -> None:
    assert 7 not in rank(evidence(ROWS), "hybrid").order
    assert (
        7 in rank(evidence(ROWS), "hybrid", relevance.meaning_floor("hybrid", 5, typo=True)).order
    )


def test_short_queries_need_a_closer_meaning() -> None:
    short, long = relevance.meaning_floor("hybrid", 2), relevance.meaning_floor("hybrid", 6)
    assert short > long == relevance.MEANING_FLOOR
    assert relevance.meaning_floor("vector", 2) == relevance.MEANING_FLOOR
    rows = [(1, 0.0, (short + long) / 2, False)]
    assert rank(evidence(rows), "hybrid", long).order == [1]
    assert rank(evidence(rows), "hybrid", short).order == []


def test_keyword_only_mode_ranks_by_bm25_and_keeps_holders_and_strong_hits() -> None:
    ranked = rank(evidence(ROWS), "lexical")
    assert ranked.order == [1, 2, 3, 4]


def test_meaning_only_mode_ranks_by_cosine_above_the_floor() -> None:
    ranked = rank(evidence(ROWS), "vector")
    assert ranked.order == [1, 6]


def test_a_paper_without_a_vector_is_judged_by_its_words() -> None:
    rows = [(1, 10.0, 0.5, True), (2, 8.0, float("nan"), False), (3, 2.0, float("nan"), False)]
    ranked = rank(evidence(rows), "hybrid")
    assert ranked.order == [1, 2]
    assert ranked.scores[2] == pytest.approx(0.2 * 0.8)


def test_equal_scores_go_in_pk_order() -> None:
    rows = [(9, 5.0, 0.4, True), (3, 5.0, 0.4, True), (5, 5.0, 0.4, True)]
    assert rank(evidence(rows), "hybrid").order == [3, 5, 9]


def test_the_count_adds_every_word_holders_past_the_candidates() -> None:
    found = evidence(ROWS)
    ranked = rank(found, "hybrid")
    # 1000 papers of the index hold every word (1 and 2 among them); 3 and 6 match too.
    assert count(found, ranked, 1000, "hybrid") == 1002
    assert count(found, rank(found, "vector"), 1000, "vector") == 2


def test_no_candidates() -> None:
    empty = evidence([])
    assert (
        rank(empty, "hybrid").order == [] and count(empty, rank(empty, "hybrid"), 0, "hybrid") == 0
    )


def test_the_floors_are_ordered() -> None:
    floors = [relevance.RELATED_FLOOR, relevance.TYPO_MEANING_FLOOR, relevance.MEANING_FLOOR]
    assert floors == sorted(floors) and relevance.MEANING_FLOOR <= relevance.SHORT_MEANING_FLOOR


def test_feedback_reorders_the_matches_but_never_adds_one() -> None:
    found = evidence(ROWS)
    before = rank(found, "hybrid")
    # Cosines to the moved query: paper 3 now reads as the closest, 7 too (still no match).
    found.feedback = np.array([0.40, 0.05, 0.90, 0.10, 0.20, 0.45, 0.95])
    after = rank(found, "hybrid")
    assert set(after.order) == set(before.order) and 7 not in after.order
    assert after.order[0] == 3
    assert after.scores[3] == pytest.approx(0.2 * 0.6 + 0.8 * 0.90)


def test_feedback_comes_from_the_best_candidate_with_a_vector() -> None:
    rows = [(1, 10.0, float("nan"), True), (2, 5.0, 0.5, True), (3, 0.0, 0.6, False)]
    # First scores: 1 -> 0.2 (no vector), 2 -> 0.1 + 0.4, 3 -> 0.48.
    assert relevance.feedback_source(evidence(rows)) == 2
    assert relevance.feedback_source(evidence([(1, 1.0, float("nan"), True)])) is None
