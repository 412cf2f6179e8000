"""A worker outlives a database outage: it waits, then carries on by itself."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.jobs.worker import Job, Worker
from tests.jobs.test_worker import runs
from tests.web.pgcluster import ThrowawayCluster, make_cluster


@pytest.fixture
def cluster_db() -> Iterator[tuple[ThrowawayCluster, Database]]:
    cluster = make_cluster()
    try:
        db = Database(cluster.create_database("worker"))
        db.upgrade()
        yield cluster, db
        db.dispose()
    finally:
        cluster.destroy()


def wait_for(condition: Any, seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


def test_the_worker_waits_out_an_outage_and_runs_again(
    tmp_path: Path, cluster_db: tuple[ThrowawayCluster, Database]
) -> None:
    cluster, db = cluster_db
    clock.set_now(None)  # real time: the job falls due every second
    calls: list[float] = []

    def tick(db: Database, settings: Settings) -> dict[str, Any]:
        calls.append(time.monotonic())
        return {"ticks": 1}

    settings = Settings(data_dir=tmp_path, database_url=db.url, secret_key="x")
    worker = Worker(db, settings, [Job("digest", 1, tick)], "w1", lease_seconds=30)
    thread = threading.Thread(target=worker.run_forever, kwargs={"outage_wait": 0.2})
    thread.start()
    try:
        wait_for(lambda: len(calls) >= 1, 30, "the worker never ran its job")
        cluster.stop("immediate")
        time.sleep(3)  # several attempts against a database that is gone
        assert thread.is_alive(), "the worker exited during the outage"
        before = len(calls)
        cluster.start()
        wait_for(lambda: len(calls) > before, 30, "the worker did not run again after the outage")
    finally:
        worker.stopping.set()
        thread.join(30)
    assert not thread.is_alive()
    finished = [run for run in runs(db) if run.status == "ok"]
    assert len(finished) >= 2


def test_a_daily_job_cut_short_by_an_outage_runs_again_when_the_database_is_back(
    tmp_path: Path, cluster_db: tuple[ThrowawayCluster, Database]
) -> None:
    """The run the outage interrupted is abandoned and does not push the job a day back."""
    cluster, db = cluster_db
    clock.set_now(None)
    calls: list[str] = []

    def digest(database: Database, settings: Settings) -> dict[str, Any]:
        calls.append("start")
        if len(calls) == 1:  # the database goes away in the middle of the first run
            cluster.stop("immediate")
            threading.Timer(2, cluster.start).start()
            with database.reader() as session:
                session.execute(text("SELECT 1"))
        return {"sent": 1}

    settings = Settings(data_dir=tmp_path, database_url=db.url, secret_key="x")
    worker = Worker(db, settings, [Job("digest", 24 * 3600, digest)], "w1", lease_seconds=30)
    thread = threading.Thread(target=worker.run_forever, kwargs={"outage_wait": 0.2})
    thread.start()
    try:
        wait_for(lambda: len(calls) >= 2, 60, "the interrupted daily job did not run again")
    finally:
        worker.stopping.set()
        thread.join(30)
    assert [(run.status, run.holder) for run in runs(db)] == [("abandoned", "w1"), ("ok", "w1")]
