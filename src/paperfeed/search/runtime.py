"""The search machinery a process shares: the index (reloaded when a sync lands), the
query embedder (loaded on first use, since loading a model takes a moment) and the
follower that keeps this node's index in step with the database (`follow.py`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from threading import Lock
from typing import Any

from paperfeed.config import Settings, index_dir_for
from paperfeed.db import Database
from paperfeed.search.engine import QueryEmbeddings
from paperfeed.search.follow import IndexFollower
from paperfeed.search.index import SearchIndex, Stamp, existing_database_id, manifest_stamp

log = logging.getLogger(__name__)


def load_encoder(settings: Settings):  # type: ignore[no-untyped-def]
    from paperfeed.search.embedder import load_embedder

    return load_embedder(
        settings.embedding_model,
        quantize=settings.embedding_int8,
        cache_dir=settings.data_dir / "models",
    )


VectorsKey = tuple[int, int, int]


def vectors_key(index: SearchIndex) -> VectorsKey | None:
    """What the vector files of an opened index are: their directory (a rebuild brings a
    new one) and the manifest's vector position. Equal keys, equal vectors."""
    assert index.manifest is not None
    try:
        directory = (index.path / "vectors").stat().st_ino
    except OSError:
        return None
    return (directory, index.manifest.embedding_seq, index.manifest.vector_rows)


class SearchRuntime:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.path = index_dir_for(settings, db.url)
        self.follower: IndexFollower | None = None
        self._index: SearchIndex | None = None
        self._index_stamp: Stamp | None = None
        self._vectors_key: VectorsKey | None = None
        self._embeddings: QueryEmbeddings | None = None
        self._embedder_failed = False
        self._lock = Lock()

    def index(self) -> SearchIndex | None:
        """The local index, or None if no sync has built one for this database yet.

        Costs one `stat` per call when nothing changed, and never writes. When a sync has
        landed, the new state is opened as a new object and swapped in only once it opened
        completely: requests in flight keep the object they have, and an index that cannot
        be opened right now (a rebuild being swapped in) leaves the old one serving. The
        vectors are read again only if the sync changed them.
        """
        with self._lock:
            stamp = manifest_stamp(self.path / "manifest.json")
            if self._index is not None and (stamp is None or stamp == self._index_stamp):
                return self._index
            if stamp is None:
                return None
            if self._index is not None and self._index.manifest is not None:
                ident: str | None = self._index.manifest.database_id
            else:
                ident = existing_database_id(self.db)
            if ident is None:
                return None
            index = SearchIndex(self.path, self.settings.tz, self.settings.ann_threshold)
            try:
                if not index.open(ident, load_vectors=False):
                    return self._index
                key = vectors_key(index)
                if self._index is not None and key is not None and key == self._vectors_key:
                    index.vectors = self._index.vectors  # votes, edits, hides: kept as is
                else:
                    index.load_vectors()
            except Exception:
                log.warning("could not open the updated search index; retrying", exc_info=True)
                return self._index
            self._index, self._index_stamp, self._vectors_key = index, stamp, key
            return index

    def embeddings(self) -> QueryEmbeddings | None:
        """Query embeddings, or None (keyword search only) if the model cannot load."""
        with self._lock:
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


@asynccontextmanager
async def follow_while_serving(app: Any) -> AsyncIterator[None]:
    """FastAPI lifespan: the app's `SearchRuntime` follows the database while it serves."""
    runtime: SearchRuntime = app.state.search
    runtime.start_following()
    try:
        yield
    finally:
        await asyncio.to_thread(runtime.stop_following)
