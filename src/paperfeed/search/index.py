"""The local search index: a lexical index and a vector index derived from the database.

It follows two sequences: `papers.change_seq` (text, authors, filters) and
`paper_embeddings.seq` (vectors). Their positions are kept in `manifest.json`, written
(atomically) only after the data they describe is on disk, so a killed sync re-applies at
most one batch, and re-applying is harmless. `--rebuild` deletes the directory. The
manifest also names the database it was built from, so pointing paperfeed at another
database never serves a stale index.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select

from paperfeed.db import Database
from paperfeed.models import Paper, PaperAuthor, PaperEmbedding, SiteMeta
from paperfeed.papers.store import EMBEDDING_CHANGE, current_change_seq
from paperfeed.search.embeddings import from_blob
from paperfeed.search.facets import Facets, day_value
from paperfeed.search.lexical import LexicalDoc, LexicalIndex
from paperfeed.search.vectors import ANN_THRESHOLD, VectorStore

MANIFEST_VERSION = 1
DIM = 384
Progress = Callable[[str, int, int], None]


def database_id(db: Database) -> str:
    """A random id stored in the database on first use: which database an index belongs to."""
    with db.reader() as session:
        row = session.get(SiteMeta, "database_id")
        if row is not None:
            return row.value
    with db.transaction() as session:
        row = session.get(SiteMeta, "database_id")
        if row is None:
            row = SiteMeta(key="database_id", value=uuid.uuid4().hex)
            session.add(row)
        return row.value


def existing_database_id(db: Database) -> str | None:
    """The database's id if it has one; reading only (safe on every request)."""
    with db.reader() as session:
        row = session.get(SiteMeta, "database_id")
        return row.value if row is not None else None


@dataclass
class Manifest:
    database_id: str
    paper_seq: int = 0
    embedding_seq: int = 0
    vector_rows: int = 0
    facets_seq: int = 0
    version: int = MANIFEST_VERSION

    @classmethod
    def read(cls, path: Path) -> Manifest | None:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if data.get("version") != MANIFEST_VERSION:
            return None
        return cls(**data)

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__))
        os.replace(tmp, path)


@dataclass
class SyncStats:
    papers: int = 0
    vectors: int = 0


class SearchIndex:
    def __init__(
        self, path: Path, feed_tz: ZoneInfo | None = None, ann_threshold: int = ANN_THRESHOLD
    ) -> None:
        self.path = path
        self.feed_tz = feed_tz or ZoneInfo("UTC")
        self.ann_threshold = ann_threshold
        self.manifest_path = path / "manifest.json"
        self.manifest: Manifest | None = None
        self._manifest_stamp: float | None = None
        self.lexical: LexicalIndex | None = None
        self.vectors: VectorStore | None = None
        self.facets: Facets | None = None

    # --- opening ------------------------------------------------------------------------

    def open(self, expected_database_id: str | None = None) -> bool:
        """Load the index from disk; False when there is none (or it is another database's)."""
        manifest = Manifest.read(self.manifest_path)
        if manifest is None or (
            expected_database_id is not None and manifest.database_id != expected_database_id
        ):
            self.manifest = None
            return False
        self.manifest = manifest
        self._manifest_stamp = self.manifest_path.stat().st_mtime
        self.lexical = LexicalIndex(self.path / "lexical")
        self.vectors = VectorStore(self.path / "vectors", DIM, self.ann_threshold)
        self.vectors.load(manifest.vector_rows)
        facets = Facets(self.path / "facets")
        if facets.load():
            self.facets = facets
        else:  # an index written before facets existed, or their files were lost
            self.facets = None
            manifest.facets_seq = 0
        return True

    @property
    def ready(self) -> bool:
        return self.manifest is not None and self.lexical is not None

    def refresh(self) -> None:
        """Pick up a sync written by another process (a cheap stat when nothing changed)."""
        try:
            stamp = self.manifest_path.stat().st_mtime
        except OSError:
            return
        if stamp != self._manifest_stamp:
            self.open(self.manifest.database_id if self.manifest else None)

    # --- syncing ------------------------------------------------------------------------

    def sync(
        self,
        db: Database,
        progress: Progress | None = None,
        batch_size: int = 2000,
        rebuild: bool = False,
    ) -> SyncStats:
        """Bring both indexes up to date with the database."""
        ident = database_id(db)
        if rebuild or not self.open(ident):
            shutil.rmtree(self.path, ignore_errors=True)
            self.path.mkdir(parents=True, exist_ok=True)
            Manifest(database_id=ident).write(self.manifest_path)
            self.open(ident)
        assert self.manifest is not None and self.lexical and self.vectors
        stats = SyncStats()
        stats.papers = self._sync_papers(db, progress, batch_size)
        self._sync_facets(db)
        stats.vectors = self._sync_vectors(db, progress, batch_size * 5)
        return stats

    def _sync_papers(self, db: Database, progress: Progress | None, batch_size: int) -> int:
        assert self.manifest is not None and self.lexical is not None
        with db.reader() as session:
            target = current_change_seq(session)[0]
        start = self.manifest.paper_seq
        done = 0
        while True:
            with db.reader() as session:
                rows = session.execute(
                    select(
                        Paper.id,
                        Paper.title,
                        Paper.abstract,
                        Paper.published_at,
                        Paper.feed_at,
                        Paper.organization_id,
                        Paper.upvotes,
                        Paper.hidden_at,
                        Paper.change_seq,
                    )
                    .where(Paper.change_seq > self.manifest.paper_seq)
                    .order_by(Paper.change_seq)
                    .limit(batch_size)
                ).all()
                if not rows:
                    break
                authors: dict[int, list[str]] = {r.id: [] for r in rows}
                for paper_id, name in session.execute(
                    select(PaperAuthor.paper_id, PaperAuthor.name)
                    .where(PaperAuthor.paper_id.in_(list(authors)))
                    .order_by(PaperAuthor.paper_id, PaperAuthor.position)
                ):
                    authors[paper_id].append(name)
            visible = [r for r in rows if r.hidden_at is None]
            self.lexical.delete([r.id for r in rows if r.hidden_at is not None])
            self.lexical.upsert(
                [
                    LexicalDoc(
                        pk=r.id,
                        title=r.title,
                        authors=authors[r.id],
                        abstract=r.abstract,
                        day=self._day(r.published_at or r.feed_at),
                        organization_id=r.organization_id,
                        upvotes=r.upvotes,
                    )
                    for r in visible
                ]
            )
            self.lexical.commit()
            self.manifest.paper_seq = rows[-1].change_seq
            self.manifest.write(self.manifest_path)
            done += len(rows)
            if progress:
                progress("papers", self.manifest.paper_seq - start, max(target - start, 1))
        return done

    def _sync_facets(self, db: Database, batch_size: int = 50_000) -> None:
        """Bring the filter arrays up to the database's change sequence (all of it, the
        first time: an index built before they existed gains them on its next sync)."""
        assert self.manifest is not None
        facets = self.facets
        if facets is None:
            facets = Facets(self.path / "facets")
            self.manifest.facets_seq = 0
        start = cursor = self.manifest.facets_seq
        while True:
            with db.reader() as session:
                rows = session.execute(
                    select(
                        Paper.id,
                        Paper.published_at,
                        Paper.feed_at,
                        Paper.organization_id,
                        Paper.hidden_at,
                        Paper.change_seq,
                    )
                    .where(Paper.change_seq > cursor)
                    .order_by(Paper.change_seq)
                    .limit(batch_size)
                ).all()
            if not rows:
                break
            facets.set(
                np.array([r.id for r in rows], dtype=np.int64),
                np.array(
                    [
                        day_value(self._day(r.published_at or r.feed_at), r.hidden_at is not None)
                        for r in rows
                    ],
                    dtype=np.int32,
                ),
                np.array([r.organization_id or 0 for r in rows], dtype=np.int32),
            )
            cursor = rows[-1].change_seq
        if cursor != start or self.facets is None:
            facets.save()
            self.manifest.facets_seq = cursor
            self.manifest.write(self.manifest_path)
            self._manifest_stamp = self.manifest_path.stat().st_mtime
        self.facets = facets

    def _sync_vectors(self, db: Database, progress: Progress | None, batch_size: int) -> int:
        assert self.manifest is not None and self.vectors is not None
        with db.reader() as session:
            target = current_change_seq(session, EMBEDDING_CHANGE)[0]
        start = cursor = self.manifest.embedding_seq
        done = since_flush = 0
        while True:
            with db.reader() as session:
                rows = session.execute(
                    select(PaperEmbedding.paper_id, PaperEmbedding.vector, PaperEmbedding.seq)
                    .where(PaperEmbedding.seq > cursor)
                    .order_by(PaperEmbedding.seq)
                    .limit(batch_size)
                ).all()
            if not rows:
                break
            pks = np.array([r.paper_id for r in rows], dtype=np.int64)
            vectors = np.stack([from_blob(r.vector) for r in rows])
            # A paper re-embedded twice in one batch: the later row wins.
            _, last = np.unique(pks[::-1], return_index=True)
            keep = len(pks) - 1 - last
            self.vectors.upsert(pks[keep], vectors[keep])
            cursor = rows[-1].seq
            done += len(rows)
            since_flush += len(rows)
            if since_flush >= 200_000:
                self._flush_vectors(cursor)
                since_flush = 0
            if progress:
                progress("vectors", cursor - start, max(target - start, 1))
        if since_flush:
            self._flush_vectors(cursor)
        return done

    def _flush_vectors(self, seq: int) -> None:
        assert self.manifest is not None and self.vectors is not None
        self.manifest.vector_rows = self.vectors.flush()
        self.manifest.embedding_seq = seq
        self.manifest.write(self.manifest_path)
        self._manifest_stamp = self.manifest_path.stat().st_mtime

    def _day(self, instant: datetime | None) -> Any:
        if instant is None:
            return None
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        return instant.astimezone(self.feed_tz).date()

    def status(self) -> dict[str, Any]:
        if not self.ready:
            return {"ready": False}
        assert self.manifest and self.lexical and self.vectors
        return {
            "ready": True,
            "papers": self.lexical.num_docs(),
            "vectors": self.vectors.count,
            "paper_seq": self.manifest.paper_seq,
            "embedding_seq": self.manifest.embedding_seq,
            "ann": self.vectors.uses_ann,
            "facets_seq": self.manifest.facets_seq,
        }
