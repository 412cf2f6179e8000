"""Papers with tied scores come back in paper id order: the same after a rebuild, on every
node and on both backends, in every ranking (keywords, meaning, fusion, sorts, similar)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.models import Paper
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import touch_paper, upsert_papers
from paperfeed.search.embeddings import document_text, embed_pending, import_embeddings
from paperfeed.search.engine import QueryEmbeddings, SearchRequest, search, similar
from paperfeed.search.index import DIM, SearchIndex
from paperfeed.search.indexing import MODEL_NAME
from tests.conftest import FIXED_NOW

TITLE = "Sparse attention for long documents"
ABSTRACT = "We let transformers read long documents with sparse attention patterns."
TIED = [f"2611.{n:05d}" for n in range(1, 13)]  # inserted in this order: ascending ids
OTHERS = [
    ("Dense retrieval for open-domain questions", "We retrieve passages with dual encoders."),
    ("Graph colouring on planar maps", "Four colours suffice; we give a faster algorithm."),
    ("Attention is cheap on long sequences", "Linear attention for long sequences."),
]
QUERIES = [
    ("sparse attention long documents", {"mode": "lexical"}),
    ("sparse attention long documents", {"mode": "vector"}),
    ("sparse attention long documents", {}),
    ("sparse attention long documents", {"sort": "upvotes"}),
    ("sparse attention long documents", {"sort": "newest"}),
    (TITLE, {}),  # every tied paper is a known item (its exact title)
]


def add_corpus(db: Database) -> None:
    records = [
        PaperRecord(
            title=TITLE,
            abstract=ABSTRACT,
            arxiv_id=arxiv_id,
            authors=["Ada Lovelace"],
            published_at=FIXED_NOW,
            feed_at=FIXED_NOW,
            upvotes=3,
        )
        for arxiv_id in TIED
    ]
    records += [
        PaperRecord(
            title=title,
            abstract=abstract,
            arxiv_id=f"2611.{100 + n:05d}",
            authors=["Alan Turing"],
            published_at=FIXED_NOW,
            feed_at=FIXED_NOW,
        )
        for n, (title, abstract) in enumerate(OTHERS)
    ]
    with db.transaction() as session:
        upsert_papers(session, records)


def reshuffle(db: Database, encoder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Change every tied paper and re-store its vector in descending id order, so an index
    built now holds them in the opposite order from one built before."""
    with db.transaction() as session:
        papers = session.execute(
            select(Paper).where(Paper.public_id.in_(TIED)).order_by(Paper.id.desc())
        ).scalars()
        for paper in papers:
            touch_paper(session, paper)
    vectors = encoder.encode([document_text(TITLE, ABSTRACT)] * len(TIED))
    path = tmp_path / "reversed.npz"
    np.savez(path, ids=np.array(TIED[::-1]), vectors=vectors, model=MODEL_NAME)
    assert import_embeddings(db, path, DIM, MODEL_NAME).imported == len(TIED)


def orders(db: Database, index: SearchIndex, embed: QueryEmbeddings) -> list[list[str]]:
    found = []
    with db.reader() as session:
        for q, options in QUERIES:
            result = search(session, index, embed, SearchRequest(q=q, per_page=50, **options))
            found.append([hit.paper.public_id for hit in result.hits])
        middle = session.execute(select(Paper).where(Paper.public_id == TIED[5])).scalar_one()
        found.append([p.public_id for p, _ in similar(session, index, middle, k=6)])
    return found


def test_tied_papers_come_in_id_order_after_a_rebuild_and_on_every_node(
    db: Database, settings: Settings, encoder, query_embeddings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    add_corpus(db)
    assert embed_pending(db, encoder).embedded == len(TIED) + len(OTHERS)
    following = SearchIndex(tmp_path / "following", settings.tz)  # a node that follows changes
    following.sync(db)
    before = orders(db, following, query_embeddings)

    reshuffle(db, encoder, tmp_path)
    following.sync(db)
    fresh = SearchIndex(tmp_path / "fresh", settings.tz)  # a node built from scratch now
    fresh.sync(db)
    rebuilt = SearchIndex(tmp_path / "following", settings.tz)
    rebuilt.sync(db, rebuild=True)

    for found in before:
        tied = [pid for pid in found if pid in TIED]
        assert len(tied) >= 6, found
        assert tied == sorted(tied), found  # ties in paper id (= insertion) order
    assert before[-1] == [*TIED[:5], TIED[6]]  # similar papers: the other twins, in order
    for index in (following, fresh, rebuilt):
        assert orders(db, index, query_embeddings) == before


@pytest.mark.parametrize("rows", [7, 13, 1000])
def test_identical_vectors_tie_exactly_whatever_their_rows(rows: int, tmp_path: Path) -> None:
    """A matrix product gives identical rows slightly different results depending on where
    they sit in the matrix; the ranking must not depend on that."""
    from paperfeed.search.vectors import VectorStore

    rng = np.random.default_rng(7)
    twin = rng.standard_normal(DIM).astype(np.float32)
    twin /= np.linalg.norm(twin)
    store = VectorStore(tmp_path, DIM)
    pks = rng.permutation(np.arange(1, rows + 1)).astype(np.int64)
    store.upsert(pks, np.tile(twin, (rows, 1)))
    query = rng.standard_normal(DIM).astype(np.float32)
    for k in (3, rows):
        keys, sims = store.search(query, k)
        assert keys.tolist() == list(range(1, k + 1))
        assert len(set(sims.tolist())) == 1
        allowed = pks[::2]
        keys, _ = store.search(query, k, allowed=allowed)
        assert keys.tolist() == sorted(allowed.tolist())[:k]
