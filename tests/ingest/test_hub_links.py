"""The `hub` job, through the official client against a stand-in Hub: the top models,
datasets and Spaces stored with their counts, new papers first then the oldest answers,
the pace kept, rate limits and outages recorded and resumed; papers without an arXiv id
never asked."""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.ingest.hub_links import (
    COUNT_CAP,
    MAX_BODY,
    TOP,
    HubClient,
    HubUnavailable,
    due_papers,
    update_hub,
)
from paperfeed.jobs.worker import Worker, jobs_from_settings
from paperfeed.models import JobRun, Paper, PaperHubArtifact, PaperHubCheck
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import (
    ENRICHMENT_CHANGE,
    PAPER_CHANGE,
    current_change_seq,
    upsert_papers,
)
from tests.conftest import FIXED_NOW
from tests.hub_server import FakeHub, running_hub
from tests.servers import Response, refused_url


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    with running_hub() as hub:
        yield hub


@pytest.fixture
def hub_settings(settings: Settings, fake_hub: FakeHub) -> Settings:
    return settings.model_copy(update={"hub_endpoint": fake_hub.url, "hub_request_interval": 0.0})


@pytest.fixture
def client(hub_settings: Settings) -> Iterator[HubClient]:
    with HubClient.from_settings(hub_settings, max_retries=1) as made:
        yield made


def papers(db: Database) -> dict[str, int]:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(title="Cited", abstract="A.", arxiv_id="2401.00001"),
                PaperRecord(title="Quiet", abstract="B.", arxiv_id="2401.00002"),
                PaperRecord(title="Local", abstract="No arXiv id."),
            ],
        )
    with db.reader() as session:
        return {p.title: p.id for p in session.scalars(select(Paper))}


def stock(hub: FakeHub) -> None:
    for i in range(12):
        hub.add("model", f"org/model-{i}", likes=i * 10, downloads=1000 + i, arxiv="2401.00001")
    hub.add("model", "other/unrelated", likes=999, arxiv="2312.99999")
    hub.add("dataset", "org/data", likes=5, downloads=70, arxiv="2401.00001")
    hub.add("space", "org/demo", likes=3, arxiv="2401.00001", extra="streamlit")


def artifacts(db: Database, paper_id: int) -> list[tuple[str, int, str, int, int | None]]:
    with db.reader() as session:
        return [
            (a.kind, a.position, a.repo_id, a.likes, a.downloads)
            for a in session.scalars(
                select(PaperHubArtifact)
                .where(PaperHubArtifact.paper_id == paper_id)
                .order_by(PaperHubArtifact.kind, PaperHubArtifact.position)
            )
        ]


def check(db: Database, paper_id: int) -> PaperHubCheck | None:
    with db.reader() as session:
        return session.get(PaperHubCheck, paper_id)


def counter(db: Database, name: str) -> int:
    with db.reader() as session:
        return current_change_seq(session, name)[0]


def test_top_ones_and_counts_are_stored_without_reindexing(
    db: Database, hub_settings: Settings, fake_hub: FakeHub, client: HubClient
) -> None:
    ids = papers(db)
    stock(fake_hub)
    fake_hub.page_size = 5  # the twelve models come in three pages, through the Link header
    paper_seq, enrichment = counter(db, PAPER_CHANGE), counter(db, ENRICHMENT_CHANGE)
    stats = update_hub(db, hub_settings, client)
    # Both answers are new to the API (empty lists are an answer too), so both changed.
    assert (stats.checked, stats.linked, stats.changed, stats.left) == (2, 1, 2, 0)
    assert stats.requests == len(fake_hub.listings()) == 3 + 2 + 3  # 3 model pages, 1 each
    # Asked uncompressed, so the size cap counts what is held in memory.
    assert {r.headers.get("accept-encoding") for r in fake_hub.listings()} == {"identity"}
    row = check(db, ids["Cited"])
    assert row is not None and row.status == "ok"
    assert (row.num_models, row.num_datasets, row.num_spaces) == (12, 1, 1)
    stored = artifacts(db, ids["Cited"])
    models = [a for a in stored if a[0] == "model"]
    assert len(models) == TOP
    assert [m[2] for m in models[:2]] == ["org/model-11", "org/model-10"]  # most liked first
    assert models[0][3:] == (110, 1011)
    assert ("dataset", 0, "org/data", 5, 70) in stored
    assert ("space", 0, "org/demo", 3, None) in stored  # Spaces have no downloads
    with db.reader() as session:
        space = session.scalars(
            select(PaperHubArtifact).where(PaperHubArtifact.kind == "space")
        ).one()
        model = session.scalars(
            select(PaperHubArtifact).where(PaperHubArtifact.repo_id == "org/model-11")
        ).one()
    assert (space.extra, space.author) == ("streamlit", "org")
    assert model.extra == "text-generation" and model.last_modified is not None
    quiet = check(db, ids["Quiet"])
    assert quiet is not None and (quiet.num_models, quiet.num_datasets) == (0, 0)
    assert artifacts(db, ids["Quiet"]) == []
    assert check(db, ids["Local"]) is None  # no arXiv id: never asked
    # What was asked: the official client's listing, filtered by the tag, sorted by likes.
    first = fake_hub.listings()[0]
    assert first.param("sort") == "likes" and first.param("limit") == str(COUNT_CAP)
    assert {r.param("filter") for r in fake_hub.listings()} == {
        "arxiv:2401.00001",
        "arxiv:2401.00002",
    }
    assert "paperfeed/" in first.headers["user-agent"]
    assert "hf_hub/2.4.0" in first.headers["user-agent"]
    assert "authorization" not in first.headers
    assert counter(db, PAPER_CHANGE) == paper_seq  # no paper changed: nothing re-indexed
    assert counter(db, ENRICHMENT_CHANGE) == enrichment + 2  # but pages and the API revalidate

    # Asked again at once: nothing is due, nothing is asked.
    asked = len(fake_hub.requests)
    assert update_hub(db, hub_settings, client).checked == 0
    assert len(fake_hub.requests) == asked


def test_new_papers_first_then_the_oldest_refreshed_bounded_per_run(
    db: Database, hub_settings: Settings, fake_hub: FakeHub, client: HubClient
) -> None:
    ids = papers(db)
    stock(fake_hub)
    one = hub_settings.model_copy(update={"hub_batch": 1})
    # Newest first: the paper added last is asked first.
    assert [pid for pid, _ in due_papers(db, hub_settings, 10)] == [
        ids["Quiet"],
        ids["Cited"],
    ]
    stats = update_hub(db, one, client)
    assert (stats.checked, stats.left) == (1, 1)
    assert check(db, ids["Quiet"]) is not None and check(db, ids["Cited"]) is None
    with clock.frozen(FIXED_NOW + timedelta(minutes=1)):
        stats = update_hub(db, one, client)  # the next run resumes with the one left
    assert (stats.checked, stats.left) == (1, 0)
    assert check(db, ids["Cited"]) is not None

    # The Hub changes; after the refresh interval the oldest answer is asked again first.
    fake_hub.add("model", "org/model-11", likes=5000, downloads=1, arxiv="2401.00001")
    fake_hub.add("space", "org/second", likes=1, arxiv="2401.00001")
    enrichment = counter(db, ENRICHMENT_CHANGE)
    later = FIXED_NOW + timedelta(hours=hub_settings.hub_refresh_hours - 1)
    with clock.frozen(later):
        assert due_papers(db, hub_settings, 10) == []
    later = FIXED_NOW + timedelta(hours=hub_settings.hub_refresh_hours, seconds=30)
    with clock.frozen(later):  # only the older answer is due yet
        assert [pid for pid, _ in due_papers(db, hub_settings, 10)] == [ids["Quiet"]]
    later = FIXED_NOW + timedelta(hours=hub_settings.hub_refresh_hours + 1)
    with clock.frozen(later):
        assert [pid for pid, _ in due_papers(db, hub_settings, 10)] == [
            ids["Quiet"],
            ids["Cited"],
        ]
        update_hub(db, hub_settings, client)
    row = check(db, ids["Cited"])
    assert row is not None and row.num_spaces == 2 and row.checked_at == later
    assert ("model", 0, "org/model-11", 5000, 1) in artifacts(db, ids["Cited"])
    assert counter(db, ENRICHMENT_CHANGE) == enrichment + 1  # Quiet's answer did not change


def test_a_quarter_of_each_batch_refreshes_old_answers_while_new_papers_remain(
    db: Database, hub_settings: Settings, fake_hub: FakeHub, client: HubClient
) -> None:
    ids = papers(db)
    update_hub(db, hub_settings, client)  # both asked
    with db.transaction() as session:  # an archive's worth of papers arrives
        upsert_papers(
            session,
            [
                PaperRecord(title=f"New {n}", abstract="C.", arxiv_id=f"2402.{n:05d}")
                for n in range(10)
            ],
        )
    later = FIXED_NOW + timedelta(hours=hub_settings.hub_refresh_hours + 1)
    with clock.frozen(later):
        due = [pid for pid, _ in due_papers(db, hub_settings, 4)]
    assert len(due) == 4
    assert due[-1] in (ids["Cited"], ids["Quiet"])  # one of four is a refresh
    assert sum(pid in (ids["Cited"], ids["Quiet"]) for pid in due) == 1
    with clock.frozen(later):  # a batch with room takes every new paper and every old one
        assert len(due_papers(db, hub_settings, 20)) == 12


def test_the_pace_holds_between_every_request(
    db: Database, hub_settings: Settings, fake_hub: FakeHub
) -> None:
    papers(db)
    stock(fake_hub)
    fake_hub.page_size = 4
    paced = hub_settings.model_copy(update={"hub_request_interval": 0.1})
    with HubClient.from_settings(paced) as client:
        update_hub(db, paced, client)
    starts = [r.at for r in fake_hub.listings()]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 3 + 3 + 2 - 1  # pages of a listing are paced too
    assert min(gaps) >= 0.09  # the client keeps 0.1 s between starts; arrival jitters
    assert statistics.median(gaps) < 0.3


def test_a_short_rate_limit_is_waited_out_by_the_client(
    db: Database, hub_settings: Settings, fake_hub: FakeHub, client: HubClient
) -> None:
    ids = papers(db)
    stock(fake_hub)
    fake_hub.rate_limit(1, reset=0)  # the client waits the reset plus a second, then asks again
    stats = update_hub(db, hub_settings, client)
    assert stats.checked == 2 and stats.waiting_until is None
    row = check(db, ids["Cited"])
    assert row is not None and row.num_models == 12


def test_a_long_rate_limit_stops_the_run_until_the_reset(
    db: Database, hub_settings: Settings, fake_hub: FakeHub, client: HubClient
) -> None:
    ids = papers(db)
    stock(fake_hub)
    fake_hub.rate_limit(1, reset=1200)
    stats = update_hub(db, hub_settings, client)
    assert stats.checked == 0 and stats.left == 2
    assert stats.waiting_until == FIXED_NOW + timedelta(seconds=1200)
    assert "rate limited until" in stats.counts()
    assert len(fake_hub.requests) == 1  # no retry, nothing else asked
    # Before the reset a run asks nothing and says it is waiting.
    stats = update_hub(db, hub_settings, client)
    assert len(fake_hub.requests) == 1 and stats.waiting_until is not None
    # After it, the job carries on where it stopped.
    with clock.frozen(FIXED_NOW + timedelta(minutes=21)):
        stats = update_hub(db, hub_settings, client)
    assert stats.checked == 2 and stats.waiting_until is None
    assert check(db, ids["Cited"]) is not None


def test_a_hub_that_fails_is_recorded_and_the_next_run_resumes(
    db: Database, hub_settings: Settings, fake_hub: FakeHub, client: HubClient
) -> None:
    ids = papers(db)
    stock(fake_hub)
    update_hub(db, hub_settings, client)
    before = artifacts(db, ids["Cited"])
    fake_hub.down = True  # 503 to everything, past the retries
    later = FIXED_NOW + timedelta(hours=hub_settings.hub_refresh_hours + 1)
    with clock.frozen(later), pytest.raises(HubUnavailable, match="HTTP 503"):
        update_hub(db, hub_settings, client)
    failed = [r for r in (check(db, ids["Quiet"]), check(db, ids["Cited"])) if r.status == "error"]
    assert len(failed) == 1 and "503" in (failed[0].error or "")
    assert artifacts(db, ids["Cited"]) == before  # the last good answer stays shown
    row = check(db, ids["Cited"])
    assert row is not None and row.num_models == 12
    fake_hub.down = False
    with clock.frozen(later + timedelta(hours=2)):
        stats = update_hub(db, hub_settings, client)
    assert stats.checked == 2
    assert {check(db, pid).status for pid in (ids["Quiet"], ids["Cited"])} == {"ok"}  # type: ignore[union-attr]


def test_a_5xx_that_passes_is_retried_by_the_client(
    db: Database, hub_settings: Settings, fake_hub: FakeHub, client: HubClient
) -> None:
    ids = papers(db)
    stock(fake_hub)
    fake_hub.fail(1, 502)
    stats = update_hub(db, hub_settings, client)
    assert stats.checked == 2
    row = check(db, ids["Cited"])
    assert row is not None and row.status == "ok"


def test_an_unreachable_hub_fails_the_run_and_changes_nothing_shown(
    db: Database, hub_settings: Settings
) -> None:
    papers(db)
    down = hub_settings.model_copy(update={"hub_endpoint": refused_url()})
    enrichment = counter(db, ENRICHMENT_CHANGE)
    with (
        HubClient.from_settings(down, max_retries=0) as unreachable,
        pytest.raises(HubUnavailable),
    ):
        update_hub(db, down, unreachable)
    assert counter(db, ENRICHMENT_CHANGE) == enrichment
    with db.reader() as session:
        assert [r.status for r in session.scalars(select(PaperHubCheck))] == ["error"]


def test_a_hub_too_slow_to_answer_times_out(
    db: Database, hub_settings: Settings, fake_hub: FakeHub
) -> None:
    ids = papers(db)
    fake_hub.delay = 5.0
    started = time.monotonic()
    with (
        HubClient.from_settings(hub_settings, max_retries=0, timeout=0.3) as slow,
        pytest.raises(HubUnavailable),
    ):
        update_hub(db, hub_settings, slow)
    assert time.monotonic() - started < 3  # the timeout, then the client's first 1 s pause
    row = check(db, ids["Quiet"])
    assert row is not None and row.status == "error"


@pytest.mark.parametrize("chunked", [False, True], ids=["said", "streamed"])
def test_an_answer_over_the_size_cap_is_refused_unread(
    db: Database, hub_settings: Settings, fake_hub: FakeHub, client: HubClient, chunked: bool
) -> None:
    ids = papers(db)
    huge = b"[" + b" " * MAX_BODY + b"]"
    fake_hub.faults.append(
        Response(200, huge, {"Content-Type": "application/json"}, chunked=chunked)
    )
    stats = update_hub(db, hub_settings, client)
    assert (stats.refused, stats.checked) == (1, 1)
    row = check(db, ids["Quiet"])
    assert row is not None and row.status == "error" and "bytes" in (row.error or "")


@pytest.mark.parametrize(
    "body", [b"<html>Please sign in to the network</html>", b'{"id": "x"}', b"[1, 2]"]
)
def test_an_answer_that_is_not_a_listing_fails_the_run_and_is_recorded(
    db: Database, hub_settings: Settings, fake_hub: FakeHub, client: HubClient, body: bytes
) -> None:
    ids = papers(db)
    fake_hub.faults.append(Response(200, body, {"Content-Type": "text/html"}))
    with pytest.raises(HubUnavailable, match="was not its JSON"):
        update_hub(db, hub_settings, client)
    row = check(db, ids["Quiet"])
    assert row is not None and row.status == "error"
    assert check(db, ids["Cited"]) is None  # the run stopped there


def test_a_next_page_elsewhere_is_refused(
    db: Database, hub_settings: Settings, fake_hub: FakeHub, client: HubClient
) -> None:
    ids = papers(db)
    elsewhere = Response(
        200,
        b"[]",
        {"Content-Type": "application/json", "Link": f'<{refused_url()}/api/models>; rel="next"'},
    )
    fake_hub.faults.append(elsewhere)  # the first listing's answer points away
    stats = update_hub(db, hub_settings, client)
    assert (stats.refused, stats.checked) == (1, 1)
    row = check(db, ids["Quiet"])
    assert row is not None and row.status == "error"
    assert "not a listing of the configured Hub" in (row.error or "")


def test_the_worker_runs_the_hub_job_under_its_lease(
    db: Database, hub_settings: Settings, fake_hub: FakeHub
) -> None:
    ids = papers(db)
    stock(fake_hub)
    jobs = jobs_from_settings(hub_settings)
    names = [job.name for job in jobs]
    assert names.index("hub") == names.index("github") + 1
    worker = Worker(db, hub_settings, [job for job in jobs if job.name == "hub"])
    runs = worker.run_once()
    assert [(run.job, run.status) for run in runs] == [("hub", "ok")]
    with db.reader() as session:
        run = session.scalars(select(JobRun).where(JobRun.job == "hub")).one()
        assert run.counts is not None and (run.counts["checked"], run.counts["linked"]) == (2, 1)
    assert check(db, ids["Cited"]) is not None
    assert worker.run_once() == []  # not due again for an hour


def test_status_tells_what_the_hub_said(
    db: Database, hub_settings: Settings, fake_hub: FakeHub, client: HubClient
) -> None:
    from paperfeed.jobs.status import collect, render

    assert "hub:" not in render(collect(db, hub_settings))  # no arXiv paper yet
    papers(db)
    assert "hub: 0 papers asked (0 with models, datasets or Spaces, 0 errors), 2 due" in render(
        collect(db, hub_settings)
    )
    stock(fake_hub)
    update_hub(db, hub_settings, client)
    text = render(collect(db, hub_settings))
    assert "hub: 2 papers asked (1 with models, datasets or Spaces, 0 errors), 0 due" in text
