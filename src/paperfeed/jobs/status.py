"""`paperfeed status`: the last run of each job, its lease, and what the database holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.ingest import thumbnails
from paperfeed.ingest.github_repos import due_count
from paperfeed.ingest.hub_links import due_count as hub_due_count
from paperfeed.ingest.summarize import status as summary_status
from paperfeed.jobs import leases
from paperfeed.jobs.worker import ORDER, jobs_from_settings, next_due
from paperfeed.models import GithubRepo, IngestCursor, JobRun, Paper, PaperHubCheck
from paperfeed.outbox import queue_state
from paperfeed.plurals import plural


@dataclass
class JobStatus:
    name: str
    interval: float | None
    last: JobRun | None
    last_ok: datetime | None
    failures: int  # failed runs since the last successful one
    lease: tuple[str, datetime] | None
    next_due: datetime | None


def collect(db: Database, settings: Settings) -> dict[str, Any]:
    scheduled = {job.name: job for job in jobs_from_settings(settings)}
    jobs = []
    with db.reader() as session:
        for name in ORDER:
            last = session.execute(
                select(JobRun).where(JobRun.job == name).order_by(JobRun.id.desc()).limit(1)
            ).scalar_one_or_none()
            last_ok = session.execute(
                select(func.max(JobRun.started_at)).where(JobRun.job == name, JobRun.status == "ok")
            ).scalar_one()
            failed = select(func.count()).select_from(JobRun)
            failed = failed.where(JobRun.job == name, JobRun.status == "failed")
            if last_ok is not None:
                failed = failed.where(JobRun.started_at > last_ok)
            failures = session.execute(failed).scalar_one()
            job = scheduled.get(name)
            jobs.append(
                JobStatus(
                    name,
                    job.interval if job else None,
                    last,
                    last_ok,
                    failures,
                    leases.current(db, name),
                    next_due(db, job) if job else None,
                )
            )
        papers = session.execute(
            select(
                func.count(),
                func.count(Paper.arxiv_id),
                func.count(Paper.feed_at),
                func.count(Paper.hidden_at),
            ).select_from(Paper)
        ).one()
        mail = queue_state(session, failures=3)
        cursors = session.execute(select(IngestCursor).order_by(IngestCursor.source)).scalars()
        cursor_rows = [(c.source, c.cursor, c.state or {}, c.updated_at) for c in cursors]
        repos: dict[str, int] = dict(
            session.execute(
                select(GithubRepo.status, func.count()).group_by(GithubRepo.status)
            ).all()
        )
    due = due_count(db, settings) if repos else 0
    with db.reader() as session:
        hub = session.execute(
            select(
                func.count(),
                func.count(PaperHubCheck.paper_id).filter(PaperHubCheck.status == "error"),
                func.count(PaperHubCheck.paper_id).filter(
                    (
                        PaperHubCheck.num_models
                        + PaperHubCheck.num_datasets
                        + PaperHubCheck.num_spaces
                    )
                    > 0
                ),
            ).select_from(PaperHubCheck)
        ).one()
    hub_due = hub_due_count(db, settings) if papers[1] else 0
    with db.reader() as session:
        thumbs = thumbnails.status_counts(session)
    return {
        "github": (repos, due),
        "hub": (tuple(hub), hub_due),
        "thumbnails": (thumbs, thumbnails.due_count(db, settings)),
        "summaries": summary_status(db, settings),
        "jobs": jobs,
        "papers": dict(zip(("total", "arxiv", "in_feed", "hidden"), papers, strict=True)),
        "cursors": cursor_rows,
        "mail": mail,
    }


def render(report: dict[str, Any]) -> str:
    now = clock.now()
    lines = ["jobs:"]
    for job in report["jobs"]:
        every = f"every {_duration(job.interval)}" if job.interval else "off"
        head = f"  {job.name:<8} {every:<14}"
        last: JobRun | None = job.last
        if last is None:
            lines.append(f"{head} never run")
        else:
            took = (
                _duration((last.finished_at - last.started_at).total_seconds())
                if last.finished_at
                else "…"
            )
            if last.status == "running":
                lines.append(
                    f"{head} running since {last.started_at:%Y-%m-%d %H:%M} UTC "
                    f"({_ago(now, last.started_at)})"
                )
            else:
                lines.append(
                    f"{head} last {last.status} at {last.started_at:%Y-%m-%d %H:%M} UTC "
                    f"({_ago(now, last.started_at)} ago, took {took})"
                )
            if last.detail:
                lines.append(f"{'':<26}{last.detail}")
        if job.failures:
            since = f"since {job.last_ok:%Y-%m-%d %H:%M}" if job.last_ok else "and never ok"
            lines.append(f"{'':<26}{plural(job.failures, 'failed run')} {since}")
        if job.lease:
            lines.append(
                f"{'':<26}running now: {job.lease[0]} (lease until {job.lease[1]:%H:%M:%S})"
            )
        elif job.next_due:
            when = "now" if job.next_due <= now else f"in {_ago(job.next_due, now)}"
            lines.append(f"{'':<26}next run {when}")
    papers = report["papers"]
    lines.append(
        f"papers: {papers['total']:,} ({papers['arxiv']:,} from arXiv, "
        f"{papers['in_feed']:,} in the feed, {papers['hidden']:,} hidden)"
    )
    mail = report["mail"]
    counts = mail.counts
    waiting = counts["queued"] + counts["sending"]
    line = f"mail: {waiting:,} waiting, {counts['sent']:,} sent, {counts['failed']:,} failed"
    if mail.oldest_queued is not None:
        line += f" (oldest waiting {_ago(now, mail.oldest_queued)})"
    lines.append(line)
    for failure in mail.recent_failures:
        lines.append(
            f"  {failure.status} {failure.kind} to {failure.to_address} "
            f"({plural(failure.attempts, 'try', 'tries')}): {failure.error}"
        )
    repos, due = report.get("github", ({}, 0))
    if repos:
        lines.append(
            f"github: {plural(sum(repos.values()), 'repository', 'repositories')} "
            f"({repos.get('ok', 0):,} with stars, {repos.get('gone', 0):,} gone, "
            f"{repos.get('error', 0):,} refused, {repos.get('new', 0):,} not yet asked), "
            f"{due:,} due"
        )
    (asked, errors, linked), hub_due = report.get("hub", ((0, 0, 0), 0))
    if asked or hub_due:
        lines.append(
            f"hub: {plural(asked, 'paper')} asked ({linked:,} with models, datasets or Spaces, "
            f"{errors:,} errors), {hub_due:,} due"
        )
    summary = report.get("summaries")
    if summary:
        lines.append(_summary_line(summary))
    thumbs, thumbs_due = report.get("thumbnails", ({}, 0))
    if thumbs or thumbs_due:
        lines.append(
            f"thumbnails: {thumbs.get('rendered', 0):,} rendered, "
            f"{thumbs.get('missing', 0):,} without a PDF, {thumbs.get('skipped', 0):,} skipped, "
            f"{thumbs.get('error', 0):,} to try again, {thumbs_due:,} due"
        )
    if report["cursors"]:
        lines.append("ingest cursors:")
    for source, cursor, state, updated in report["cursors"]:
        if source.startswith("arxiv-oai:"):
            where = (
                f"complete, next from {state.get('next_from')}"
                if state.get("complete")
                else f"in progress from {state.get('from')} "
                f"({plural(state.get('records', 0), 'record')})"
            )
        elif source.startswith("arxiv-snapshot:"):
            where = f"line {state.get('line', 0):,} of {state.get('file', '?')}"
        else:
            where = f"at {cursor}"
        lines.append(f"  {source}: {where}, updated {updated:%Y-%m-%d %H:%M} UTC")
    return "\n".join(lines)


def _summary_line(summary: dict[str, Any]) -> str:
    (requests, request_cap), (tokens, token_cap) = summary["requests"], summary["tokens"]
    where = summary["off"] or f"by {summary['model']}"
    return (
        f"summaries: {summary['written']:,} written, {summary['refused']:,} refused, "
        f"{summary['due']:,} due ({where}); today {requests:,} of {request_cap:,} requests, "
        f"{tokens:,} of {token_cap:,} tokens"
    )


def _ago(later: datetime, earlier: datetime) -> str:
    return _duration((later - earlier).total_seconds())


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
