"""The index follower and the sync lock: one writer per index directory, catching up by
itself, cheap when nothing changed, surviving database errors, rebuilds never seen half-built."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.search.embeddings import embed_pending
from paperfeed.search.follow import IndexFollower, database_position, index_is_current
from paperfeed.search.index import IndexBusy, Manifest, SearchIndex, manifest_stamp, sync_lock
from paperfeed.search.runtime import SearchRuntime
from tests.conftest import FIXED_NOW

ROOT = Path(__file__).resolve().parents[2]


def add_papers(db: Database, first: int, count: int, topic: str = "graph colouring") -> None:
    """Insert papers the way ingestion does (the papers store, in one transaction)."""
    records = [
        PaperRecord(
            title=f"On {topic}, part {n}",
            abstract=f"We study {topic} in setting number {n}.",
            arxiv_id=f"2611.{n:05d}",
            authors=["Ada Lovelace", "Alan Turing"],
            published_at=FIXED_NOW,
            feed_at=FIXED_NOW,
        )
        for n in range(first, first + count)
    ]
    with db.transaction() as session:
        upsert_papers(session, records)


def follower_for(settings: Settings, db: Database, interval: float = 0.05) -> IndexFollower:
    return IndexFollower(settings, db, interval=interval)


def opened(follower: IndexFollower) -> SearchIndex:
    index = SearchIndex(follower.path, follower.settings.tz)
    assert index.open(), f"no index in {follower.path}"
    return index


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(0.02)


# --- following ------------------------------------------------------------------------------


def test_first_tick_builds_the_index_and_later_ticks_add_only_changes(
    db: Database, settings: Settings
) -> None:
    add_papers(db, 1, 30)
    follower = follower_for(settings, db)
    assert follower.tick() == "synced"
    assert opened(follower).status()["papers"] == 30

    stamp = manifest_stamp(follower.path / "manifest.json")
    assert follower.tick() == "current"
    assert manifest_stamp(follower.path / "manifest.json") == stamp, "an idle tick wrote"

    add_papers(db, 31, 2, topic="quokka ecology")
    assert follower.tick() == "synced"
    assert opened(follower).status()["papers"] == 32
    assert follower.tick() == "current"


def test_an_empty_database_gives_an_empty_index_that_stays_current(
    db: Database, settings: Settings
) -> None:
    follower = follower_for(settings, db)
    assert follower.tick() == "synced"
    assert opened(follower).status()["papers"] == 0
    assert follower.tick() == "current"


def test_current_means_every_position_reached_the_counters(
    db: Database, settings: Settings
) -> None:
    add_papers(db, 1, 5)
    follower = follower_for(settings, db)
    follower.tick()
    manifest = Manifest.read(follower.path / "manifest.json")
    position = database_position(db)
    assert manifest is not None and position.database_id == manifest.database_id
    assert index_is_current(manifest, position)
    for field in ("paper_seq", "facets_seq", "embedding_seq"):
        behind = Manifest(**{**manifest.__dict__, field: -1})
        assert not index_is_current(behind, position), field
    other = Manifest(**{**manifest.__dict__, "database_id": "another-database"})
    assert not index_is_current(other, position)
    assert not index_is_current(None, position)


def test_vectors_arrive_on_the_tick_after_the_worker_embeds(
    db: Database,
    settings: Settings,
    encoder,  # type: ignore[no-untyped-def]
) -> None:
    add_papers(db, 1, 12)
    follower = follower_for(settings, db)
    assert follower.tick() == "synced"
    assert opened(follower).status()["vectors"] == 0, "the follower must not embed"

    assert embed_pending(db, encoder).embedded == 12  # the worker's leased job
    assert follower.tick() == "synced"
    status = opened(follower).status()
    assert status["vectors"] == 12 and status["papers"] == 12
    assert follower.tick() == "current"


def test_the_thread_survives_database_errors_and_catches_up_after(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    add_papers(db, 1, 3)
    follower = follower_for(settings, db, interval=0.02)
    with caplog.at_level(logging.DEBUG, logger="paperfeed.search.follow"):
        with db.engine.begin() as connection:  # the database "loses" a table it needs
            connection.execute(text("ALTER TABLE counters RENAME TO counters_away"))
        try:
            follower.start()
            wait_until(lambda: follower.failures_in_a_row >= 3, 10, "three failed ticks")
            assert follower.running and follower.last_outcome == "failed"
        finally:
            with db.engine.begin() as connection:
                connection.execute(text("ALTER TABLE counters_away RENAME TO counters"))
        try:
            wait_until(lambda: follower.last_outcome == "current", 10, "recovery")
        finally:
            follower.stop()
    assert not follower.running
    assert opened(follower).status()["papers"] == 3
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info, "one traceback, not one per tick"
    assert any("works again" in r.getMessage() for r in caplog.records)


def test_stop_ends_the_thread_without_waiting_for_the_next_tick(
    db: Database, settings: Settings
) -> None:
    add_papers(db, 1, 3)
    follower = follower_for(settings, db, interval=600)
    follower.start()
    wait_until(lambda: follower.last_outcome == "synced", 30, "the first tick at start")
    started = time.monotonic()
    follower.stop()
    assert not follower.running
    assert time.monotonic() - started < 2, "stop waited for the interval"
    with sync_lock(follower.path, wait=False):  # and nothing holds the lock
        pass


# --- the lock -------------------------------------------------------------------------------


@contextmanager
def lock_held_by_another_process(path: Path) -> Iterator[subprocess.Popen[str]]:
    """A separate Python process holding the directory's sync lock until we return."""
    script = (
        "import sys; from pathlib import Path; from paperfeed.search.index import sync_lock\n"
        "with sync_lock(Path(sys.argv[1])):\n"
        "    print('locked', flush=True); sys.stdin.readline()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)


def test_a_follower_skips_its_tick_while_another_process_syncs(
    db: Database, settings: Settings
) -> None:
    add_papers(db, 1, 4)
    follower = follower_for(settings, db)
    with lock_held_by_another_process(follower.path):
        started = time.monotonic()
        assert follower.tick() == "busy"
        assert time.monotonic() - started < 2, "a follower must not wait for the lock"
        assert not (follower.path / "manifest.json").exists()
        with pytest.raises(IndexBusy):
            SearchIndex(follower.path).sync(db, wait=False)
    assert follower.tick() == "synced"
    assert opened(follower).status()["papers"] == 4


def test_the_index_command_waits_for_the_lock_and_says_so(db: Database, settings: Settings) -> None:
    add_papers(db, 1, 6)
    index_dir = settings.data_dir / "cli-index"
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": db.url,
        "PAPERFEED_DATA_DIR": str(settings.data_dir),
        "PAPERFEED_INDEX_DIR": str(index_dir),
    }
    with lock_held_by_another_process(index_dir):
        command = subprocess.Popen(
            [sys.executable, "-m", "paperfeed.cli", "index", "--no-embed"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        assert command.stderr is not None
        waiting = command.stderr.readline()
        assert "Waiting: another process is syncing the search index" in waiting, waiting
        assert command.poll() is None, "the command must wait, not give up"
    out, err = command.communicate(timeout=120)
    assert command.returncode == 0, err
    assert "6 papers and 0 vectors indexed" in out
    index = SearchIndex(index_dir)
    assert index.open() and index.status()["papers"] == 6


def test_syncs_from_two_processes_at_once_leave_one_correct_index(
    db: Database, settings: Settings
) -> None:
    add_papers(db, 1, 300)
    path = settings.data_dir / "shared-index"
    script = (
        "import sys; from pathlib import Path\n"
        "from paperfeed.db import Database; from paperfeed.search.index import SearchIndex\n"
        "s = SearchIndex(Path(sys.argv[1])).sync(Database(sys.argv[2]), batch_size=20)\n"
        "print(s.papers)\n"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path), db.url],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    indexed = sorted(int(run.communicate(timeout=120)[0]) for run in runs)
    assert all(run.returncode == 0 for run in runs)
    assert indexed == [0, 300], "the second sync should find the first one's work done"
    index = SearchIndex(path)
    assert index.open() and index.status()["papers"] == 300
    manifest = Manifest.read(path / "manifest.json")
    assert index_is_current(manifest, database_position(db))
    assert manifest is not None
    assert [p.name for p in (path / "builds").iterdir()] == [manifest.build], "one build left"


def test_two_followers_ticking_together_sync_once_each_change(
    db: Database, settings: Settings
) -> None:
    add_papers(db, 1, 200)
    first, second = follower_for(settings, db), follower_for(settings, db)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def tick(follower: IndexFollower) -> None:
        barrier.wait()
        outcomes.append(follower.tick())

    threads = [threading.Thread(target=tick, args=(f,)) for f in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes.count("synced") >= 1 and set(outcomes) <= {"synced", "busy", "current"}
    assert opened(first).status()["papers"] == 200
    assert first.tick() == second.tick() == "current"


# --- rebuilding under readers ---------------------------------------------------------------


def test_a_rebuild_never_shows_readers_a_half_built_index(db: Database, settings: Settings) -> None:
    add_papers(db, 1, 60)
    settings.index_dir = settings.data_dir / "node-index"
    SearchIndex(settings.index_dir, settings.tz).sync(db)
    runtime = SearchRuntime(settings, db)  # what a web process serves from
    served = runtime.index()
    assert served is not None and served.status()["papers"] == 60

    seen: list[int] = []

    def look(_stage: str, _done: int, _total: int) -> None:
        index = runtime.index()
        assert index is not None, "a rebuild took the index away from readers"
        seen.append(index.status()["papers"])

    rebuild = SearchIndex(settings.index_dir, settings.tz)
    stats = rebuild.sync(db, progress=look, batch_size=10, rebuild=True)
    assert stats.papers == 60 and len(seen) >= 6
    assert seen == [60] * len(seen), f"readers saw a partial index: {seen}"
    after = runtime.index()
    assert after is not None and after is not served, "the rebuilt index was not picked up"
    assert after.status()["papers"] == 60
    assert sorted(p.name for p in settings.index_dir.iterdir()) == [
        "builds",
        "manifest.json",
        "sync.lock",
    ]
    assert after.manifest is not None and served.manifest is not None
    assert after.manifest.build != served.manifest.build
    assert [p.name for p in (settings.index_dir / "builds").iterdir()] == [after.manifest.build]
    assert served.status()["papers"] == 60, "the replaced build's reader keeps working"


class CutShort(Exception):
    """Stands for a build killed part way (a crash, a restart)."""


def cut_after(papers: int) -> Callable[[str, int, int], None]:
    def progress(_stage: str, done: int, _total: int) -> None:
        if done >= papers:
            raise CutShort

    return progress


def test_a_first_build_cut_short_continues_where_it_stopped(
    db: Database, settings: Settings
) -> None:
    add_papers(db, 1, 50)
    path = settings.data_dir / "index-resume"
    with pytest.raises(CutShort):
        SearchIndex(path).sync(db, progress=cut_after(20), batch_size=10)
    assert not (path / "manifest.json").exists(), "half an index must not be served"
    assert SearchIndex(path).sync(db, batch_size=10).papers == 30
    index = SearchIndex(path)
    assert index.open() and index.status()["papers"] == 50

    with pytest.raises(CutShort):
        SearchIndex(path).sync(db, progress=cut_after(20), batch_size=10, rebuild=True)
    assert index.open() and index.status()["papers"] == 50, "the served index was kept"
    assert SearchIndex(path).sync(db, batch_size=10, rebuild=True).papers == 50


def test_a_sync_reads_the_vectors_only_when_an_embedding_changed(
    db: Database,
    settings: Settings,
    encoder,  # type: ignore[no-untyped-def]
) -> None:
    add_papers(db, 1, 5)
    embed_pending(db, encoder)
    path = settings.data_dir / "index-lazy"
    SearchIndex(path).sync(db)
    add_papers(db, 6, 1)  # a new paper, not embedded yet: a paper-only change

    index = SearchIndex(path)
    index.sync(db, load_unchanged_vectors=False)
    assert index.vectors is None and index.status()["papers"] == 6

    embed_pending(db, encoder)
    index.sync(db, load_unchanged_vectors=False)
    assert index.vectors is not None and index.vectors.count == 6
    served = SearchIndex(path)
    assert served.open() and served.status()["vectors"] == 6


def test_readers_keep_their_vectors_when_a_sync_changed_none(
    db: Database,
    settings: Settings,
    encoder,  # type: ignore[no-untyped-def]
) -> None:
    add_papers(db, 1, 4)
    embed_pending(db, encoder)
    settings.index_dir = settings.data_dir / "index-served"
    SearchIndex(settings.index_dir).sync(db)
    runtime = SearchRuntime(settings, db)
    first = runtime.index()
    assert first is not None and first.vectors is not None and first.vectors.count == 4

    add_papers(db, 5, 1)  # a paper-only change: the vectors stay what they were
    SearchIndex(settings.index_dir).sync(db)
    second = runtime.index()
    assert second is not first and second is not None
    assert second.vectors is first.vectors and second.status()["papers"] == 5

    embed_pending(db, encoder)
    SearchIndex(settings.index_dir).sync(db)
    third = runtime.index()
    assert third is not None and third.vectors is not first.vectors
    assert third.status()["vectors"] == 5

    SearchIndex(settings.index_dir).sync(db, rebuild=True)  # same position, new files
    fourth = runtime.index()
    assert fourth is not None and fourth.vectors is not third.vectors
    assert fourth.status()["vectors"] == 5
