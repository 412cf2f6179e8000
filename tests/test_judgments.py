"""The judged query set (bench/judgments/queries.jsonl) still names real papers of the demo corpus.

Search is tuned and measured on these judgments, so a wrong id, a stale title or a lopsided
split would silently skew every number. Ids are recomputed here from the data files the demo
loads (local ids from titles, arXiv ids as given), never copied from the judgments file.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from paperfeed.demo import data_file
from paperfeed.ingest.jsonl import clean_text
from paperfeed.papers.ids import local_id_for

ROOT = Path(__file__).resolve().parent.parent
JUDGMENTS = ROOT / "bench" / "judgments" / "queries.jsonl"
TYPES = {"topic", "paraphrase", "question", "author", "acronym", "formula", "typo", "no-answer"}
SPLITS = {"dev", "test"}
KEYS = {"id", "query", "type", "split", "relevant", "titles", "note"}


def corpus() -> dict[str, str]:
    """Paper id -> title, computed the way the demo import names the papers."""
    titles: dict[str, str] = {}
    for line in data_file("sample_papers.jsonl").read_text().splitlines():
        title = clean_text(json.loads(line)["title"])
        titles[local_id_for(title)] = title
    for line in data_file("arxiv_snapshot_sample.jsonl").read_text().splitlines():
        record = json.loads(line)
        titles[record["id"]] = clean_text(record["title"])
    return titles


@pytest.fixture(scope="module")
def papers() -> dict[str, str]:
    return corpus()


@pytest.fixture(scope="module")
def queries() -> list[dict[str, Any]]:
    return [json.loads(line) for line in JUDGMENTS.read_text().splitlines() if line.strip()]


def test_the_corpus_has_every_paper_once(papers: dict[str, str]) -> None:
    assert len(papers) == 568


def test_each_line_has_the_fields_and_nothing_else(queries: list[dict[str, Any]]) -> None:
    for query in queries:
        assert {"id", "query", "type", "split", "relevant", "titles"} <= set(query), query
        assert set(query) <= KEYS, query
        assert query["type"] in TYPES, query["id"]
        assert query["split"] in SPLITS, query["id"]
        assert isinstance(query["query"], str) and query["query"].strip(), query["id"]


def test_ids_and_queries_are_unique(queries: list[dict[str, Any]]) -> None:
    ids = [query["id"] for query in queries]
    assert len(ids) == len(set(ids))
    texts = Counter(" ".join(query["query"].casefold().split()) for query in queries)
    assert [text for text, count in texts.items() if count > 1] == []


def test_every_judged_paper_exists_with_its_title(
    queries: list[dict[str, Any]], papers: dict[str, str]
) -> None:
    for query in queries:
        assert set(query["titles"]) == set(query["relevant"]), query["id"]
        for paper_id, grade in query["relevant"].items():
            assert paper_id in papers, (query["id"], paper_id)
            assert grade in (1, 2) and isinstance(grade, int), (query["id"], paper_id)
            assert query["titles"][paper_id] == papers[paper_id], (query["id"], paper_id)


def test_no_answer_queries_have_no_relevant_paper_and_the_others_do(
    queries: list[dict[str, Any]],
) -> None:
    for query in queries:
        if query["type"] == "no-answer":
            assert query["relevant"] == {}, query["id"]
        else:
            assert query["relevant"], query["id"]


def test_every_type_is_in_both_splits_about_evenly(queries: list[dict[str, Any]]) -> None:
    per_split = Counter(query["split"] for query in queries)
    assert per_split["dev"] >= 60 and per_split["test"] >= 60
    for kind in TYPES:
        counts = Counter(query["split"] for query in queries if query["type"] == kind)
        assert counts["dev"] >= 1 and counts["test"] >= 1, kind
        assert abs(counts["dev"] - counts["test"]) <= 1, kind


def test_both_sub_corpora_are_covered(queries: list[dict[str, Any]]) -> None:
    judged = {paper_id for query in queries for paper_id in query["relevant"]}
    assert any(paper_id.startswith("pf-") for paper_id in judged)
    assert any(not paper_id.startswith("pf-") for paper_id in judged)
