"""Search quality on the sample corpus, measured by bench/search_quality.py in-process.

Hybrid search exists to be better than either of its halves: on the judged queries
(bench/judgments/queries.jsonl, each half on its own) it must have a higher nDCG@10 than
lexical-only and vector-only search and find at least as many of the judged papers in its
first 20, and an exact title must find its paper first. The site is built once for the
module with the quantized model, the one the product uses by default (`embedding_int8`);
the pinned baseline (bench/baseline.py) needs a full-precision model of its own and is
left to the bench and its toy-data tests (tests/test_bench_baseline.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bench import search_quality as quality


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with quality.demo_site(
        tmp_path_factory.mktemp("quality"), quantize=True, with_baseline=False
    ) as built:
        yield built


@pytest.fixture(scope="module")
def labels() -> list[Any]:
    return quality.load_labels()


@pytest.fixture(scope="module")
def splits(site: Any, labels: list[Any]) -> dict[str, dict[str, dict[str, Any]]]:
    return quality.summarize_splits(quality.evaluate(site, labels))


def test_labels_cover_every_query_type_and_match_the_corpus(site: Any, labels: list[Any]) -> None:
    assert len(labels) >= 100
    assert {q.type for q in labels} == set(quality.QUERY_TYPES)
    assert quality.check_labels(site.db, labels) == []


def test_metrics() -> None:
    grades = {"a": 2, "b": 1, "c": 2}
    assert quality.ndcg_at(["a", "c", "b"], grades) == pytest.approx(1.0)
    assert quality.ndcg_at(["x", "y"], grades) == 0.0
    assert 0 < quality.ndcg_at(["b", "a", "c"], grades) < 1
    assert quality.ndcg_at(["x", "a"], {"a": 1}) == pytest.approx(1 / quality.math.log2(3))
    assert quality.recall_at(["a", "x", "b"], grades) == pytest.approx(2 / 3)
    assert quality.recall_at(["x"] * 20 + ["a"], grades) == 0.0


@pytest.mark.parametrize("half", quality.SPLITS)
def test_hybrid_has_the_best_ndcg(splits: dict[str, dict[str, dict[str, Any]]], half: str) -> None:
    summary = splits[half]
    hybrid = summary["hybrid"]["ndcg@10"]
    assert hybrid > summary["lexical"]["ndcg@10"], summary
    assert hybrid > summary["vector"]["ndcg@10"], summary


@pytest.mark.parametrize("half", quality.SPLITS)
def test_hybrid_recall_is_at_least_both(
    splits: dict[str, dict[str, dict[str, Any]]], half: str
) -> None:
    summary = splits[half]
    hybrid = summary["hybrid"]["recall@20"]
    assert hybrid >= summary["lexical"]["recall@20"], summary
    assert hybrid >= summary["vector"]["recall@20"], summary


def test_exact_titles_find_their_paper_first(site: Any) -> None:
    items = quality.known_item(site)
    assert items.checked == 568
    assert items.rate >= quality.KNOWN_ITEM_TARGET, items.failures


# What the dev half reached with the int8 model (bench/search_quality.py --int8 --split dev:
# hybrid nDCG@10 0.817, 0.783 without author queries, no-answer queries 5.8 results on
# average), less a margin for rounding in another build: a ranking change that loses more
# than that fails here, one that gains raises these floors.
DEV_NDCG_FLOOR = 0.80
DEV_NDCG_WITHOUT_AUTHOR_FLOOR = 0.765
DEV_NO_ANSWER_MEAN_RESULTS_CEILING = 12


def test_the_dev_half_keeps_the_level_reached(
    splits: dict[str, dict[str, dict[str, Any]]],
) -> None:
    hybrid = splits["dev"]["hybrid"]
    assert hybrid["ndcg@10"] >= DEV_NDCG_FLOOR, hybrid
    assert hybrid["without_author"]["ndcg@10"] >= DEV_NDCG_WITHOUT_AUTHOR_FLOOR, hybrid
    # Counts are honest: a query with no good answer does not list dozens of weak matches.
    assert hybrid["no_answer"]["mean_results"] <= DEV_NO_ANSWER_MEAN_RESULTS_CEILING, hybrid
