"""Keep this node's search index in step with the shared database, from the web app.

`paperfeed worker` embeds new papers under a database lease, so that happens once per
site; but every node has its own index directory, which only a sync on that node updates.
So each web process runs an `IndexFollower`: every `index_follow_seconds` it compares the
database's change counters with the index manifest (one small query and one small file
read) and, only when they differ, runs the sync. It never loads the model: a paper without
an embedding is found by its words until the worker embeds it, and the next sync then
adds its vector.

The sync holds the directory's lock (`index.sync_lock`). Of several processes on a node
one syncs and the others skip the tick; every process picks the result up through
`SearchRuntime.index()`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import select

from paperfeed.config import Settings, index_dir_for
from paperfeed.db import Database
from paperfeed.models import Counter, SiteMeta
from paperfeed.papers.store import EMBEDDING_CHANGE, PAPER_CHANGE
from paperfeed.search.index import MANIFEST_FILE, IndexBusy, Manifest, SearchIndex

log = logging.getLogger(__name__)

Outcome = Literal["current", "synced", "busy", "failed", "stopped"]
STOP_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class DatabasePosition:
    """Where the database's change counters stand (what an up-to-date index has seen)."""

    database_id: str | None
    paper_seq: int
    embedding_seq: int


def database_position(db: Database) -> DatabasePosition:
    with db.reader() as session:
        ident = session.execute(
            select(SiteMeta.value).where(SiteMeta.key == "database_id")
        ).scalar_one_or_none()
        rows = session.execute(
            select(Counter.name, Counter.value).where(
                Counter.name.in_((PAPER_CHANGE, EMBEDDING_CHANGE))
            )
        )
        counters = {name: value for name, value in rows}
    return DatabasePosition(ident, counters.get(PAPER_CHANGE, 0), counters.get(EMBEDDING_CHANGE, 0))


def index_is_current(manifest: Manifest | None, position: DatabasePosition) -> bool:
    """True when a sync would find nothing to do (a sync advances every position to the
    counters it read when it began). An index in the layout before build directories is
    never current: its next sync moves it into a build (or rebuilds it if it is damaged);
    nor is one of an older keyword index schema (its next sync rebuilds it)."""
    return (
        manifest is not None
        and manifest.build is not None
        and not manifest.outdated
        and position.database_id is not None
        and manifest.database_id == position.database_id
        and manifest.paper_seq >= position.paper_seq
        and manifest.facets_seq >= position.paper_seq
        and manifest.embedding_seq >= position.embedding_seq
    )


class _Stopped(Exception):
    """Raised from the sync's progress callback to abandon a sync at shutdown."""


class IndexFollower:
    """A daemon thread that syncs this node's index whenever the database has moved."""

    def __init__(self, settings: Settings, db: Database, interval: float | None = None) -> None:
        self.settings = settings
        self.db = db
        self.interval = settings.index_follow_seconds if interval is None else interval
        self.path: Path = index_dir_for(settings, db.url)
        self.last_outcome: Outcome | None = None
        self.failures_in_a_row = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the loop -----------------------------------------------------------------------

    def start(self) -> None:
        """Start following: the first tick runs at once, so an empty index is built now."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="paperfeed-index-follower", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop and wait for the thread; a sync in progress gives up after its batch."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("the search index follower did not stop within %.0fs", timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.interval)

    # --- one tick -----------------------------------------------------------------------

    def tick(self) -> Outcome:
        """Sync if the database moved past the index; never raises (errors are logged and
        the next tick tries again)."""
        try:
            position = database_position(self.db)
            if index_is_current(Manifest.read(self.path / MANIFEST_FILE), position):
                outcome: Outcome = "current"
            else:
                outcome = self._sync()
        except IndexBusy:
            outcome = "busy"  # another process on this node is syncing; it serves us too
        except _Stopped:
            outcome = "stopped"
        except Exception:
            outcome = "failed"
            self.failures_in_a_row += 1
            if self.failures_in_a_row == 1:
                log.exception(
                    "search index follow failed; retrying every %.1fs until it works",
                    self.interval,
                )
            else:
                log.debug("search index follow failed again", exc_info=True)
        if outcome != "failed" and self.failures_in_a_row:
            log.warning(
                "search index follow works again after %d failed tries", self.failures_in_a_row
            )
            self.failures_in_a_row = 0
        self.last_outcome = outcome
        return outcome

    def _sync(self) -> Outcome:
        started = time.perf_counter()
        index = SearchIndex(self.path, self.settings.tz, self.settings.ann_threshold)
        stats = index.sync(
            self.db, progress=self._check_stop, wait=False, load_unchanged_vectors=False
        )
        log.info(
            "search index synced: %d papers, %d vectors in %.2fs",
            stats.papers,
            stats.vectors,
            time.perf_counter() - started,
        )
        return "synced"

    def _check_stop(self, _stage: str, _done: int, _total: int) -> None:
        if self._stop.is_set():
            raise _Stopped
