"""The `thumbnails` job: the feed's arXiv papers newest first, never the old, hidden or
id-less ones; bad PDFs skipped with a reason, errors tried again a day later and given up
after three; each result in its own transaction, never asked twice; `paperfeed worker`
runs it under a lease and `paperfeed status` tells its counts. Against a stand-in arXiv PDF
server on loopback."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.ingest.arxiv_pdf import ArxivPdfClient
from paperfeed.ingest.http_client import RateLimiter
from paperfeed.ingest.thumbnails import update_thumbnails
from paperfeed.jobs.status import collect, render
from paperfeed.jobs.worker import Worker, jobs_from_settings
from paperfeed.models import JobRun, Paper, PaperThumbnail, PaperThumbnailCheck
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import (
    ENRICHMENT_CHANGE,
    PAPER_CHANGE,
    current_change_seq,
    upsert_papers,
)
from paperfeed.papers.thumbnails import Renderer, load_thumbnails
from tests.conftest import FIXED_NOW
from tests.pdf_server import CORRUPT_PDF, FakeArxivPdf, make_pdf
from tests.servers import Response


def decoded(data: bytes) -> PILImage.Image:
    image = PILImage.open(io.BytesIO(data))
    image.load()
    return image


@pytest.fixture
def arxiv_pdf() -> Iterator[FakeArxivPdf]:
    server = FakeArxivPdf().start()
    yield server
    server.stop()


@pytest.fixture
def thumb_settings(settings: Settings, arxiv_pdf: FakeArxivPdf) -> Settings:
    return settings.model_copy(
        update={
            "arxiv_pdf_url": arxiv_pdf.url,
            "arxiv_request_interval": 0.0,
            "thumbnail_max_pdf_bytes": 200_000,
        }
    )


@pytest.fixture
def client(thumb_settings: Settings) -> Iterator[ArxivPdfClient]:
    with ArxivPdfClient.from_settings(
        thumb_settings, backoff=0.01, max_retries=1, timeout=0.5, limiter=RateLimiter(0)
    ) as made:
        yield made


@pytest.fixture(scope="module")
def renderer() -> Iterator[Renderer]:
    with Renderer() as made:
        yield made


def add_papers(db: Database) -> None:
    """Feed papers of the last days (newest first: 01, 02, ...), one old, one hidden, and
    one without an arXiv id (like the HF sample listings)."""
    records = [
        PaperRecord(
            title=f"Paper {n}",
            abstract="",
            arxiv_id=f"2411.0000{n}",
            feed_at=FIXED_NOW - timedelta(hours=n),
        )
        for n in range(1, 6)
    ]
    records += [
        PaperRecord(
            title="Old", abstract="", arxiv_id="2301.00001", feed_at=FIXED_NOW - timedelta(days=90)
        ),
        PaperRecord(
            title="Hidden",
            abstract="",
            arxiv_id="2411.00009",
            feed_at=FIXED_NOW - timedelta(hours=1),
        ),
        PaperRecord(title="No arXiv id", abstract="", feed_at=FIXED_NOW - timedelta(hours=1)),
        PaperRecord(title="Not in the feed", abstract="", arxiv_id="2411.00010"),
    ]
    with db.transaction() as session:
        upsert_papers(session, records)
    with db.transaction() as session:
        hidden = session.scalars(select(Paper).where(Paper.arxiv_id == "2411.00009")).one()
        hidden.hidden_at = FIXED_NOW


def checks(db: Database) -> dict[str, tuple[str, str | None]]:
    with db.reader() as session:
        rows = session.execute(
            select(Paper.arxiv_id, PaperThumbnailCheck.status, PaperThumbnailCheck.reason).join(
                Paper, Paper.id == PaperThumbnailCheck.paper_id
            )
        )
        return {arxiv_id: (status, reason) for arxiv_id, status, reason in rows}


def counter(db: Database, name: str) -> int:
    with db.reader() as session:
        return current_change_seq(session, name)[0]


def test_the_job_renders_feed_papers_newest_first_and_skips_bad_pdfs_with_reasons(
    db: Database,
    thumb_settings: Settings,
    arxiv_pdf: FakeArxivPdf,
    client: ArxivPdfClient,
    renderer: Renderer,
    fixed_clock: object,
) -> None:
    add_papers(db)
    arxiv_pdf.papers["2411.00001v1"] = make_pdf("The newest")
    arxiv_pdf.papers["2411.00002v1"] = CORRUPT_PDF
    arxiv_pdf.papers["2411.00003v1"] = b"%PDF-1.4\n" + b"0" * 300_000  # over the 200 kB cap
    # 2411.00004: arXiv has no PDF (404)
    arxiv_pdf.papers["2411.00005v1"] = make_pdf("The slow one")
    arxiv_pdf.slow["2411.00005v1"] = 3.0
    paper_seq, enrichment = counter(db, PAPER_CHANGE), counter(db, ENRICHMENT_CHANGE)
    done: list[tuple[int, int]] = []
    stats = update_thumbnails(
        db, thumb_settings, client, renderer, lambda d, t: done.append((d, t))
    )
    assert (stats.rendered, stats.skipped, stats.missing, stats.errors) == (1, 2, 1, 1)
    assert done[-1] == (5, 5)
    # Newest in the feed first; never the old, hidden, id-less or unfed papers.
    assert [r.path for r in arxiv_pdf.requests] == [
        "/pdf/2411.00001v1",
        "/pdf/2411.00002v1",
        "/pdf/2411.00003v1",
        "/pdf/2411.00004v1",
        "/pdf/2411.00005v1",
        "/pdf/2411.00005v1",  # the slow one, asked again once
    ]
    got = checks(db)
    assert got["2411.00001"] == ("rendered", None)
    assert got["2411.00002"][0] == "skipped" and "malformed PDF" in str(got["2411.00002"][1])
    assert got["2411.00003"] == ("skipped", "the PDF is 300,009 bytes, over the limit of 200,000")
    assert got["2411.00004"] == ("missing", "arXiv has no PDF (HTTP 404)")
    assert got["2411.00005"][0] == "error" and "no answer within 0.5 s" in str(got["2411.00005"][1])
    assert set(got) == {f"2411.0000{n}" for n in range(1, 6)}
    with db.reader() as session:
        images = session.scalars(select(PaperThumbnail)).all()
        assert {(i.size, i.format) for i in images} == {
            ("card", "webp"),
            ("card", "jpeg"),
            ("page", "webp"),
            ("page", "jpeg"),
        }
        assert all(decoded(i.data).size == (i.width, i.height) for i in images)
        papers = session.scalars(select(Paper).order_by(Paper.arxiv_id)).all()
        shown = load_thumbnails(session, list(papers))
    assert [t.public_id for t in shown.values()] == ["2411.00001"]
    assert counter(db, PAPER_CHANGE) == paper_seq  # nothing re-indexed
    assert counter(db, ENRICHMENT_CHANGE) == enrichment + 1  # pages revalidate

    # Again: nothing is due, nothing is asked (failures are not retried every run).
    asked = len(arxiv_pdf.requests)
    again = update_thumbnails(db, thumb_settings, client, renderer)
    assert (again.rendered, again.skipped, again.errors, again.left) == (0, 0, 0, 0)
    assert len(arxiv_pdf.requests) == asked

    # A day later the error is tried again; a third error in a row gives up on it.
    arxiv_pdf.slow.clear()
    with clock.frozen(FIXED_NOW + timedelta(days=1, minutes=1)):
        assert update_thumbnails(db, thumb_settings, client, renderer).rendered == 1
    assert checks(db)["2411.00005"] == ("rendered", None)


def test_errors_give_up_after_three_tries_and_a_new_version_is_rendered_again(
    db: Database,
    thumb_settings: Settings,
    arxiv_pdf: FakeArxivPdf,
    client: ArxivPdfClient,
    renderer: Renderer,
    fixed_clock: object,
) -> None:
    add_papers(db)
    one = thumb_settings.model_copy(update={"thumbnail_batch": 1})
    for day in range(3):
        arxiv_pdf.faults.extend([Response(503, b"busy"), Response(503, b"busy")])
        with clock.frozen(FIXED_NOW + timedelta(days=day, minutes=day)):
            stats = update_thumbnails(db, one, client, renderer)
        assert (stats.errors, stats.left) == (1, 4)  # the one that failed waits a day
    assert checks(db)["2411.00001"] == (
        "skipped",
        "arXiv's PDF server at "
        f"{arxiv_pdf.url}/2411.00001v1 failed 2 times, last with HTTP 503 (3 times)",
    )
    # arXiv announces version 2: the paper is due again, and rendered.
    with db.transaction() as session:
        paper = session.scalars(select(Paper).where(Paper.arxiv_id == "2411.00001")).one()
        paper.latest_version = 2
    arxiv_pdf.papers["2411.00001v2"] = make_pdf("Version two")
    with clock.frozen(FIXED_NOW + timedelta(days=3)):
        assert update_thumbnails(db, one, client, renderer).rendered == 1
    assert checks(db)["2411.00001"] == ("rendered", None)


def test_arxiv_refusing_the_site_stops_the_run_without_marking_papers(
    db: Database,
    thumb_settings: Settings,
    arxiv_pdf: FakeArxivPdf,
    client: ArxivPdfClient,
    renderer: Renderer,
    fixed_clock: object,
) -> None:
    add_papers(db)
    arxiv_pdf.faults.append(Response(403, b"<h1>Access denied</h1>"))
    stats = update_thumbnails(db, thumb_settings, client, renderer)
    assert stats.stopped is not None and "HTTP 403" in stats.stopped
    assert len(arxiv_pdf.requests) == 1 and checks(db) == {}
    assert stats.left == 5
    # No run, on any worker, asks arXiv again for an hour; then they carry on.
    later = update_thumbnails(db, thumb_settings, client, renderer)
    assert later.stopped is not None and "waiting until" in later.stopped
    assert len(arxiv_pdf.requests) == 1
    with clock.frozen(clock.now() + timedelta(hours=1, minutes=1)):
        resumed = update_thumbnails(db, thumb_settings, client, renderer)
    assert resumed.stopped is None and resumed.rendered + resumed.missing == 5


def test_a_render_that_runs_out_of_time_is_tried_again_before_it_is_skipped(
    db: Database,
    thumb_settings: Settings,
    arxiv_pdf: FakeArxivPdf,
    client: ArxivPdfClient,
    fixed_clock: object,
) -> None:
    add_papers(db)
    arxiv_pdf.papers["2411.00001v1"] = make_pdf("The newest")
    one = thumb_settings.model_copy(update={"thumbnail_batch": 1})
    for day in range(3):  # a machine too busy to render in time, three days running
        with (
            clock.frozen(FIXED_NOW + timedelta(days=day, minutes=1)),
            Renderer(seconds=0.001) as hasty,
        ):
            stats = update_thumbnails(db, one, client, hasty)
        assert stats.errors == 1
        status, reason = checks(db)["2411.00001"]
        assert "took over" in str(reason)
        assert status == ("error" if day < 2 else "skipped"), day  # tried again, then skipped


def test_worker_once_runs_the_leased_job_and_status_tells_its_counts(
    db: Database,
    thumb_settings: Settings,
    arxiv_pdf: FakeArxivPdf,
    fixed_clock: object,
) -> None:
    add_papers(db)
    for n in range(1, 6):
        arxiv_pdf.papers[f"2411.0000{n}v1"] = make_pdf(f"Paper {n}")
    assert "thumbnails: 0 rendered, 0 without a PDF, 0 skipped, 0 to try again, 5 due" in (
        render(collect(db, thumb_settings))
    )
    worker = Worker(db, thumb_settings, jobs_from_settings(thumb_settings, ["thumbnails"]))
    runs = worker.run_once()
    assert [(r.job, r.status) for r in runs] == [("thumbnails", "ok")]
    assert runs[0].counts is not None and runs[0].counts["rendered"] == 5
    assert worker.run_once() == []  # not due again for an hour
    with db.reader() as session:
        assert session.scalar(select(JobRun.detail).where(JobRun.job == "thumbnails")).startswith(
            "rendered 5, missing 0, skipped 0, errors 0, left 0"
        )
    text = render(collect(db, thumb_settings))
    assert "thumbnails: 5 rendered, 0 without a PDF, 0 skipped, 0 to try again, 0 due" in text


def test_paperfeed_worker_once_renders_a_batch_a_run_and_the_next_run_carries_on(
    tmp_path: Path, db: Database, arxiv_pdf: FakeArxivPdf
) -> None:
    add_papers(db)
    for n in range(1, 6):
        arxiv_pdf.papers[f"2411.0000{n}v1"] = make_pdf(f"Paper {n}")
    env = {
        **os.environ,
        "PAPERFEED_DATA_DIR": str(tmp_path),
        "PAPERFEED_DATABASE_URL": db.url,
        "PAPERFEED_ARXIV_PDF_URL": arxiv_pdf.url,
        "PAPERFEED_ARXIV_REQUEST_INTERVAL": "0",
        "PAPERFEED_THUMBNAIL_BATCH": "2",
    }

    def cli(*args: str, at: datetime) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "paperfeed.cli", *args],
            env={**env, "PAPERFEED_CLOCK": at.isoformat()},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    first = cli("worker", "--once", "--jobs", "thumbnails", at=FIXED_NOW)
    assert "thumbnails: ok (rendered 2, missing 0, skipped 0, errors 0, left 3" in first
    assert "nothing due" in cli("worker", "--once", "--jobs", "thumbnails", at=FIXED_NOW)
    later = FIXED_NOW + timedelta(hours=1, seconds=1)
    second = cli("worker", "--once", "--jobs", "thumbnails", at=later)
    assert "thumbnails: ok (rendered 2, missing 0, skipped 0, errors 0, left 1" in second
    # The newest two first, then the next two: no paper asked twice.
    assert [r.path for r in arxiv_pdf.requests] == [f"/pdf/2411.0000{n}v1" for n in range(1, 5)]
    status = cli("status", at=later)
    assert "thumbnails: 4 rendered, 0 without a PDF, 0 skipped, 0 to try again, 1 due" in status
