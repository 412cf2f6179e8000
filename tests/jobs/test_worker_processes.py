"""Two `paperfeed worker` processes on one PostgreSQL database, with jobs due every second:
the leases keep every run of a job apart in time, and either worker can take any job."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from paperfeed.db import Database
from paperfeed.models import JobRun

JOBS = ("index", "digest")  # real work on an empty site: an index sync, a digest pass
SHARED_SECONDS = 8.0  # how long both workers run side by side


def finished_runs(db: Database) -> list[JobRun]:
    with db.reader() as session:
        return list(
            session.execute(
                select(JobRun).where(JobRun.finished_at.is_not(None)).order_by(JobRun.id)
            ).scalars()
        )


def pid_of(run: JobRun) -> int:
    return int(run.holder.split(":")[1])  # holders are host:pid:random


class WorkerProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "paperfeed.cli", "worker", "--jobs", ",".join(JOBS)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.pid = self.process.pid

    def stop(self) -> int:
        """SIGTERM: the worker finishes the job in hand, releases its lease and exits."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_worker_processes_never_run_a_job_at_once(db: Database, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PAPERFEED_DATA_DIR": str(tmp_path),  # shared, like one search index on shared disk
        "PAPERFEED_DATABASE_URL": db.url,
        "PAPERFEED_WORKER_HARVEST_INTERVAL": "0",
        "PAPERFEED_WORKER_INDEX_INTERVAL": "1",
        "PAPERFEED_WORKER_DIGEST_INTERVAL": "1",
        "PAPERFEED_WORKER_LEASE_SECONDS": "30",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("PAPERFEED_CLOCK", None)  # the schedule must move on in real time
    first = WorkerProcess(env, tmp_path / "first.log")
    second: WorkerProcess | None = None
    try:
        wait_for(lambda: any(pid_of(r) == first.pid for r in finished_runs(db)), "A ran a job")
        second = WorkerProcess(env, tmp_path / "second.log")
        wait_for(lambda: "worker " in second.output(), "B started")
        before_shared = len(finished_runs(db))
        time.sleep(SHARED_SECONDS)
        assert first.stop() == 0, first.output()
        during_shared = len(finished_runs(db)) - before_shared
        # With the first worker gone, the second takes every job from here on.
        seen = len(finished_runs(db))
        wait_for(
            lambda: (
                {r.job for r in finished_runs(db)[seen:] if pid_of(r) == second.pid} == set(JOBS)
            ),
            "B ran every job alone",
        )
        assert second.stop() == 0, second.output()
    finally:
        first.stop()
        if second is not None:
            second.stop()

    with db.reader() as session:
        statuses = set(session.execute(select(JobRun.status)).scalars())
    assert statuses == {"ok"}, (statuses, first.output(), second.output())
    runs = finished_runs(db)
    assert {pid_of(r) for r in runs} == {first.pid, second.pid}
    assert during_shared >= SHARED_SECONDS / 2  # jobs kept running while both competed
    for job in JOBS:
        spans = sorted((r.started_at, r.finished_at) for r in runs if r.job == job)
        assert len(spans) >= 3, (job, spans)
        overlapping = [(a, b) for a, b in itertools.pairwise(spans) if a[1] > b[0]]
        assert overlapping == [], (job, overlapping)
