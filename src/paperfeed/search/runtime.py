"""The search machinery a process shares: the index (reloaded when a sync lands) and the
query embedder (loaded on first use, since loading a model takes a moment)."""

from __future__ import annotations

import logging
from threading import Lock

from paperfeed.config import Settings, index_dir_for
from paperfeed.db import Database
from paperfeed.search.engine import QueryEmbeddings
from paperfeed.search.index import SearchIndex, existing_database_id

log = logging.getLogger(__name__)


def load_encoder(settings: Settings):  # type: ignore[no-untyped-def]
    from paperfeed.search.embedder import load_embedder

    return load_embedder(
        settings.embedding_model,
        quantize=settings.embedding_int8,
        cache_dir=settings.data_dir / "models",
    )


class SearchRuntime:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._index: SearchIndex | None = None
        self._embeddings: QueryEmbeddings | None = None
        self._embedder_failed = False
        self._lock = Lock()

    def index(self) -> SearchIndex | None:
        """The local index, or None if `paperfeed index` has not built one for this database.

        Costs one `stat` per call when nothing changed, and never writes.
        """
        with self._lock:
            if self._index is not None:
                self._index.refresh()
                return self._index
            index = SearchIndex(
                index_dir_for(self.settings, self.db.url),
                self.settings.tz,
                self.settings.ann_threshold,
            )
            if not index.manifest_path.exists():
                return None
            ident = existing_database_id(self.db)
            if ident is None or not index.open(ident):
                return None
            self._index = index
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
