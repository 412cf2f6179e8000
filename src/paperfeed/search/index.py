"""The local search index: a lexical index and a vector index derived from the database.

It follows two sequences: `papers.change_seq` (text, authors, filters) and
`paper_embeddings.seq` (vectors). Their positions are kept in `manifest.json`, written
(atomically) only after the data they describe is on disk, so a killed sync re-applies at
most one batch, and re-applying is harmless. A sync ends with the positions at least at
the database's counters as read when it began, so "counter == position" means "nothing to
do" (see `follow.py`). The manifest also names the database it was built from, so pointing
paperfeed at another database never serves a stale index.

Several processes of one node share the directory (web workers, `paperfeed worker`,
`paperfeed index`): a sync holds an exclusive `flock` on `sync.lock` inside it, and readers
pick up its result through `refresh`. A build from scratch (`--rebuild`, a first build, or
another database's index) happens in `.rebuild/` and is swapped in when complete, so
processes serving the old index never see a half-built one.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
LOCK_FILE = "sync.lock"
STAGING_DIR = ".rebuild"
RETIRED_DIR = ".retired"
INDEX_PARTS = ("lexical", "vectors", "facets")
Progress = Callable[[str, int, int], None]
Stamp = tuple[int, int]


class IndexBusy(Exception):
    """Another process is syncing this index directory right now."""


@contextmanager
def sync_lock(
    path: Path, wait: bool = True, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    """Hold the exclusive lock on the index directory `path` (one writer per node).

    `wait=False` raises `IndexBusy` instead of waiting; `on_wait` is called once if the
    lock is taken and we are about to wait for it. The lock file is never deleted (a
    rebuild keeps it), so every process always locks the same file.
    """
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise IndexBusy(f"another process is syncing the search index in {path}") from None
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def manifest_stamp(path: Path) -> Stamp | None:
    """Identifies one write of the manifest: it is replaced (new inode) on every write."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_mtime_ns)


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
        self._manifest_stamp: Stamp | None = None
        self.lexical: LexicalIndex | None = None
        self.vectors: VectorStore | None = None
        self.facets: Facets | None = None

    # --- opening ------------------------------------------------------------------------

    def open(self, expected_database_id: str | None = None, load_vectors: bool = True) -> bool:
        """Load the index from disk; False when there is none (or it is another database's).

        `load_vectors=False` leaves `vectors` None (keyword search only): reading them, and
        the HNSW graph of a large archive, is most of the cost of opening.
        """
        manifest = Manifest.read(self.manifest_path)
        if manifest is None or (
            expected_database_id is not None and manifest.database_id != expected_database_id
        ):
            self.manifest = None
            return False
        self.manifest = manifest
        self._manifest_stamp = manifest_stamp(self.manifest_path)
        self.lexical = LexicalIndex(self.path / "lexical")
        self.vectors = None
        if load_vectors:
            self.load_vectors()
        facets = Facets(self.path / "facets")
        if facets.load():
            self.facets = facets
        else:  # an index written before facets existed, or their files were lost
            self.facets = None
            manifest.facets_seq = 0
        return True

    def load_vectors(self) -> None:
        """Read the vector files named by the manifest (after `open(load_vectors=False)`)."""
        assert self.manifest is not None
        self.vectors = VectorStore(self.path / "vectors", DIM, self.ann_threshold)
        self.vectors.load(self.manifest.vector_rows)

    @property
    def ready(self) -> bool:
        return self.manifest is not None and self.lexical is not None

    def refresh(self) -> None:
        """Pick up a sync written by another process (a cheap stat when nothing changed)."""
        stamp = manifest_stamp(self.manifest_path)
        if stamp is not None and stamp != self._manifest_stamp:
            self.open(self.manifest.database_id if self.manifest else None)

    # --- syncing ------------------------------------------------------------------------

    def sync(
        self,
        db: Database,
        progress: Progress | None = None,
        batch_size: int = 2000,
        rebuild: bool = False,
        wait: bool = True,
        on_wait: Callable[[], None] | None = None,
        load_unchanged_vectors: bool = True,
    ) -> SyncStats:
        """Bring both indexes up to date with the database, holding the directory's lock.

        `wait=False` raises `IndexBusy` when another process holds it; `on_wait` is called
        before waiting for it otherwise. `load_unchanged_vectors=False` is for a caller
        that discards this object after the sync: the vectors are read only if some
        embedding changed (a vote or a hidden paper then costs no vector I/O).
        """
        with sync_lock(self.path, wait=wait, on_wait=on_wait):
            ident = database_id(db)
            if rebuild or not self.open(ident, load_vectors=load_unchanged_vectors):
                stats = self._build_and_swap(db, ident, progress, batch_size, not rebuild)
                self.open(ident, load_vectors=load_unchanged_vectors)
                return stats
            return self._apply(db, progress, batch_size)

    def _apply(self, db: Database, progress: Progress | None, batch_size: int) -> SyncStats:
        assert self.manifest is not None and self.lexical
        with db.reader() as session:
            paper_target = current_change_seq(session)[0]
            embedding_target = current_change_seq(session, EMBEDDING_CHANGE)[0]
        stats = SyncStats()
        stats.papers = self._sync_papers(db, progress, batch_size, paper_target)
        self._sync_facets(db, paper_target)
        stats.vectors = self._sync_vectors(db, progress, batch_size * 5, embedding_target)
        return stats

    def _build_and_swap(
        self,
        db: Database,
        ident: str,
        progress: Progress | None,
        batch_size: int,
        resume: bool,
    ) -> SyncStats:
        """Build a whole index in `.rebuild/`, then move it into place.

        Processes serving the old index keep their open files (and keep serving them)
        until the new manifest appears. A killed build leaves only `.rebuild/`: a first
        build continues from it (`resume`), a `--rebuild` starts it over.
        """
        staging = SearchIndex(self.path / STAGING_DIR, self.feed_tz, self.ann_threshold)
        if not (resume and staging.open(ident)):
            shutil.rmtree(staging.path, ignore_errors=True)
            staging.path.mkdir(parents=True)
            Manifest(database_id=ident).write(staging.manifest_path)
            staging.open(ident)
        stats = staging._apply(db, progress, batch_size)
        staging.lexical = staging.vectors = staging.facets = None
        retired = self.path / RETIRED_DIR
        shutil.rmtree(retired, ignore_errors=True)
        retired.mkdir()
        # Without a manifest, readers keep what they have open and new ones wait.
        self.manifest_path.unlink(missing_ok=True)
        for part in INDEX_PARTS:
            if (self.path / part).exists():
                os.replace(self.path / part, retired / part)
            os.replace(staging.path / part, self.path / part)
        os.replace(staging.manifest_path, self.manifest_path)
        shutil.rmtree(staging.path, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)
        return stats

    def _write_manifest(self) -> None:
        assert self.manifest is not None
        self.manifest.write(self.manifest_path)
        self._manifest_stamp = manifest_stamp(self.manifest_path)

    def _sync_papers(
        self, db: Database, progress: Progress | None, batch_size: int, target: int
    ) -> int:
        assert self.manifest is not None and self.lexical is not None
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
            self._write_manifest()
            done += len(rows)
            if progress:
                progress("papers", self.manifest.paper_seq - start, max(target - start, 1))
        if self.manifest.paper_seq < target:  # numbers taken by rows changed again since
            self.manifest.paper_seq = target
            self._write_manifest()
        return done

    def _sync_facets(self, db: Database, target: int, batch_size: int = 50_000) -> None:
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
        cursor = max(cursor, target)
        if cursor != start or self.facets is None:
            facets.save()
            self.manifest.facets_seq = cursor
            self._write_manifest()
        self.facets = facets

    def _sync_vectors(
        self, db: Database, progress: Progress | None, batch_size: int, target: int
    ) -> int:
        assert self.manifest is not None
        if target <= self.manifest.embedding_seq:
            return 0  # no embedding changed
        if self.vectors is None:
            self.load_vectors()
        assert self.vectors is not None
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
        if self.manifest.embedding_seq < target:
            self.manifest.embedding_seq = target
            self._write_manifest()
        return done

    def _flush_vectors(self, seq: int) -> None:
        assert self.manifest is not None and self.vectors is not None
        self.manifest.vector_rows = self.vectors.flush()
        self.manifest.embedding_seq = seq
        self._write_manifest()

    def _day(self, instant: datetime | None) -> Any:
        if instant is None:
            return None
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        return instant.astimezone(self.feed_tz).date()

    def status(self) -> dict[str, Any]:
        if not self.ready:
            return {"ready": False}
        assert self.manifest and self.lexical
        return {
            "ready": True,
            "papers": self.lexical.num_docs(),
            "vectors": self.vectors.count if self.vectors is not None else None,
            "paper_seq": self.manifest.paper_seq,
            "embedding_seq": self.manifest.embedding_seq,
            "ann": self.vectors.uses_ann if self.vectors is not None else None,
            "facets_seq": self.manifest.facets_seq,
        }
