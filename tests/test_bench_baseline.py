"""The pinned search baseline (bench/baseline.py) and the judged-query scoring of
bench/search_quality.py, on toy data: the numbers the search work is judged by must be
computed right.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from bench import baseline
from bench import search_quality as quality


def test_documents_are_the_title_three_times_then_the_abstract_through_paperfeeds_analysis() -> (
    None
):
    tokens = baseline.document_tokens(baseline.paperfeed_tokens(), "Running Models", "Über-fast")
    assert tokens == ["run", "model"] * 3 + ["uber", "fast"]


def test_bm25_matches_a_hand_computation() -> None:
    index = baseline.Bm25([["a", "b"], ["a", "a", "c"], ["c"]])
    # N = 3, average length 2; "a" is in 2 documents.
    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))
    assert index.idf("a") == pytest.approx(idf)
    short = 1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / 2))
    long = 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 3 / 2))
    assert index.scores(["a"]) == pytest.approx([idf * short, idf * long, 0.0])
    # A repeated query term counts once; an unknown one adds nothing.
    assert index.scores(["a", "a", "zzz"]) == pytest.approx(index.scores(["a"]))
    # Only documents with a query term are ranked, best first.
    assert index.top(["a"]) == [1, 0]
    assert index.top(["c", "b"], n=1) == [0]
    assert index.top(["zzz"]) == []


def test_bm25_ties_go_in_document_order() -> None:
    assert baseline.Bm25([["x"], ["y"], ["x"], ["y"]]).top(["y", "x"]) == [0, 1, 2, 3]


def test_rrf_sums_reciprocal_ranks() -> None:
    fused = baseline.rrf([["a", "b", "c"], ["c", "a", "d"]])
    # a: 1/61 + 1/62, c: 1/63 + 1/61, b: 1/62, d: 1/63
    assert fused == ["a", "c", "b", "d"]
    # Only each list's top `depth` count; a tie keeps the order first seen.
    assert baseline.rrf([["a", "b"], ["c", "a"]], depth=1) == ["a", "c"]
    assert baseline.rrf([["b", "a"], ["a", "b"]], k=0) == ["b", "a"]


def test_cosine_top_has_no_floor() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=np.float32)
    assert baseline.cosine_top(vectors, np.array([1.0, 0.0], dtype=np.float32)) == [0, 1, 2]
    assert baseline.cosine_top(vectors, np.array([0.0, 1.0], dtype=np.float32), n=1) == [1]


class LetterCounts:
    """A stand-in for the sentence model: a text's vector counts two letters."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([[t.count("q") + 0.01, t.count("z") + 0.01] for t in texts])


def test_corpus_fuses_bm25_and_vectors_over_the_papers() -> None:
    papers = [
        ("p1", "Quantum queues", "quick"),
        ("p2", "Zebra zones", "lazy"),
        ("p3", "Models", "about quantum zones"),
    ]
    corpus = baseline.build_corpus(papers, LetterCounts())
    rankings = corpus.rankings("quantum")
    # The title counts three times: p1 (title) beats p3 (abstract).
    assert rankings["bm25"] == ["p1", "p3"]
    assert rankings["minilm"] == ["p1", "p3", "p2"]
    assert rankings["baseline"] == ["p1", "p3", "p2"]
    with pytest.raises(ValueError):
        baseline.build_corpus(papers, LetterCounts(), vectors=np.zeros((2, 2)))


def test_the_judged_queries_load_with_their_halves() -> None:
    labels = quality.load_labels()
    assert len(labels) >= 100
    assert {q.type for q in labels} == set(quality.QUERY_TYPES)
    assert len(quality.in_split(labels, "dev")) == len(quality.in_split(labels, "test"))
    assert len(quality.in_split(labels, "both")) == len(labels)
    assert all(not q.grades for q in labels if q.type == quality.NO_ANSWER)
    smoke = quality.smoke_subset(labels)
    assert len(smoke) == 2 * 2 * len(quality.QUERY_TYPES)


def query(qid: str, kind: str, split: str, grades: dict[str, int]) -> quality.LabelledQuery:
    return quality.LabelledQuery(qid, qid, kind, split, grades, dict.fromkeys(grades, "t"))


def test_no_answer_queries_are_scored_by_how_few_results_they_return() -> None:
    topic = query("q1", "topic", "dev", {"a": 2})
    nothing = query("q2", quality.NO_ANSWER, "dev", {})
    other = query("q3", quality.NO_ANSWER, "test", {})
    scores = [
        quality.score(topic, "hybrid", ["x", "a"], 40),
        quality.score(nothing, "hybrid", ["x"], 2),
        quality.score(other, "hybrid", ["x"] * 20, 57),
    ]
    splits = quality.summarize_splits(scores)
    dev = splits["dev"]["hybrid"]
    # nDCG and recall only over the query with an answer.
    assert dev["queries"] == 1
    assert dev["ndcg@10"] == pytest.approx(1 / math.log2(3))
    assert dev["recall@20"] == 1.0
    assert dev["no_answer"] == {"queries": 1, "at_most_3": 1.0, "mean_results": 2.0}
    assert dev["by_type"]["no-answer"]["no_answer"]["at_most_3"] == 1.0
    test = splits["test"]["hybrid"]
    assert test["queries"] == 0
    assert test["no_answer"] == {"queries": 1, "at_most_3": 0.0, "mean_results": 57.0}


def test_the_verdict_judges_the_test_half_against_the_baseline() -> None:
    def row(ndcg: float, recall: float = 0.5) -> dict[str, float]:
        return {"ndcg@10": ndcg, "recall@20": recall}

    items = quality.KnownItem(10, 10, [])
    ahead = {"lexical": row(0.6), "vector": row(0.5), "hybrid": row(0.8), "baseline": row(0.7)}
    close = {**ahead, "baseline": row(0.77)}
    assert quality.verdict({"dev": close, "test": ahead}, items) == []
    assert quality.verdict({"dev": ahead, "test": close}, items) == [
        "test: hybrid nDCG@10 is +0.030 from the baseline (target +0.05)"
    ]
    # With only the dev half run, it is the one judged.
    assert quality.verdict({"dev": close}, items)[0].startswith("dev: ")
    behind = {**ahead, "vector": row(0.9, 0.9)}
    assert quality.verdict({"test": behind}, quality.KnownItem(10, 9, [])) == [
        "test: hybrid nDCG@10 does not beat vector",
        "test: hybrid recall@20 is below vector",
        "known-item first 90.0% < 99%",
    ]
