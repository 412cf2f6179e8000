"""The `github` job: registered repositories, fetched new, refreshed oldest first, with a
star history; rate limits stop it until the reset; a GitHub that is down changes nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.ingest.github_api import GitHubClient
from paperfeed.ingest.github_repos import due_repos, update_github
from paperfeed.ingest.http_client import RemoteUnavailable
from paperfeed.jobs.worker import Worker, jobs_from_settings
from paperfeed.models import GithubRepo, GithubStarCount, JobRun, Paper
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import (
    ENRICHMENT_CHANGE,
    PAPER_CHANGE,
    current_change_seq,
    upsert_papers,
)
from tests.conftest import FIXED_NOW
from tests.servers import FakeGitHubApi, Response, refused_url

pytest_plugins = ["tests.servers"]


@pytest.fixture
def gh_settings(settings: Settings, github_api: FakeGitHubApi) -> Settings:
    return settings.model_copy(
        update={"github_api_url": github_api.url, "github_request_interval": 0.0}
    )


@pytest.fixture
def client(gh_settings: Settings) -> Iterator[GitHubClient]:
    with GitHubClient.from_settings(gh_settings, backoff=0.01, max_retries=1) as made:
        yield made


def papers(db: Database) -> None:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Found", abstract="Code: github.com/found/one.", arxiv_id="2401.00001"
                ),
                PaperRecord(
                    title="Set",
                    abstract="A fork: https://github.com/someone/fork",
                    github_url="https://github.com/Owner/Official",
                    arxiv_id="2401.00002",
                ),
                PaperRecord(
                    title="GitLab", abstract="https://gitlab.com/g/p", arxiv_id="2401.00003"
                ),
                PaperRecord(
                    title="Gone", abstract="https://github.com/gone/away", arxiv_id="2401.00004"
                ),
            ],
        )


def repos(db: Database) -> dict[str, tuple[str, int | None]]:
    with db.reader() as session:
        return {r.repo: (r.status, r.stars) for r in session.scalars(select(GithubRepo))}


def history(db: Database) -> list[tuple[str, date, int]]:
    with db.reader() as session:
        return [
            (r.repo, r.day, r.stars)
            for r in session.scalars(
                select(GithubStarCount).order_by(GithubStarCount.repo, GithubStarCount.day)
            )
        ]


def counter(db: Database, name: str) -> int:
    with db.reader() as session:
        return current_change_seq(session, name)[0]


def test_new_repositories_are_fetched_and_stored_without_reindexing(
    db: Database, gh_settings: Settings, github_api: FakeGitHubApi, client: GitHubClient
) -> None:
    papers(db)
    github_api.add("found/one", 10, "The found one")
    github_api.add("Owner/Official", 250, "The official one")
    github_api.add("someone/fork", 1)
    paper_seq, enrichment = counter(db, PAPER_CHANGE), counter(db, ENRICHMENT_CHANGE)
    stats = update_github(db, gh_settings, client)
    assert (stats.examined, stats.registered, stats.fetched, stats.gone) == (4, 3, 2, 1)
    # The link set on a paper wins: its fork is never asked about.
    assert repos(db) == {
        "found/one": ("ok", 10),
        "owner/official": ("ok", 250),
        "gone/away": ("gone", None),
    }
    assert sorted(r.path for r in github_api.requests) == [
        "/repos/found/one",
        "/repos/gone/away",
        "/repos/owner/official",
    ]
    today = FIXED_NOW.date()
    assert history(db) == [("found/one", today, 10), ("owner/official", today, 250)]
    assert counter(db, PAPER_CHANGE) == paper_seq  # no paper changed: nothing re-indexed
    assert counter(db, ENRICHMENT_CHANGE) > enrichment  # but pages revalidate
    with db.reader() as session:
        row = session.get(GithubRepo, "owner/official")
        assert row is not None
        assert (row.full_name, row.description) == ("Owner/Official", "The official one")
        assert session.scalar(select(Paper.github_url).where(Paper.arxiv_id == "2401.00002")) == (
            "https://github.com/Owner/Official"
        )

    # The same day again: nothing is due, nothing is asked.
    asked = len(github_api.requests)
    assert update_github(db, gh_settings, client).fetched == 0
    assert len(github_api.requests) == asked


def test_refresh_takes_the_oldest_first_bounded_per_run_and_keeps_a_history(
    db: Database, gh_settings: Settings, github_api: FakeGitHubApi, client: GitHubClient
) -> None:
    papers(db)
    github_api.add("found/one", 10)
    github_api.add("Owner/Official", 250)
    update_github(db, gh_settings, client)
    github_api.add("found/one", 12)
    github_api.add("Owner/Official", 260)
    with db.transaction() as session:  # asked again an hour later: now the newest
        row = session.get(GithubRepo, "found/one")
        assert row is not None
        row.checked_at = FIXED_NOW + timedelta(hours=1)
    later = FIXED_NOW + timedelta(hours=24, minutes=30)
    with clock.frozen(later):
        assert due_repos(db, gh_settings) == ["owner/official"]  # found/one: 24 h not yet
    later = FIXED_NOW + timedelta(hours=26)
    one = gh_settings.model_copy(update={"github_batch": 1})
    with clock.frozen(later):
        assert due_repos(db, gh_settings) == ["owner/official", "found/one"]
        stats = update_github(db, one, client)
        assert (stats.fetched, stats.left) == (1, 1)
        assert repos(db)["owner/official"] == ("ok", 260)
        assert repos(db)["found/one"] == ("ok", 10)
        stats = update_github(db, one, client)
        assert (stats.fetched, stats.left) == (1, 0)
    assert history(db) == [
        ("found/one", FIXED_NOW.date(), 10),
        ("found/one", later.date(), 12),
        ("owner/official", FIXED_NOW.date(), 250),
        ("owner/official", later.date(), 260),
    ]
    # A repository GitHub says is gone waits a month, not a day.
    with clock.frozen(later):
        assert "gone/away" not in due_repos(db, gh_settings)
    with clock.frozen(FIXED_NOW + timedelta(days=31)):
        assert "gone/away" in due_repos(db, gh_settings)


def test_a_refresh_asks_with_the_last_etag_and_an_unchanged_answer_still_counts_the_day(
    db: Database, gh_settings: Settings, github_api: FakeGitHubApi
) -> None:
    papers(db)
    github_api.tokens = {"ghp_secret123"}
    github_api.add("found/one", 10)
    github_api.add("Owner/Official", 250)
    token = gh_settings.model_copy(update={"github_token": "ghp_secret123"})
    with GitHubClient.from_settings(token, backoff=0.01, max_retries=1) as client:
        update_github(db, token, client)
        with db.reader() as session:
            etag = session.scalar(select(GithubRepo.etag).where(GithubRepo.repo == "found/one"))
        assert etag is not None
        github_api.add("Owner/Official", 261)  # one changed, the other did not
        remaining, enrichment = github_api.remaining, counter(db, ENRICHMENT_CHANGE)
        later = FIXED_NOW + timedelta(days=1, hours=1)
        with clock.frozen(later):
            stats = update_github(db, token, client)
    assert (stats.fetched, stats.unchanged) == (1, 1)
    asked = {r.path: r.headers.get("if-none-match") for r in github_api.requests[-2:]}
    assert asked["/repos/found/one"] == etag
    assert github_api.remaining == remaining - 1  # only the changed one cost a request
    assert repos(db)["found/one"] == ("ok", 10)
    assert repos(db)["owner/official"] == ("ok", 261)
    # The unchanged one's count for the day is kept, so star velocity sees every day.
    assert [h for h in history(db) if h[0] == "found/one"] == [
        ("found/one", FIXED_NOW.date(), 10),
        ("found/one", later.date(), 10),
    ]
    assert counter(db, ENRICHMENT_CHANGE) > enrichment  # only the changed one shows


def test_an_unchanged_answer_after_a_refusal_shows_the_repository_again(
    db: Database, gh_settings: Settings, github_api: FakeGitHubApi, client: GitHubClient
) -> None:
    papers(db)
    github_api.add("found/one", 10)
    github_api.add("Owner/Official", 250)
    update_github(db, gh_settings, client)
    github_api.faults.append(Response(403, b'{"message": "Repository access blocked"}'))
    with clock.frozen(FIXED_NOW + timedelta(days=1, hours=1)):
        assert update_github(db, gh_settings, client).refused == 1
    refused = next(r for r, (status, _) in repos(db).items() if status == "error")
    with clock.frozen(FIXED_NOW + timedelta(days=2, hours=2)):
        stats = update_github(db, gh_settings, client)
    assert stats.unchanged >= 1
    assert repos(db)[refused][0] == "ok"  # the 304 says it is there, as it was


def test_the_star_history_is_daily_for_ninety_days_then_weekly(
    db: Database, gh_settings: Settings, github_api: FakeGitHubApi, client: GitHubClient
) -> None:
    papers(db)
    github_api.add("found/one", 10)
    update_github(db, gh_settings, client)
    start = FIXED_NOW.date()
    with db.transaction() as session:  # 200 days of counts before today's
        session.add_all(
            GithubStarCount(repo="found/one", day=start - timedelta(days=n), stars=10 - n // 50)
            for n in range(1, 201)
        )
    with clock.frozen(FIXED_NOW + timedelta(days=1, hours=1)):
        update_github(db, gh_settings, client)
    days = [day for repo, day, _ in history(db) if repo == "found/one"]
    today = start + timedelta(days=1)
    cutoff = today - timedelta(days=90)
    recent = [d for d in days if d >= cutoff]
    older = [d for d in days if d < cutoff]
    assert recent == [cutoff + timedelta(days=n) for n in range(91)]  # every day kept
    weeks = [d.isocalendar()[:2] for d in older]
    assert len(weeks) == len(set(weeks))  # one per week before that ...
    assert (
        set(weeks)
        == {  # ... for every week there was
            (start - timedelta(days=n)).isocalendar()[:2]
            for n in range(1, 201)
            if start - timedelta(days=n) < cutoff
        }
    )
    for kept in older:  # ... and it is the week's last count before the daily ones
        assert all(
            d <= kept
            for d in (start - timedelta(days=n) for n in range(1, 201))
            if d < cutoff and d.isocalendar()[:2] == kept.isocalendar()[:2]
        )


def test_a_spent_rate_limit_stops_the_run_until_the_reset(
    db: Database, gh_settings: Settings, github_api: FakeGitHubApi, client: GitHubClient
) -> None:
    papers(db)
    github_api.add("found/one", 10)
    github_api.add("Owner/Official", 250)
    github_api.remaining = 1
    github_api.reset = int(time.time()) + 1200
    stats = update_github(db, gh_settings, client)
    assert stats.fetched + stats.gone == 1
    assert stats.waiting_until is not None and stats.left == 2
    assert "rate limited until" in stats.counts()
    asked = len(github_api.requests)

    # Before the reset, a run asks nothing and says it is waiting.
    stats = update_github(db, gh_settings, client)
    assert len(github_api.requests) == asked
    assert stats.waiting_until is not None and stats.left == 2

    # After it, the job carries on where it stopped.
    github_api.remaining = 60
    with clock.frozen(FIXED_NOW + timedelta(minutes=21)):
        stats = update_github(db, gh_settings, client)
    assert stats.waiting_until is None
    assert stats.fetched + stats.gone == 2
    assert {status for status, _ in repos(db).values()} == {"ok", "gone"}


def test_a_github_that_is_down_fails_the_run_and_keeps_what_was_stored(
    db: Database, gh_settings: Settings, github_api: FakeGitHubApi, client: GitHubClient
) -> None:
    papers(db)
    github_api.add("found/one", 10)
    github_api.add("Owner/Official", 250)
    update_github(db, gh_settings, client)
    before = repos(db)
    down = gh_settings.model_copy(update={"github_api_url": refused_url()})
    with (
        GitHubClient.from_settings(down, backoff=0.01, max_retries=1) as unreachable,
        clock.frozen(FIXED_NOW + timedelta(days=2)),
    ):
        with pytest.raises(RemoteUnavailable):
            update_github(db, down, unreachable)
        assert repos(db) == before
        assert len(due_repos(db, down)) == 2  # still due: the next run asks again


def test_the_worker_runs_the_github_job(
    db: Database, gh_settings: Settings, github_api: FakeGitHubApi
) -> None:
    papers(db)
    github_api.add("found/one", 10)
    github_api.add("Owner/Official", 250)
    jobs = jobs_from_settings(gh_settings)
    assert "github" in [job.name for job in jobs]
    worker = Worker(db, gh_settings, [job for job in jobs if job.name == "github"])
    runs = worker.run_once()
    assert [(run.job, run.status) for run in runs] == [("github", "ok")]
    with db.reader() as session:
        run = session.scalars(select(JobRun).where(JobRun.job == "github")).one()
        assert run.counts is not None
        assert (run.counts["fetched"], run.counts["gone"]) == (2, 1)
    assert worker.run_once() == []  # not due again for an hour


def test_status_tells_what_github_said(
    db: Database, gh_settings: Settings, github_api: FakeGitHubApi, client: GitHubClient
) -> None:
    from paperfeed.jobs.status import collect, render

    assert "github:" not in render(collect(db, gh_settings))  # nothing to tell yet
    papers(db)
    github_api.add("found/one", 10)
    update_github(db, gh_settings, client)
    text = render(collect(db, gh_settings))
    assert (
        "github: 3 repositories (1 with stars, 2 gone, 0 refused, 0 not yet asked), 0 due" in text
    )
    with clock.frozen(FIXED_NOW + timedelta(days=2)):
        assert "), 1 due" in render(collect(db, gh_settings))  # gone ones wait a month
