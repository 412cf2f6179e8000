"""The search machinery a process shares: the index (reloaded when a sync lands), the
query embedder (loaded on first use, since loading a model takes a moment) and the
follower that keeps this node's index in step with the database (`follow.py`).

Slow work never holds up other requests: while one thread opens a newly synced index
(the HNSW graph of a large archive takes most of a second) the others keep being served
the previous one, and loading the model has a lock of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from threading import Lock
from typing import TYPE_CHECKING

from paperfeed.config import Settings, index_dir_for
from paperfeed.db import Database
from paperfeed.search.engine import QueryEmbeddings
from paperfeed.search.follow import IndexFollower
from paperfeed.search.index import (
    MANIFEST_FILE,
    SearchIndex,
    Stamp,
    existing_database_id,
    manifest_stamp,
)

if TYPE_CHECKING:  # loaded on first use: it brings in onnxruntime
    from paperfeed.search.embedder import Embedder

log = logging.getLogger(__name__)


def load_encoder(settings: Settings) -> Embedder:
    from paperfeed.search.embedder import load_embedder

    return load_embedder(
        settings.embedding_model,
        quantize=settings.embedding_int8,
        cache_dir=settings.data_dir / "models",
    )


VectorsKey = tuple[str, int, int]


def vectors_key(index: SearchIndex) -> VectorsKey:
    """What the vector files of an opened index are: its build (a rebuild makes a new one)
    and the manifest's vector position. Equal keys, equal vectors."""
    assert index.manifest is not None
    manifest = index.manifest
    return (manifest.build or "", manifest.embedding_seq, manifest.vector_rows)


@dataclass(frozen=True)
class Served:
    """The index requests are given, replaced as a whole (one assignment) when a sync lands."""

    index: SearchIndex | None = None
    stamp: Stamp | None = None
    vectors_key: VectorsKey | None = None

    def current(self, stamp: Stamp | None) -> bool:
        """Nothing newer to open: the manifest is unchanged (or momentarily missing)."""
        return self.index is not None and (stamp is None or stamp == self.stamp)


class SearchRuntime:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.path = index_dir_for(settings, db.url)
        self.follower: IndexFollower | None = None
        self._served = Served()
        self._opening = Lock()  # one thread at a time opens a new state of the index
        self._embeddings: QueryEmbeddings | None = None
        self._embedder_failed = False
        self._embedder_lock = Lock()

    def index(self) -> SearchIndex | None:
        """The local index, or None if no sync has built one for this database yet.

        Costs one `stat` per call when nothing changed, and never writes. When a sync has
        landed, one thread opens the new state as a new object while the others keep
        getting the old one (they wait only if there is none yet); it is swapped in only
        once it opened completely, and an index that cannot be opened right now leaves
        the old one serving. The vectors are read again only if the sync changed them.
        """
        served = self._served
        if served.current(manifest_stamp(self.path / MANIFEST_FILE)):
            return served.index
        if not self._opening.acquire(blocking=served.index is None):
            return served.index  # another thread is opening the new state
        try:
            served = self._served  # the thread we waited for may have opened it already
            stamp = manifest_stamp(self.path / MANIFEST_FILE)
            if stamp is not None and not served.current(stamp):
                self._served = served = self._open(served)
            return served.index
        finally:
            self._opening.release()

    def _open(self, served: Served) -> Served:
        """The index as it is on disk now, or `served` if it cannot be opened yet."""
        if served.index is not None and served.index.manifest is not None:
            ident: str | None = served.index.manifest.database_id
        else:
            ident = existing_database_id(self.db)
        if ident is None:
            return served
        index = SearchIndex(self.path, self.settings.tz, self.settings.ann_threshold)
        try:
            if not index.open(ident, load_vectors=False):
                return served
            key = vectors_key(index)
            if served.index is not None and key == served.vectors_key:
                index.vectors = served.index.vectors  # votes, edits, hides: kept as is
            else:
                index.load_vectors()
        except Exception:
            log.warning("could not open the updated search index; retrying", exc_info=True)
            return served
        return Served(index, index.opened_stamp, key)

    def embeddings(self) -> QueryEmbeddings | None:
        """Query embeddings, or None (keyword search only) if the model cannot load."""
        if self._embeddings is not None or self._embedder_failed:
            return self._embeddings
        with self._embedder_lock:
            if self._embeddings is None and not self._embedder_failed:
                try:
                    self._embeddings = QueryEmbeddings(load_encoder(self.settings))
                except Exception:
                    log.exception("the embedding model could not be loaded; keyword search only")
                    self._embedder_failed = True
            return self._embeddings

    # --- following the database ---------------------------------------------------------

    def start_following(self) -> None:
        """Start this process's index follower (unless `index_follow_seconds` is 0)."""
        if self.follower is None and self.settings.index_follow_seconds > 0:
            self.follower = IndexFollower(self.settings, self.db)
            self.follower.start()

    def stop_following(self) -> None:
        if self.follower is not None:
            self.follower.stop()
            self.follower = None


def served_state(index: SearchIndex | None) -> str:
    """Which state of the index answers ("none" without one): a part of HTTP validators,
    so a cached search or similar-papers answer changes when a sync lands."""
    if index is None or index.manifest is None:
        return "none"
    return f"{index.manifest.paper_seq}-{index.manifest.embedding_seq}"


@asynccontextmanager
async def follow_while_serving(runtime: SearchRuntime) -> AsyncIterator[None]:
    """FastAPI lifespan: the app's `SearchRuntime` follows the database while it serves."""
    runtime.start_following()
    try:
        yield
    finally:
        await asyncio.to_thread(runtime.stop_following)
