"""First-page thumbnails: pdfium renders real PDFs to small WebP and JPEG images; hostile
PDFs are skipped with a reason in a child process that may die; the `thumbnails` job takes
the feed's arXiv papers newest first, each in its own transaction, and never twice."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.ingest.arxiv_pdf import ArxivPdfClient
from paperfeed.ingest.http_client import RateLimiter
from paperfeed.jobs.status import collect, render
from paperfeed.jobs.worker import Worker, jobs_from_settings
from paperfeed.models import JobRun, Paper, PaperThumbnail, PaperThumbnailCheck
from paperfeed.papers import thumbnails
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import (
    ENRICHMENT_CHANGE,
    PAPER_CHANGE,
    current_change_seq,
    upsert_papers,
)
from paperfeed.papers.thumbnails import (
    CARD_HEIGHT,
    CARD_WIDTH,
    PAGE_WIDTH,
    Renderer,
    Unusable,
    load_thumbnails,
    update_thumbnails,
)
from tests.conftest import FIXED_NOW
from tests.pdf_server import CORRUPT_PDF, FakeArxivPdf, make_pdf
from tests.servers import Response

A4 = (595.0, 842.0)


def decoded(data: bytes) -> PILImage.Image:
    image = PILImage.open(io.BytesIO(data))
    image.load()
    return image


# --- rendering ---------------------------------------------------------------------------


def test_a_paper_renders_to_small_card_and_page_images_in_webp_and_jpeg() -> None:
    rendered = thumbnails.render(make_pdf(pages=3))
    assert rendered.pages == 3
    got = {(i.size, i.format): i for i in rendered.images}
    assert set(got) == {("card", "webp"), ("card", "jpeg"), ("page", "webp"), ("page", "jpeg")}
    for (size, fmt), image in got.items():
        picture = decoded(image.data)
        assert picture.format == fmt.upper()
        assert picture.size == (image.width, image.height)
        if size == "card":
            assert picture.size == (CARD_WIDTH, CARD_HEIGHT)
        else:
            assert picture.width == PAGE_WIDTH and abs(picture.height - PAGE_WIDTH * 792 / 612) < 1
    # A text-dense page: a card is a few kB, WebP smaller than JPEG.
    assert len(got["card", "webp"].data) < 10_000
    assert len(got["card", "webp"].data) < len(got["card", "jpeg"].data)
    # What is drawn is the page: dark text on white, and the title's ink at the top.
    card = decoded(got["card", "jpeg"].data).convert("L")
    assert card.getpixel((2, 2)) > 240  # the margin
    top = card.crop((20, 20, CARD_WIDTH - 20, 45))
    assert top.getextrema()[0] < 100  # the title
    assert rendered.digest == thumbnails.render(make_pdf(pages=3)).digest  # deterministic


def test_a4_is_cut_to_the_card_and_landscape_padded() -> None:
    tall = thumbnails.render(make_pdf(size=A4))
    wide = thumbnails.render(make_pdf(size=(792, 612)))
    for rendered in (tall, wide):
        card = next(i for i in rendered.images if i.size == "card")
        assert (card.width, card.height) == (CARD_WIDTH, CARD_HEIGHT)
    padded = decoded(next(i for i in wide.images if i.size == "card").data).convert("L")
    assert padded.crop((0, CARD_HEIGHT - 40, CARD_WIDTH, CARD_HEIGHT)).getextrema()[0] > 240


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<html>Not a PDF</html>", "not a PDF"),
        (CORRUPT_PDF, "a malformed PDF"),
        (make_pdf()[:600], "a malformed PDF"),  # cut off
        (make_pdf(size=(10, 10)), "a first page of 10 x 10 points"),
        (make_pdf(size=(200, 3000)), "too narrow"),
    ],
    ids=["html", "corrupt", "truncated", "tiny-page", "sliver"],
)
def test_hostile_pdfs_are_unusable_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(Unusable, match=reason):
        thumbnails.render(data)


def test_the_renderer_child_gives_reasons_and_survives_timeouts_and_crashes() -> None:
    with Renderer(seconds=20) as renderer:
        assert renderer.render(make_pdf()).images
        with pytest.raises(Unusable, match="a malformed PDF"):
            renderer.render(CORRUPT_PDF)
        first = renderer._process
        assert first is not None and first.is_alive()  # one child for many PDFs
        first.kill()  # as pdfium crashing on a PDF would
        first.join(5)
        with pytest.raises(Unusable, match=r"crashed the renderer \(exit -9\)"):
            renderer.render(make_pdf())
        assert renderer.render(make_pdf()).images  # a new child
    with Renderer(seconds=0.001) as hasty:
        started = time.monotonic()
        with pytest.raises(Unusable, match=r"took over 0\.001 s to render"):
            hasty.render(make_pdf())
        assert hasty._process is None  # killed, not left running
        assert time.monotonic() - started < 10


# --- the job -----------------------------------------------------------------------------


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
