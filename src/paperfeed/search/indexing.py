"""`paperfeed index`: embed what is new, then bring the local search index up to date.

Embedding writes to the database (once, for every node); the sync writes only this node's
index directory. Web processes follow the database with the sync alone (`follow.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete

from paperfeed.config import Settings, index_dir_for
from paperfeed.db import Database
from paperfeed.models import IngestCursor
from paperfeed.papers.store import current_change_seq
from paperfeed.search.embeddings import EmbedStats, cursor_name, embed_pending
from paperfeed.search.index import SearchIndex, SyncStats

MODEL_NAME = "all-MiniLM-L6-v2"
ProgressFactory = Callable[[str], Callable[[int, int], None]]


@dataclass
class IndexStats:
    embed: EmbedStats
    sync: SyncStats


def embeddings_pending(db: Database) -> bool:
    with db.reader() as session:
        row = session.get(IngestCursor, cursor_name(MODEL_NAME))
        done = int(row.cursor) if row else 0
        return current_change_seq(session)[0] > done


def reset_embeddings(db: Database) -> None:
    with db.transaction() as session:
        session.execute(delete(IngestCursor).where(IngestCursor.source == cursor_name(MODEL_NAME)))


def run_index(
    db: Database,
    settings: Settings,
    rebuild: bool = False,
    reembed: bool = False,
    progress: ProgressFactory | None = None,
    embed: bool = True,
    on_wait: Callable[[], None] | None = None,
) -> IndexStats:
    """Embed pending papers (loading the model only if there are any), then sync the index.

    The sync waits for any other process syncing the same directory (`on_wait` is told).
    """
    embed_stats = EmbedStats()
    if reembed:
        reset_embeddings(db)
    if embed and embeddings_pending(db):
        from paperfeed.search.runtime import load_encoder

        encoder = load_encoder(settings)
        embed_stats = embed_pending(
            db, encoder, progress=progress("embedding papers") if progress else None
        )
    index = SearchIndex(index_dir_for(settings, db.url), settings.tz, settings.ann_threshold)
    sync_progress = progress("indexing") if progress else None
    sync_stats = index.sync(
        db,
        progress=(lambda _stage, done, total: sync_progress(done, total))
        if sync_progress
        else None,
        rebuild=rebuild,
        on_wait=on_wait,
    )
    return IndexStats(embed_stats, sync_stats)
