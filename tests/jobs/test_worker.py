"""The worker: schedule, leases between workers, run records, and the CLI around it."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.jobs import leases
from paperfeed.jobs.status import collect, render
from paperfeed.jobs.worker import ORDER, Job, JobSkipped, Worker, jobs_from_settings, next_due
from paperfeed.models import JobRun
from tests.conftest import FIXED_NOW
from tests.servers import FakeOaiPmh

pytest_plugins = ["tests.servers"]


def settings_for(tmp_path: Path, db: Database, **extra: Any) -> Settings:
    return Settings(data_dir=tmp_path, database_url=db.url, secret_key="x", **extra)


def runs(db: Database) -> list[JobRun]:
    with db.reader() as session:
        return list(session.execute(select(JobRun).order_by(JobRun.id)).scalars())


def test_the_schedule_comes_from_settings(tmp_path: Path, db: Database) -> None:
    settings = settings_for(tmp_path, db, worker_index_interval=0, worker_digest_interval=60)
    assert [(j.name, j.interval) for j in jobs_from_settings(settings)] == [
        ("harvest", 6 * 3600),
        ("keywords", 600),
        ("github", 3600),
        ("hub", 3600),
        ("thumbnails", 3600),
        ("summaries", 1800),
        ("digest", 60),
        ("mail", 30),
    ]
    assert [j.name for j in jobs_from_settings(settings, ["digest", "index"])] == ["digest"]


def test_a_job_runs_when_due_and_is_recorded(tmp_path: Path, db: Database) -> None:
    calls: list[str] = []

    def count_papers(db: Database, settings: Settings) -> dict[str, Any]:
        calls.append("ran")
        return {"added": 3, "skipped": 1, "note": "text is kept, not summed"}

    worker = Worker(db, settings_for(tmp_path, db), [Job("harvest", 3600, count_papers)], "w1")
    (run,) = worker.run_once()
    assert (run.status, run.counts, run.items, run.error) == (
        "ok",
        {"added": 3, "skipped": 1, "note": "text is kept, not summed"},
        4,
        None,
    )
    assert run.started_at == run.finished_at == FIXED_NOW and run.holder == "w1"
    assert worker.run_once() == [] and calls == ["ran"]  # not due again yet
    with clock.frozen(FIXED_NOW + timedelta(seconds=3600)):
        assert [r.status for r in worker.run_once()] == ["ok"]
    assert len(calls) == 2
    assert leases.current(db, "harvest") is None  # released after each run


def test_a_failing_job_is_recorded_and_the_next_job_still_runs(
    tmp_path: Path, db: Database
) -> None:
    def broken(db: Database, settings: Settings) -> dict[str, Any]:
        raise RuntimeError("arXiv is down")

    def fine(db: Database, settings: Settings) -> dict[str, Any]:
        return {"indexed": 2}

    worker = Worker(
        db, settings_for(tmp_path, db), [Job("harvest", 60, broken), Job("index", 60, fine)]
    )
    failed, ok = worker.run_once()
    assert (failed.status, failed.error) == ("failed", "RuntimeError: arXiv is down")
    assert ok.status == "ok"
    text = render(collect(db, settings_for(tmp_path, db)))
    assert "harvest  every 6h" in text and "last failed at 2026-11-20 20:00 UTC" in text
    assert "RuntimeError: arXiv is down" in text
    assert "1 failed run and never ok" in text
    assert "index    every 10m" in text and "last ok" in text and "indexed 2" in text


def test_the_digest_job_says_when_digests_are_not_available(
    tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "paperfeed.digest.sending", None)  # import fails
    settings = settings_for(tmp_path, db)
    (run,) = Worker(db, settings, jobs_from_settings(settings, ["digest"])).run_once()
    assert run.status == "skipped"
    assert run.error.startswith("digests not available")


def test_a_crashed_workers_run_is_abandoned_and_its_job_taken_over(
    tmp_path: Path, db: Database
) -> None:
    settings = settings_for(tmp_path, db)
    ran: list[str] = []
    job = Job("harvest", 60, lambda db, s: ran.append("x") or {})
    crashed = Worker(db, settings, [job], "crashed", lease_seconds=120)
    assert leases.acquire(db, "harvest", crashed.holder, 120)
    crashed._start("harvest")  # it started a run, then died holding the lease
    with clock.frozen(FIXED_NOW + timedelta(seconds=90)):
        assert Worker(db, settings, [job], "rescuer").run_once() == []  # lease still live
        text = render(collect(db, settings))
        assert "harvest  every 6h       running since 2026-11-20 20:00 UTC (90s)" in text
        assert "running now: crashed (lease until 20:02:00)" in text
    with clock.frozen(FIXED_NOW + timedelta(seconds=121)):
        (run,) = Worker(db, settings, [job], "rescuer").run_once()
    assert run.status == "ok" and ran == ["x"]
    old, new = runs(db)
    assert (old.holder, old.status) == ("crashed", "abandoned")
    assert old.error == "the worker stopped before the run finished"
    assert (new.holder, new.status) == ("rescuer", "ok")


DAY = 24 * 3600


def test_a_run_cut_short_does_not_count_toward_the_next_due_time(
    tmp_path: Path, db: Database
) -> None:
    """A daily job interrupted by an outage runs again at once, not a day later."""
    settings = settings_for(tmp_path, db)
    job = Job("digest", DAY, lambda db, s: {"sent": 1})
    worker = Worker(db, settings, [job], "w1", lease_seconds=300)
    assert leases.acquire(db, "digest", worker.holder, 300)
    worker._start("digest")  # then the database went away: the run stays `running`
    back = FIXED_NOW + timedelta(seconds=30)  # the database is back
    with clock.frozen(back):
        assert next_due(db, job, "w1") == back  # due now: w1 knows it is not running it
        assert next_due(db, job) == FIXED_NOW + timedelta(days=1)  # others see it running
        (run,) = worker.run_once()
    assert run.status == "ok"
    cut, again = runs(db)
    assert (cut.status, again.status) == ("abandoned", "ok")
    with clock.frozen(FIXED_NOW + timedelta(seconds=60)):
        assert worker.run_once() == []  # the finished run counts from its start
    assert next_due(db, job, "w1") == FIXED_NOW + timedelta(days=1, seconds=30)


def test_a_crashed_workers_daily_job_is_due_once_its_lease_expires(
    tmp_path: Path, db: Database
) -> None:
    settings = settings_for(tmp_path, db)
    job = Job("harvest", DAY, lambda db, s: {})
    assert leases.acquire(db, "harvest", "crashed", 120)
    Worker(db, settings, [job], "crashed")._start("harvest")
    rescuer = Worker(db, settings, [job], "rescuer")
    with clock.frozen(FIXED_NOW + timedelta(seconds=119)):
        assert rescuer.run_once() == []  # its lease is live: it may still be running
    with clock.frozen(FIXED_NOW + timedelta(seconds=121)):
        assert "next run now" in render(collect(db, settings))
        (run,) = rescuer.run_once()
    assert run.status == "ok"
    assert [r.status for r in runs(db)] == ["abandoned", "ok"]


@pytest.mark.parametrize("outcome", ["ok", "failed", "skipped"])
def test_a_finished_or_failed_run_counts_from_its_start(
    tmp_path: Path, db: Database, outcome: str
) -> None:
    def end(db: Database, settings: Settings) -> dict[str, Any]:
        if outcome == "failed":
            raise RuntimeError("arXiv is down")
        if outcome == "skipped":
            raise JobSkipped("not installed")
        return {}

    job = Job("harvest", DAY, end)
    worker = Worker(db, settings_for(tmp_path, db), [job], "w1")
    (run,) = worker.run_once()
    assert run.status == outcome
    with clock.frozen(FIXED_NOW + timedelta(hours=23)):
        assert worker.run_once() == []
        assert next_due(db, job, "w1") == FIXED_NOW + timedelta(days=1)


def test_the_lease_is_renewed_while_a_long_job_runs(
    tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "_fixed", None)  # real time: a 0.3 s lease, a 1 s job
    seen = []

    def slow(db: Database, settings: Settings) -> dict[str, Any]:
        for _ in range(5):
            time.sleep(0.2)
            seen.append(leases.current(db, "index"))
        return {}

    worker = Worker(db, settings_for(tmp_path, db), [Job("index", 60, slow)], lease_seconds=0.3)
    (run,) = worker.run_once()
    assert run.status == "ok" and run.error is None
    assert all(lease is not None and lease[0] == worker.holder for lease in seen), seen
    assert len({lease[1] for lease in seen}) > 1  # the expiry moved on


def test_two_workers_never_run_the_same_job_at_once(tmp_path: Path, db: Database) -> None:
    """Two workers, each with its own engine (own connections), loop over an always-due job."""
    active: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    executions: list[str] = []
    guard = threading.Lock()

    def exclusive(database: Database, settings: Settings) -> dict[str, Any]:
        with guard:
            active.append(threading.current_thread().name)
            if len(active) > 1:
                overlaps.append(tuple(active))
            executions.append(threading.current_thread().name)
        time.sleep(0.05)
        with guard:
            active.remove(threading.current_thread().name)
        return {"done": 1}

    databases = [Database(db.url), Database(db.url)]
    workers = [
        Worker(each, settings_for(tmp_path, each), [Job("harvest", 0, exclusive)], f"w{i}")
        for i, each in enumerate(databases)
    ]
    barrier = threading.Barrier(2)

    refused: list[str] = []

    def loop(worker: Worker) -> None:
        barrier.wait()
        for _ in range(15):
            if not worker.run_once():  # the other worker held the lease
                refused.append(worker.holder)

    threads = [threading.Thread(target=loop, args=(w,), name=w.holder) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for each in databases:
        each.dispose()
    assert overlaps == []
    recorded = runs(db)
    assert len(recorded) == len(executions) >= 2
    assert len(executions) + len(refused) == 30
    assert all(r.status == "ok" for r in recorded)
    spans = sorted((r.started_at, r.finished_at) for r in recorded)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def _env(tmp_path: Path, db: Database, oai_pmh: FakeOaiPmh) -> dict[str, str]:
    return {
        **os.environ,
        "PAPERFEED_DATA_DIR": str(tmp_path),
        "PAPERFEED_DATABASE_URL": db.url,
        "PAPERFEED_ARXIV_OAI_URL": oai_pmh.url,
        "PAPERFEED_ARXIV_REQUEST_INTERVAL": "0",
        "PAPERFEED_CLOCK": "2026-11-20T20:00:00Z",
    }


def test_two_worker_processes_run_the_harvest_once(
    tmp_path: Path, db: Database, oai_pmh: FakeOaiPmh
) -> None:
    oai_pmh.add(
        FakeOaiPmh.raw_record("2611.00001", "2026-11-20", ["Thu, 19 Nov 2026 18:00:00 GMT"])
    )
    oai_pmh.resume_delay = 0.5
    oai_pmh.page_size = 1
    command = [sys.executable, "-m", "paperfeed.cli", "worker", "--once", "--jobs", "harvest"]
    env = _env(tmp_path, db, oai_pmh)
    processes = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    stdout = [out for out, _ in outputs]
    assert sum("harvest: ok" in out for out in stdout) == 1, stdout
    assert sum("nothing due" in out for out in stdout) == 1, stdout
    (run,) = runs(db)
    assert run.status == "ok" and run.counts["added"] == 1
    # A fresh site harvests from yesterday; the deleted record of 11-19 counts as a record.
    starts = [r for r in oai_pmh.requests if r.param("metadataPrefix")]
    assert len(starts) == 1 and starts[0].param("from") == "2026-11-19"
    status = subprocess.run(
        [sys.executable, "-m", "paperfeed.cli", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    assert "harvest  every 6h" in status.stdout
    assert "last ok at 2026-11-20 20:00 UTC" in status.stdout
    assert "added 1" in status.stdout and "next run in 6h" in status.stdout
    assert "index    every 10m      never run" in status.stdout
    assert "papers: 1 (1 from arXiv, 0 in the feed, 0 hidden)" in status.stdout
    assert "arxiv-oai:arXivRaw:*: complete, next from 2026-11-20" in status.stdout


def test_the_worker_command_rejects_unknown_jobs(tmp_path: Path, db: Database) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "paperfeed.cli", "worker", "--once", "--jobs", "harvest,post"],
        env={**os.environ, "PAPERFEED_DATA_DIR": str(tmp_path), "PAPERFEED_DATABASE_URL": db.url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    choices = ", ".join(ORDER)  # every job, in schedule order
    assert f"unknown job post: choose from {choices}" in result.stderr


def test_the_worker_runs_on_until_told_to_stop(tmp_path: Path, db: Database) -> None:
    env = {
        **os.environ,
        "PAPERFEED_DATA_DIR": str(tmp_path),
        "PAPERFEED_DATABASE_URL": db.url,
        "PAPERFEED_CLOCK": "2026-11-20T20:00:00Z",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "paperfeed.cli", "worker", "--jobs", "digest"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not [r for r in runs(db) if r.finished_at]:
        time.sleep(0.1)
    assert process.poll() is None  # still running, waiting for the next due time
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "worker " in out and "digest" in out
    (run,) = runs(db)
    assert run.job == "digest" and run.status in ("ok", "skipped")
    assert leases.current(db, "digest") is None
