"""A searchable sample corpus per backend: real embeddings (computed once per session and
carried to each database through the precomputed-embeddings import) and a real index."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.models import Paper
from paperfeed.search.embeddings import document_text, import_embeddings
from paperfeed.search.engine import QueryEmbeddings
from paperfeed.search.index import DIM, SearchIndex
from paperfeed.search.indexing import MODEL_NAME
from tests.conftest import FIXED_NOW, built_once, make_settings


@pytest.fixture(scope="session")
def encoder(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from paperfeed.search.embedder import load_embedder

    return load_embedder(quantize=True, cache_dir=tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def query_embeddings(encoder) -> QueryEmbeddings:  # type: ignore[no-untyped-def]
    return QueryEmbeddings(encoder)


@pytest.fixture(scope="session")
def sample_embeddings_file(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """All sample papers embedded once per run (shared by the xdist workers), as the
    documented .npz import format."""

    def build(tmp: Path) -> None:
        encoder = request.getfixturevalue("encoder")  # only the worker that embeds loads it
        db = Database(f"sqlite:///{tmp / 'demo.sqlite3'}")
        db.upgrade()
        with clock.frozen(FIXED_NOW):
            load_demo(db, make_settings(tmp, db.url).tz)
        with db.reader() as session:
            rows = session.execute(
                select(Paper.public_id, Paper.title, Paper.abstract).order_by(Paper.id)
            ).all()
        db.dispose()
        vectors = encoder.encode([document_text(r.title, r.abstract) for r in rows])
        ids = np.array([r.public_id for r in rows])
        np.savez(tmp / "sample_embeddings.npz", ids=ids, vectors=vectors, model=MODEL_NAME)

    return built_once(tmp_path_factory, "embed", build) / "sample_embeddings.npz"


@dataclass
class SearchSite:
    db: Database
    settings: Settings
    index: SearchIndex


@pytest.fixture(scope="session")
def search_site(
    sample_db: Database, sample_embeddings_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SearchSite]:
    stats = import_embeddings(sample_db, sample_embeddings_file, DIM, MODEL_NAME)
    assert stats.imported == 568 and stats.unknown_ids == 0
    tmp = tmp_path_factory.mktemp("search")
    settings = make_settings(tmp, sample_db.url)
    settings.index_dir = tmp / "index"
    index = SearchIndex(settings.index_dir, settings.tz)
    index.sync(sample_db)
    yield SearchSite(sample_db, settings, index)
