"""The worker's `github` job: papers' GitHub repositories, their stars and star history.

Each run:
1. finds the code links of papers changed since the last run (papers/code_links.py);
2. registers every GitHub repository that is some paper's primary link (the link set on
   the paper, else the first found) in `github_repos`, as 'new';
3. asks GitHub (ingest/github_api.py) about at most `PAPERFEED_GITHUB_BATCH` repositories
   that are due: new ones first, then those last asked `PAPERFEED_GITHUB_REFRESH_HOURS`
   ago or more, oldest first; a repository GitHub says is gone only after `GONE_RETRY`.
   Each request names GitHub's last `ETag` for the repository, so an unchanged one is a
   304 that costs nothing against the rate limit (with a token). Each answer is written
   in its own transaction (the row, today's star count in `github_star_history`, and
   `touch_enrichment` when what pages show changed), so a killed run loses at most the
   one request it was making.

The star history keeps a count per day for `DAILY_HISTORY_DAYS`, and one per week (the
week's last) before that: trending's star term reads the last week, a chart of a year
needs no more, and the table stays ~ 140 rows per repository after years.

When GitHub's rate limit is spent, the run stops and notes the reset time (an
`ingest_cursors` row); later runs ask nothing before it, and say they are waiting. A GitHub
that is down fails the run (the next one carries on); pages show what was stored before.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.ingest.github_api import GitHubClient, GitHubRateLimited, RepoInfo, Unchanged
from paperfeed.ingest.http_client import RemoteRefused
from paperfeed.ingest.pauses import pause_until, paused_until
from paperfeed.models import GithubRepo, GithubStarCount, PaperCodeLink
from paperfeed.papers.code_links import update_code_links
from paperfeed.papers.derived import Progress
from paperfeed.papers.store import touch_enrichment

log = logging.getLogger(__name__)

RATE_LIMIT_CURSOR = "github:rate-limit"
GONE_RETRY = timedelta(days=30)
DAILY_HISTORY_DAYS = 90
REGISTER_CHUNK = 1000


@dataclass
class GithubStats:
    examined: int = 0  # papers whose code links were looked at
    linked: int = 0  # papers whose stored links changed
    registered: int = 0  # repositories new to `github_repos`
    fetched: int = 0  # answered with the repository
    unchanged: int = 0  # answered 304: as it was (free against the rate limit)
    gone: int = 0  # answered 404/410/451
    refused: int = 0  # answered with another refusal
    left: int = 0  # due repositories not asked this run (the batch was full)
    waiting_until: datetime | None = None  # GitHub's rate limit stopped the run

    def counts(self) -> dict[str, Any]:
        counts: dict[str, Any] = {
            "examined": self.examined,
            "linked": self.linked,
            "registered": self.registered,
            "fetched": self.fetched,
            "unchanged": self.unchanged,
            "gone": self.gone,
            "refused": self.refused,
            "left": self.left,
        }
        if self.waiting_until is not None:
            counts["rate limited until"] = f"{self.waiting_until:%Y-%m-%d %H:%M} UTC"
        return counts


def _primary_github() -> Any:
    return and_(PaperCodeLink.kind == "github", PaperCodeLink.is_primary.is_(True))


def register_repos(db: Database) -> int:
    """Add every GitHub repository that is a paper's primary link and not yet known."""
    with db.reader() as session:
        missing = list(
            session.scalars(
                select(PaperCodeLink.repo_key)
                .where(
                    _primary_github(),
                    ~exists().where(GithubRepo.repo == PaperCodeLink.repo_key),
                )
                .distinct()
            )
        )
    now = clock.now()
    for start in range(0, len(missing), REGISTER_CHUNK):
        with db.transaction() as session:
            session.add_all(
                GithubRepo(repo=key, status="new", created_at=now)
                for key in missing[start : start + REGISTER_CHUNK]
            )
    return len(missing)


def _due(now: datetime, refresh: timedelta) -> Any:
    wanted = exists().where(_primary_github(), PaperCodeLink.repo_key == GithubRepo.repo)
    return and_(
        wanted,
        or_(
            GithubRepo.checked_at.is_(None),
            and_(GithubRepo.status != "gone", GithubRepo.checked_at <= now - refresh),
            and_(GithubRepo.status == "gone", GithubRepo.checked_at <= now - GONE_RETRY),
        ),
    )


def due_repos(db: Database, settings: Settings, limit: int | None = None) -> list[str]:
    """The repositories to ask about now, new ones first, then the oldest answers."""
    now = clock.now()
    query = (
        select(GithubRepo.repo)
        .where(_due(now, timedelta(hours=settings.github_refresh_hours)))
        .order_by(GithubRepo.checked_at.asc().nulls_first(), GithubRepo.repo)
    )
    if limit is not None:
        query = query.limit(limit)
    with db.reader() as session:
        return list(session.scalars(query))


def _etags(db: Database, repos: list[str]) -> dict[str, str]:
    """GitHub's last ETag of each of `repos` that has one."""
    with db.reader() as session:
        rows = session.execute(
            select(GithubRepo.repo, GithubRepo.etag).where(
                GithubRepo.repo.in_(repos), GithubRepo.etag.is_not(None)
            )
        )
        return {repo: etag for repo, etag in rows if etag is not None}


def due_count(db: Database, settings: Settings) -> int:
    """How many repositories are due, counted in the database (the status line, the
    run's "left"): at the archive's scale there are hundreds of thousands."""
    due = _due(clock.now(), timedelta(hours=settings.github_refresh_hours))
    with db.reader() as session:
        return session.scalar(select(func.count()).select_from(GithubRepo).where(due)) or 0


def _shown(row: GithubRepo) -> tuple[object, ...]:
    return (row.status, row.full_name, row.description, row.stars, row.pushed_at)


def _store(
    db: Database, repo: str, info: RepoInfo | Unchanged | None, error: str | None = None
) -> None:
    """One answer, in its own transaction."""
    now = clock.now()
    with db.transaction() as session:
        row = session.get(GithubRepo, repo)
        if row is None:  # its paper went away meanwhile
            return
        before = _shown(row)
        row.checked_at = now
        if isinstance(info, Unchanged):  # as it was when it last answered with the repo
            row.status, row.error = "ok", None  # (an error since then is over)
            if row.stars is not None:  # today's count is the last one GitHub gave
                _count_stars(session, repo, now.date(), row.stars)
        elif info is not None:
            row.status, row.error, row.etag = "ok", None, info.etag
            row.full_name, row.description = info.full_name, info.description
            row.stars, row.pushed_at = info.stars, info.pushed_at
            _count_stars(session, repo, now.date(), info.stars)
        elif error is None:
            row.status, row.error, row.stars, row.etag = "gone", None, None, None
        else:
            row.status, row.error = "error", error[:1000]
        if _shown(row) != before:
            touch_enrichment(session)  # pages show it: revalidate, do not re-index


def _count_stars(session: Session, repo: str, day: date, stars: int) -> None:
    """Today's star count, and the history thinned: daily for `DAILY_HISTORY_DAYS`, then
    the last count of each ISO week."""
    session.merge(GithubStarCount(repo=repo, day=day, stars=stars))
    cutoff = day - timedelta(days=DAILY_HISTORY_DAYS)
    old = session.scalars(
        select(GithubStarCount.day)
        .where(GithubStarCount.repo == repo, GithubStarCount.day < cutoff)
        .order_by(GithubStarCount.day.desc())
    ).all()
    kept: set[tuple[int, int]] = set()
    dropped = []
    for older in old:  # newest first: the first of each week seen is its last day
        week = older.isocalendar()[:2]
        if week in kept:
            dropped.append(older)
        kept.add(week)
    if dropped:
        session.execute(
            delete(GithubStarCount).where(
                GithubStarCount.repo == repo, GithubStarCount.day.in_(dropped)
            )
        )


def update_github(
    db: Database,
    settings: Settings,
    client: GitHubClient,
    progress: Progress | None = None,
) -> GithubStats:
    """One run of the job (see the module's docstring)."""
    stats = GithubStats()
    links = update_code_links(db, batch=settings.keywords_batch)
    stats.examined, stats.linked = links.examined, links.changed
    stats.registered = register_repos(db)
    waiting = paused_until(db, RATE_LIMIT_CURSOR)
    if waiting is not None:
        stats.waiting_until = waiting
        stats.left = due_count(db, settings)
        return stats
    todo = due_repos(db, settings, limit=settings.github_batch + 1)
    if len(todo) > settings.github_batch:
        stats.left = due_count(db, settings) - settings.github_batch
        todo = todo[: settings.github_batch]
    etags = _etags(db, todo)
    for done, repo in enumerate(todo, start=1):
        try:
            info = client.repo(repo, etags.get(repo))
        except GitHubRateLimited as limited:
            pause_until(db, RATE_LIMIT_CURSOR, limited.resume_at)
            stats.waiting_until = limited.resume_at
            stats.left += len(todo) - done + 1
            log.warning("github: %s; the job resumes then", limited)
            break
        except RemoteRefused as refused:
            _store(db, repo, None, error=str(refused))
            stats.refused += 1
        else:
            _store(db, repo, info)
            if info is None:
                stats.gone += 1
            elif isinstance(info, Unchanged):
                stats.unchanged += 1
            else:
                stats.fetched += 1
        if progress:
            progress(done, len(todo))
    return stats
