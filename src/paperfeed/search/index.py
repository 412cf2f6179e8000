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
pick up its result when the manifest's stamp changes (`SearchRuntime.index`).

The files live in a build directory, `builds/<name>/` (lexical, vectors, facets), and the
manifest names the live one. A build from scratch (`--rebuild`, a first build, or another
database's index) goes into a new build directory with its own manifest inside; the swap
is the one `os.replace` of that manifest onto the live one. A process killed at any moment
leaves either the old build named (and whole) or the new one, never a mix, and a reader
resolves the manifest once and opens only the build it names. Builds nobody names any
more are deleted by the next sync: a reader that has their files open keeps them (Linux
frees unlinked files on close), and a reader that resolved the manifest just before the
swap finds the files gone, reads the manifest again and opens the new build. Readers never
create anything here; only a sync does.

An index from before build directories (parts in the directory itself, manifest version
1) is served as it is and, on its next sync, becomes a build by hard links (no data
copied), or is rebuilt if a part is missing or empty although the manifest says otherwise:
what an interrupted swap of earlier versions left.

The manifest records the keyword index's schema version (`lexical.SCHEMA_VERSION`): an
index of another version is served as it is (a filter on a field it lacks matches
nothing) and rebuilt by its next sync, which then swaps in the new build.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
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
from sqlalchemy.orm import Session

from paperfeed.db import Database
from paperfeed.models import Paper, PaperAuthor, PaperCategory, PaperEmbedding, SiteMeta
from paperfeed.papers.store import EMBEDDING_CHANGE, current_change_seq
from paperfeed.search.embeddings import from_blob
from paperfeed.search.facets import Facets, day_value
from paperfeed.search.lexical import SCHEMA_VERSION, LexicalDoc, LexicalIndex
from paperfeed.search.vectors import ANN_THRESHOLD, VectorStore

MANIFEST_VERSION = 2
LEGACY_MANIFEST_VERSION = 1  # the parts in the index directory itself, no build directories
FIRST_LEXICAL_SCHEMA = 1  # what a manifest that does not say was written with
DIM = 384
LOCK_FILE = "sync.lock"
MANIFEST_FILE = "manifest.json"
BUILDS_DIR = "builds"
INDEX_PARTS = ("lexical", "vectors", "facets")
# What the layout before build directories may have left in the index directory.
LEGACY_ENTRIES = (*INDEX_PARTS, ".rebuild", ".retired")
OPEN_ATTEMPTS = 3
Progress = Callable[[str, int, int], None]
Stamp = tuple[int, int]

log = logging.getLogger(__name__)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links
        shutil.copy2(source, target)


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


def new_build_name() -> str:
    """Unique, and sorted by creation time when listed."""
    return f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}"


def _plain_name(value: object) -> bool:
    return isinstance(value, str) and value not in ("", ".", "..") and Path(value).name == value


@dataclass
class Manifest:
    database_id: str
    paper_seq: int = 0
    embedding_seq: int = 0
    vector_rows: int = 0
    facets_seq: int = 0
    build: str | None = None  # the directory under builds/; None: a version 1 index
    version: int = MANIFEST_VERSION
    lexical_schema: int = SCHEMA_VERSION

    @property
    def outdated(self) -> bool:
        """Built with another keyword index schema: the next sync rebuilds it."""
        return self.lexical_schema != SCHEMA_VERSION

    @classmethod
    def read(cls, path: Path) -> Manifest | None:
        return cls.read_stamped(path)[0]

    @classmethod
    def read_stamped(cls, path: Path) -> tuple[Manifest | None, Stamp | None]:
        """The manifest and the stamp of that same write: both come from one open file,
        so a replace in between cannot pair a new stamp with old contents."""
        try:
            with path.open("rb") as file:
                info = os.fstat(file.fileno())
                data = json.loads(file.read())
        except (OSError, ValueError):
            return None, None
        stamp = (info.st_ino, info.st_mtime_ns)
        if not isinstance(data, dict):
            return None, stamp
        data.setdefault("lexical_schema", FIRST_LEXICAL_SCHEMA)
        if data.get("version") == LEGACY_MANIFEST_VERSION:
            data["build"] = None
        elif data.get("version") != MANIFEST_VERSION or not _plain_name(data.get("build")):
            return None, stamp
        try:
            return cls(**data), stamp
        except TypeError:
            return None, stamp

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
        self.manifest_path = path / MANIFEST_FILE
        self.manifest: Manifest | None = None
        self.build_path: Path | None = None  # where the opened build's files are
        self._manifest_stamp: Stamp | None = None
        self.lexical: LexicalIndex | None = None
        self.vectors: VectorStore | None = None
        self.facets: Facets | None = None

    # --- opening ------------------------------------------------------------------------

    def open(self, expected_database_id: str | None = None, load_vectors: bool = True) -> bool:
        """Load the index from disk; False when there is none (or it is another database's).

        `load_vectors=False` leaves `vectors` None (keyword search only): reading them, and
        the HNSW graph of a large archive, is most of the cost of opening.

        It opens existing files only. If the build the manifest names cannot be opened
        because a sync swapped in another one and removed it meanwhile, the manifest is
        read again; if the manifest did not change, the build is damaged: False too, so
        a sync rebuilds it.
        """
        for _ in range(OPEN_ATTEMPTS):
            manifest, stamp = Manifest.read_stamped(self.manifest_path)
            if manifest is None or (
                expected_database_id is not None and manifest.database_id != expected_database_id
            ):
                break
            try:
                self._open_build(manifest, stamp, load_vectors)
                return True
            except (OSError, ValueError):
                if manifest_stamp(self.manifest_path) == stamp:
                    log.warning(
                        "the search index build in %s cannot be opened",
                        self.build_dir(manifest),
                        exc_info=True,
                    )
                    break
        self.manifest = self._manifest_stamp = self.build_path = None
        self.lexical = self.vectors = self.facets = None
        return False

    def build_dir(self, manifest: Manifest) -> Path:
        """The directory holding the files of the build `manifest` describes."""
        return self.path if manifest.build is None else self.path / BUILDS_DIR / manifest.build

    def _open_build(self, manifest: Manifest, stamp: Stamp | None, load_vectors: bool) -> None:
        build = self.build_dir(manifest)
        lexical = LexicalIndex(build / "lexical", create=False)
        vectors = self._open_vectors(build, manifest) if load_vectors else None
        facets = Facets(build / "facets")
        has_facets = facets.load()
        if not has_facets:  # an index written before facets existed, or they were lost
            manifest.facets_seq = 0
        self.manifest, self._manifest_stamp, self.build_path = manifest, stamp, build
        self.lexical, self.vectors = lexical, vectors
        self.facets = facets if has_facets else None

    def _open_vectors(self, build: Path, manifest: Manifest) -> VectorStore:
        vectors = VectorStore(build / "vectors", DIM, self.ann_threshold, create=False)
        vectors.load(manifest.vector_rows)
        return vectors

    def load_vectors(self) -> None:
        """Read the vector files named by the manifest (after `open(load_vectors=False)`)."""
        assert self.manifest is not None and self.build_path is not None
        self.vectors = self._open_vectors(self.build_path, self.manifest)

    @property
    def opened_stamp(self) -> Stamp | None:
        """The stamp of the manifest write this object opened."""
        return self._manifest_stamp

    @property
    def ready(self) -> bool:
        return self.manifest is not None and self.lexical is not None

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
            current = not rebuild and self.open(ident, load_vectors=load_unchanged_vectors)
            if current and self.manifest is not None and self.manifest.outdated:
                log.info("the search index in %s has an older schema; rebuilding it", self.path)
                current = False
            if current and self.manifest is not None and self.manifest.build is None:
                current = self._migrate_legacy(load_unchanged_vectors)
            if not current:
                stats = self._build_and_swap(db, ident, progress, batch_size, not rebuild)
                if not self.open(ident, load_vectors=load_unchanged_vectors):
                    raise RuntimeError(f"the search index just built in {self.path} cannot open")
                return stats
            self._remove_unused()
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
        """Build a whole index in a new build directory, then make the manifest name it.

        Processes serving the old build keep serving it until the new manifest appears.
        A killed build leaves its directory with its manifest inside (a build the live
        manifest does not name): a first build continues from it (`resume`), a
        `--rebuild` starts over.
        """
        staging = self._resumable_build(ident) if resume else None
        if staging is None:
            staging = self._new_build(ident)
        assert staging.manifest is not None and staging.manifest.build is not None
        self._remove_unused(keep=staging.manifest.build)
        stats = staging._apply(db, progress, batch_size)
        staging.lexical = staging.vectors = staging.facets = None  # close its files
        os.replace(staging.manifest_path, self.manifest_path)  # the swap
        self._remove_unused()
        return stats

    def _staging(self, build: str) -> SearchIndex:
        """An index object for the build directory `build`, with the manifest inside it."""
        staging = SearchIndex(self.path, self.feed_tz, self.ann_threshold)
        staging.manifest_path = self.path / BUILDS_DIR / build / MANIFEST_FILE
        return staging

    def _resumable_build(self, ident: str) -> SearchIndex | None:
        """The newest build left by a killed build for this database, if it opens whole."""
        builds = self.path / BUILDS_DIR
        names = sorted((p.name for p in builds.iterdir()), reverse=True) if builds.is_dir() else []
        for name in names:
            staging = self._staging(name)
            manifest = Manifest.read(staging.manifest_path)
            if (
                manifest is not None
                and manifest.build == name
                and not manifest.outdated
                and staging.open(ident)
            ):
                return staging
        return None

    def _new_build(self, ident: str) -> SearchIndex:
        name = new_build_name()
        staging = self._staging(name)
        build = self.path / BUILDS_DIR / name
        build.mkdir(parents=True)
        LexicalIndex(build / "lexical", create=True)  # before the manifest: it names a whole build
        Manifest(database_id=ident, build=name).write(staging.manifest_path)
        if not staging.open(ident):
            raise RuntimeError(f"a new search index build in {build} cannot open")
        return staging

    def _migrate_legacy(self, load_vectors: bool) -> bool:
        """Turn a version 1 index (parts in the directory itself) into a build, by hard
        links: no data is copied and processes still reading the old paths keep them.

        False (rebuild it instead) when it is not whole: vector files shorter than the
        manifest says, or no papers in the keyword index although papers were indexed,
        which is what an interrupted swap of earlier versions left behind.
        """
        assert self.manifest is not None and self.lexical is not None
        legacy = self.manifest
        vectors = VectorStore(self.path / "vectors", DIM, self.ann_threshold, create=False)
        if (legacy.paper_seq > 0 and self.lexical.num_docs() == 0) or (
            legacy.vector_rows > 0 and not vectors.holds(legacy.vector_rows)
        ):
            log.warning("the search index in %s is incomplete; rebuilding it", self.path)
            return False
        name = new_build_name()
        build = self.path / BUILDS_DIR / name
        build.mkdir(parents=True)
        for part in INDEX_PARTS:
            if (self.path / part).is_dir():
                shutil.copytree(self.path / part, build / part, copy_function=_link_or_copy)
        self.lexical = self.vectors = self.facets = None
        Manifest(**{**legacy.__dict__, "build": name, "version": MANIFEST_VERSION}).write(
            self.manifest_path
        )
        self._remove_unused()
        return self.open(legacy.database_id, load_vectors=load_vectors)

    def _remove_unused(self, keep: str | None = None) -> None:
        """Delete the builds the live manifest does not name (except `keep`, the build in
        progress), and the files of a version 1 index once a build replaced it."""
        live = Manifest.read(self.manifest_path)
        builds = self.path / BUILDS_DIR
        if builds.is_dir():
            for entry in builds.iterdir():
                if entry.name != keep and (live is None or entry.name != live.build):
                    shutil.rmtree(entry, ignore_errors=True)
        if live is None or live.build is not None:
            for name in LEGACY_ENTRIES:
                if (self.path / name).exists():
                    shutil.rmtree(self.path / name, ignore_errors=True)

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
                categories = self._categories(session, list(authors))
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
                        categories=categories.get(r.id, []),
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

    @staticmethod
    def _categories(session: Session, paper_ids: list[int]) -> dict[int, list[str]]:
        """Each paper's category codes and the archives they are listed in, from
        `paper_categories` (what the feed pages filter on)."""
        found: dict[int, list[str]] = {}
        for paper_id, category, archive in session.execute(
            select(PaperCategory.paper_id, PaperCategory.category, PaperCategory.archive)
            .where(PaperCategory.paper_id.in_(paper_ids))
            .order_by(PaperCategory.paper_id, PaperCategory.position)
        ):
            codes = found.setdefault(paper_id, [])
            for code in (category, archive):
                if code not in codes:
                    codes.append(code)
        return found

    def _sync_facets(self, db: Database, target: int, batch_size: int = 50_000) -> None:
        """Bring the filter arrays up to the database's change sequence (all of it, the
        first time: an index built before they existed gains them on its next sync)."""
        assert self.manifest is not None
        facets = self.facets
        if facets is None:
            assert self.build_path is not None
            facets = Facets(self.build_path / "facets")
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
        assert self.build_path is not None
        (self.build_path / "vectors").mkdir(exist_ok=True)  # the sync creates, readers never
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
