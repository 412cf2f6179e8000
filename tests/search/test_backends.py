"""The index is derived from the database, so SQLite and PostgreSQL rank identically."""

from pathlib import Path

import pytest

from paperfeed import clock
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.search.embeddings import import_embeddings
from paperfeed.search.engine import SearchRequest, search
from paperfeed.search.index import DIM, SearchIndex
from paperfeed.search.indexing import MODEL_NAME
from paperfeed.search.lexical import Filters
from tests.conftest import FIXED_NOW, make_settings, postgres_database

QUERIES = [
    "speculative decoding",
    "making language model inference cheaper",
    "graph decompositions",
    '"neural networks" -survey',
    "Streinu",
    "black hole thermodynamics",
    "reinforcement learning from human feedback",
]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory, sample_embeddings_file: Path):  # type: ignore[no-untyped-def]
    sites = {}
    for name, url in (
        ("sqlite", f"sqlite:///{tmp_path_factory.mktemp('b') / 'site.sqlite3'}"),
        ("postgresql", postgres_database("paperfeed_test_backends")),
    ):
        db = Database(url)
        db.upgrade()
        settings = make_settings(tmp_path_factory.mktemp(name), url)
        with clock.frozen(FIXED_NOW):
            load_demo(db, settings.tz)
        import_embeddings(db, sample_embeddings_file, DIM, MODEL_NAME)
        index = SearchIndex(tmp_path_factory.mktemp(f"{name}-index"), settings.tz)
        index.sync(db)
        sites[name] = (db, index)
    yield sites
    for db, _ in sites.values():
        db.dispose()


@pytest.mark.parametrize("q", QUERIES)
def test_same_results_in_the_same_order(both, query_embeddings, q: str) -> None:  # type: ignore[no-untyped-def]
    results = {}
    for name, (db, index) in both.items():
        with db.reader() as session:
            for sort in ("relevance", "upvotes"):
                request = SearchRequest(q=q, sort=sort, per_page=30)  # type: ignore[arg-type]
                result = search(session, index, query_embeddings, request)
                results[(name, sort)] = ([h.paper.public_id for h in result.hits], result.total)
            filtered = search(
                session,
                index,
                query_embeddings,
                SearchRequest(q=q, filters=Filters(author="Streinu")),
            )
            results[(name, "filtered")] = [h.paper.public_id for h in filtered.hits]
    for key in ("relevance", "upvotes", "filtered"):
        assert results[("sqlite", key)] == results[("postgresql", key)]
    assert results[("sqlite", "relevance")][0]
