"""`paperfeed worker`: harvest -> index -> keywords -> github -> digests, each on its own interval.

A job is due when its last run (by any worker) started at least its interval ago
(`PAPERFEED_WORKER_*_INTERVAL`; 0 turns it off); a run cut short by a crash or an outage
does not count (see `last_start`). Before running, the worker takes the
job's lease (see `leases.py`) and checks again that it is due, so several workers can run
side by side (for availability) and each job still runs once per interval. Every run is
a `job_runs` row: started, finished, status (`running`, `ok`, `failed`, `skipped`,
`abandoned`), counts and error. A run left `running` by a crashed worker is marked
`abandoned` by the next worker that takes the job.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database, is_outage
from paperfeed.jobs import leases
from paperfeed.models import JobLease, JobRun
from paperfeed.progress import Progress

log = logging.getLogger(__name__)

JobFunction = Callable[[Database, Settings], dict[str, Any]]
ORDER = (
    "harvest",
    "index",
    "keywords",
    "github",
    "hub",
    "thumbnails",
    "summaries",
    "digest",
    "mail",
)
OUTAGE_WAIT = 5.0  # seconds between tries while the database is unreachable
FINISHED = ("ok", "failed", "skipped")  # the statuses of runs that count as having run


class JobSkipped(Exception):
    """The job could not run here (e.g. a feature not installed); not a failure."""


@dataclass
class Job:
    name: str
    interval: float  # seconds between starts
    run: JobFunction


# --- the jobs ----------------------------------------------------------------------------


@contextmanager
def _progress(job: str) -> Iterator[Progress]:
    """A job's progress line with its ETA: redrawn on a terminal (`worker --once`), a log
    line a minute otherwise, and the last one always."""
    progress = Progress(job, every=0.5 if sys.stderr.isatty() else 60.0)
    try:
        yield progress
    finally:
        progress.close()


def harvest_job(db: Database, settings: Settings) -> dict[str, Any]:
    """Harvest arXiv since the last complete harvest (yesterday on a fresh site)."""
    from paperfeed.ingest.oai import HarvestRange, OaiClient, harvest

    wanted = HarvestRange(
        set_spec=settings.arxiv_oai_set,
        prefix=settings.arxiv_oai_format,
        default_from=clock.now().date() - timedelta(days=1),
    )
    with OaiClient.from_settings(settings) as client:
        stats = harvest(db, settings, client, wanted)
    return stats.counts()


def index_job(db: Database, settings: Settings) -> dict[str, Any]:
    from paperfeed.search.indexing import run_index

    stats = run_index(db, settings)
    return {"embedded": stats.embed.embedded, "indexed": stats.sync.papers}


def keywords_job(db: Database, settings: Settings) -> dict[str, Any]:
    """Keywords for papers whose title or abstract is new or changed (search/keywords.py)."""
    from paperfeed.search.keywords import update_keywords

    with _progress("keywords") as progress:
        stats = update_keywords(db, settings, progress=progress)
    return {"examined": stats.examined, "computed": stats.computed}


def github_job(db: Database, settings: Settings) -> dict[str, Any]:
    """Code links of new and changed papers, and their GitHub repositories' stars, new ones
    first, then the oldest (ingest/github_repos.py)."""
    from paperfeed.ingest.github_api import GitHubClient
    from paperfeed.ingest.github_repos import update_github

    with GitHubClient.from_settings(settings) as client, _progress("github") as progress:
        return update_github(db, settings, client, progress).counts()


def summaries_job(db: Database, settings: Settings) -> dict[str, Any]:
    """Machine-written summaries of the feed's papers, newest first, within the daily caps
    (ingest/summarize.py); skipped, saying why, without an endpoint."""
    from paperfeed.ingest.chat_api import ChatClient
    from paperfeed.ingest.summarize import off_reason, update_summaries

    reason = off_reason(settings)
    if reason is not None:
        raise JobSkipped(reason)
    with ChatClient.from_settings(settings) as client, _progress("summaries") as progress:
        return update_summaries(db, settings, client, progress).counts()


def thumbnails_job(db: Database, settings: Settings) -> dict[str, Any]:
    """First-page thumbnails of the feed's new arXiv papers, newest first, fetched on
    arXiv's pace and rendered in a child process (ingest/thumbnails.py)."""
    from paperfeed.ingest.thumbnails import run

    with _progress("thumbnails") as progress:
        return run(db, settings, progress).counts()


def hub_job(db: Database, settings: Settings) -> dict[str, Any]:
    """The models, datasets and Spaces on the Hugging Face Hub citing arXiv papers, never
    asked first, then the oldest answers (ingest/hub_links.py)."""
    from paperfeed.ingest.hub_links import HubClient, update_hub

    with HubClient.from_settings(settings) as client, _progress("hub") as progress:
        return update_hub(db, settings, client, progress).counts()


def digest_job(db: Database, settings: Settings) -> dict[str, Any]:
    try:
        from paperfeed.digest.sending import send_due
    except ImportError as exc:
        raise JobSkipped(f"digests not available ({exc})") from None
    result = send_due(settings, db)
    return dict(result) if isinstance(result, dict) else {"result": str(result)}


def mail_job(db: Database, settings: Settings) -> dict[str, Any]:
    """Deliver the outgoing mail queue (web processes do too; claims keep them apart)."""
    from paperfeed.outbox import deliver_due

    return dict(deliver_due(db, settings).counts())


FUNCTIONS: dict[str, JobFunction] = {
    "harvest": harvest_job,
    "index": index_job,
    "keywords": keywords_job,
    "github": github_job,
    "hub": hub_job,
    "thumbnails": thumbnails_job,
    "summaries": summaries_job,
    "digest": digest_job,
    "mail": mail_job,
}


def jobs_from_settings(settings: Settings, names: Iterable[str] = ORDER) -> list[Job]:
    intervals = {
        "harvest": settings.worker_harvest_interval,
        "index": settings.worker_index_interval,
        "keywords": settings.worker_keywords_interval,
        "github": settings.worker_github_interval,
        "hub": settings.worker_hub_interval,
        "thumbnails": settings.worker_thumbnails_interval,
        "summaries": settings.worker_summaries_interval,
        "digest": settings.worker_digest_interval,
        "mail": settings.worker_mail_interval,
    }
    wanted = set(names)
    return [
        Job(name, intervals[name], FUNCTIONS[name])
        for name in ORDER
        if name in wanted and intervals[name] > 0
    ]


# --- the worker --------------------------------------------------------------------------


def last_start(db: Database, job: str, asking: str | None = None) -> datetime | None:
    """When the last run that counts toward the schedule started.

    Finished runs count (`ok`, `failed`, `skipped`), and a `running` one while its holder
    still holds the job's lease. A run cut short counts for nothing: one marked
    `abandoned`, one whose holder's lease has expired (a crashed worker, not yet marked),
    and one left `running` by the `asking` worker itself, which is not running it (the
    database went away mid-run). So an interrupted daily job runs again as soon as it
    can, not a day later.
    """
    now = clock.now()
    live = (
        select(JobLease.job)
        .where(
            JobLease.job == JobRun.job,
            JobLease.holder == JobRun.holder,
            JobLease.expires_at > now,
        )
        .exists()
    )
    running = and_(JobRun.status == "running", live)
    if asking is not None:
        running = and_(running, JobRun.holder != asking)
    with db.reader() as session:
        return session.execute(
            select(func.max(JobRun.started_at)).where(
                JobRun.job == job, or_(JobRun.status.in_(FINISHED), running)
            )
        ).scalar_one()


def next_due(db: Database, job: Job, asking: str | None = None) -> datetime:
    """When `job` is due next; `asking` is the worker that asks (see `last_start`)."""
    started = last_start(db, job.name, asking)
    return clock.now() if started is None else started + timedelta(seconds=job.interval)


class Worker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        jobs: list[Job],
        holder: str | None = None,
        lease_seconds: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.db = db
        self.settings = settings
        self.jobs = jobs
        self.holder = holder or leases.new_holder()
        self.ttl = float(lease_seconds or settings.worker_lease_seconds)
        self._sleep = sleep
        self.stopping = threading.Event()

    def run_once(self) -> list[JobRun]:
        """Run every due job whose lease we can take, in schedule order."""
        runs = []
        for job in self.jobs:
            if self.stopping.is_set():
                break
            if next_due(self.db, job, self.holder) > clock.now():
                continue
            run = self.run_job(job)
            if run is not None:
                runs.append(run)
        return runs

    def run_forever(self, idle_max: float = 60.0, outage_wait: float = OUTAGE_WAIT) -> None:
        """Run jobs as they fall due until stopped; ride out database outages.

        While the database is unreachable the worker logs it once, waits and tries again
        (a run it had started is marked abandoned by the next one), instead of exiting.
        """
        down_since: float | None = None
        while not self.stopping.is_set():
            try:
                self.run_once()
                wait = min(
                    [
                        (next_due(self.db, job, self.holder) - clock.now()).total_seconds()
                        for job in self.jobs
                    ]
                    or [idle_max]
                )
            except Exception as exc:
                if not is_outage(exc):
                    raise
                if down_since is None:
                    down_since = time.monotonic()
                    log.warning("the database is unavailable (%s); retrying", _first_line(exc))
                self.stopping.wait(outage_wait)
                continue
            if down_since is not None:
                log.warning("the database is back after %.0f s", time.monotonic() - down_since)
                down_since = None
            self.stopping.wait(min(max(wait, 1.0), idle_max))

    def run_job(self, job: Job) -> JobRun | None:
        """Take the lease, run the job, record the run; None if another worker has it."""
        if not leases.acquire(self.db, job.name, self.holder, self.ttl):
            return None
        try:
            if next_due(self.db, job, self.holder) > clock.now():
                return None  # another worker ran it while we waited for the lease
            run_id = self._start(job.name)
            renewer = _Renewer(self.db, job.name, self.holder, self.ttl)
            renewer.start()
            status, counts, error = "ok", None, None
            try:
                counts = job.run(self.db, self.settings)
            except JobSkipped as exc:
                status, error = "skipped", str(exc)
            except Exception as exc:  # a job's failure is recorded, never kills the worker
                status, error = "failed", f"{exc.__class__.__name__}: {exc}"
                log.error("job %s failed:\n%s", job.name, traceback.format_exc())
            finally:
                renewer.stop()
            if renewer.lost:
                error = (error + "; " if error else "") + "the lease was lost while running"
            return self._finish(run_id, status, counts, error)
        finally:
            leases.release(self.db, job.name, self.holder)

    def _start(self, job: str) -> int:
        now = clock.now()
        with self.db.transaction() as session:
            session.execute(
                update(JobRun)
                .where(JobRun.job == job, JobRun.status == "running")
                .values(
                    status="abandoned",
                    finished_at=now,
                    error="the worker stopped before the run finished",
                )
            )
            run = JobRun(job=job, holder=self.holder, status="running", started_at=now, items=0)
            session.add(run)
            session.flush()
            return run.id

    def _finish(
        self, run_id: int, status: str, counts: dict[str, Any] | None, error: str | None
    ) -> JobRun:
        with self.db.transaction() as session:
            run = session.get(JobRun, run_id)
            assert run is not None
            run.status = status
            run.finished_at = clock.now()
            run.counts = counts
            run.items = sum(v for v in (counts or {}).values() if isinstance(v, int))
            run.error = error
            run.detail = _summary(counts, error)
        log.info("job %s: %s (%s)", run.job, status, run.detail)
        return run


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__


def _summary(counts: dict[str, Any] | None, error: str | None) -> str:
    parts = [f"{k} {v}" for k, v in (counts or {}).items()]
    if error:
        parts.append(error)
    return ", ".join(parts)


class _Renewer:
    """Renews a lease every third of its life until stopped; notes if it was lost."""

    def __init__(self, db: Database, job: str, holder: str, ttl: float) -> None:
        self.db, self.job, self.holder, self.ttl = db, job, holder, ttl
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                if not leases.renew(self.db, self.job, self.holder, self.ttl):
                    self.lost = True
                    log.warning("lease of %s lost: another worker may run it", self.job)
                    return
            except Exception:  # the database is briefly away: try again next time
                log.warning("could not renew the lease of %s", self.job, exc_info=True)
