"""Thumbnails on the web: the image route (ETag, 304, long-lived caching, 404), lazily
loaded images in fixed boxes on cards and the paper page, a placeholder while an arXiv
paper has none, and `thumbnailUrl` in the API, absolute from the site URL."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.ingest.arxiv_pdf import ArxivPdfClient
from paperfeed.ingest.http_client import RateLimiter
from paperfeed.ingest.thumbnails import update_thumbnails
from paperfeed.models import Paper, PaperThumbnailCheck
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.papers.thumbnails import Renderer, due_papers
from paperfeed.search.indexing import run_index
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.pdf_server import FakeArxivPdf, make_pdf

FEED_AT = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SITE = "https://papers.example.org"


@pytest.fixture
def site_settings(db: Database, tmp_path: Path, fixed_clock: object) -> Iterator[Settings]:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(title="Drawn", abstract="A.", arxiv_id="2611.20001", feed_at=FEED_AT),
                PaperRecord(title="Waiting", abstract="B.", arxiv_id="2611.20002", feed_at=FEED_AT),
                PaperRecord(title="Local listing", abstract="C.", feed_at=FEED_AT),
            ],
        )
    server = FakeArxivPdf().start()
    server.papers["2611.20001v1"] = make_pdf("Drawn")
    settings = make_settings(tmp_path, db.url).model_copy(
        update={"arxiv_pdf_url": server.url, "site_url": SITE}
    )
    with (
        ArxivPdfClient.from_settings(settings, limiter=RateLimiter(0)) as client,
        Renderer() as renderer,
    ):
        assert update_thumbnails(db, settings, client, renderer).rendered == 1
    server.stop()
    run_index(db, settings, embed=False)
    yield settings


@pytest.fixture
def client(db: Database, site_settings: Settings) -> TestClient:
    return TestClient(create_app(site_settings, db))


def card(html: str, title: str) -> str:
    (found,) = [part for part in html.split('<li class="card">') if f">{title}</a>" in part]
    return found.split("</li>")[0]


def digest(db: Database) -> str:
    with db.reader() as session:
        found = session.scalar(
            select(PaperThumbnailCheck.digest).where(PaperThumbnailCheck.status == "rendered")
        )
    assert found is not None
    return found[:12]


def test_cards_show_lazy_images_in_fixed_boxes_and_placeholders(
    client: TestClient, db: Database
) -> None:
    html = client.get("/papers/date/2026-11-19").text
    drawn = card(html, "Drawn")
    v = digest(db)
    assert f'<source type="image/webp" srcset="/papers/2611.20001/thumbnail/card.webp?v={v}">' in (
        drawn
    )
    assert f'src="/papers/2611.20001/thumbnail/card.jpg?v={v}"' in drawn
    assert 'width="200" height="259"' in drawn and 'alt=""' in drawn
    assert 'loading="lazy" decoding="async"' in drawn
    waiting = card(html, "Waiting")
    assert '<span class="card-thumb placeholder" aria-hidden="true"></span>' in waiting
    assert "<img" not in waiting
    assert "card-thumb" not in card(html, "Local listing")  # no arXiv id: no PDF to show
    assert "style=" not in drawn + waiting  # the CSP allows no inline styles


def test_the_paper_page_shows_the_first_page_linking_to_the_pdf(
    client: TestClient, db: Database
) -> None:
    html = client.get("/papers/2611.20001").text
    figure = html.split('class="paper-thumb"')[1].split("</a>")[0]
    v = digest(db)
    assert 'href="https://arxiv.org/pdf/2611.20001"' in html
    assert f"/papers/2611.20001/thumbnail/page.webp?v={v} 600w" in figure
    assert 'width="200" height="259"' in figure and 'alt="The first page of the PDF"' in figure
    assert "paper-thumb" not in client.get("/papers/2611.20002").text


def test_images_are_served_with_etags_304s_and_long_lived_caching(
    client: TestClient, db: Database
) -> None:
    v = digest(db)
    for name, kind in (
        ("card.webp", "WEBP"),
        ("card.jpg", "JPEG"),
        ("page.webp", "WEBP"),
        ("page.jpg", "JPEG"),
    ):
        answer = client.get(f"/papers/2611.20001/thumbnail/{name}?v={v}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"] == f"image/{kind.lower()}"
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert Image.open(io.BytesIO(answer.content)).format == kind
        etag = answer.headers["etag"]
        again = client.get(f"/papers/2611.20001/thumbnail/{name}", headers={"if-none-match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == "public, max-age=3600"  # no digest: revalidate
    card_bytes = client.get("/papers/2611.20001/thumbnail/card.webp").content
    assert len(card_bytes) < 10_000  # a few kB on every card
    stale = client.get("/papers/2611.20001/thumbnail/card.webp?v=000000000000")
    assert stale.headers["cache-control"] == "public, max-age=3600"
    for part in (v[:1], v[:11], v + "0"):  # only the whole version pins it for a year
        guessed = client.get(f"/papers/2611.20001/thumbnail/card.webp?v={part}")
        assert guessed.headers["cache-control"] == "public, max-age=3600", part
    etag = client.get("/papers/2611.20001/thumbnail/card.webp").headers["etag"]
    weak = client.get(  # a compressing proxy sends it back weakened
        "/papers/2611.20001/thumbnail/card.webp", headers={"if-none-match": f"W/{etag}"}
    )
    assert weak.status_code == 304
    for missing in (
        "/papers/2611.20002/thumbnail/card.webp",  # not rendered
        "/papers/2611.99999/thumbnail/card.webp",  # no such paper
        "/papers/2611.20001/thumbnail/card.png",
        "/papers/2611.20001/thumbnail/huge.webp",
    ):
        assert client.get(missing).status_code == 404, missing
    with db.transaction() as session:
        paper = session.scalars(select(Paper).where(Paper.arxiv_id == "2611.20001")).one()
        paper.hidden_at = NOW
    assert client.get("/papers/2611.20001/thumbnail/card.webp").status_code == 404


def test_the_api_serves_an_absolute_thumbnail_url_from_the_site_url(
    client: TestClient, db: Database
) -> None:
    v = digest(db)
    url = f"{SITE}/papers/2611.20001/thumbnail/page.jpg?v={v}"
    paper = client.get("/api/papers/2611.20001", headers={"host": "evil.example"}).json()
    assert paper["thumbnailUrl"] == url
    assert "thumbnailUrl" not in client.get("/api/papers/2611.20002").json()
    entries = {e["paper"]["id"]: e for e in client.get("/api/daily_papers?date=2026-11-19").json()}
    assert entries["2611.20001"]["thumbnailUrl"] == entries["2611.20001"]["thumbnail"] == url
    assert entries["2611.20001"]["paper"]["thumbnailUrl"] == url
    assert "thumbnail" not in entries["2611.20002"]
    listed = {p["id"]: p for p in client.get("/api/papers").json()}
    assert listed["2611.20001"]["thumbnailUrl"] == url


def test_the_sample_listings_without_arxiv_ids_are_never_due_and_show_no_box(
    sample_db: Database, tmp_path: Path, fixed_clock: object
) -> None:
    with sample_db.reader() as session:
        local = list(session.scalars(select(Paper).where(Paper.arxiv_id.is_(None))))
        arxiv = set(session.scalars(select(Paper.id).where(Paper.arxiv_id.is_not(None))))
    assert len(local) == 368
    settings = make_settings(tmp_path, sample_db.url)
    wide = settings.model_copy(update={"thumbnail_window_days": 100_000})
    due = {pid for pid, _, _ in due_papers(sample_db, wide, 10_000)}
    assert due == arxiv and len(due) == 200  # every arXiv paper of the feed, no listing
    site = TestClient(create_app(settings, sample_db))
    for paper in local[:3]:
        assert "thumbnail" not in site.get(f"/papers/{paper.public_id}").text
        assert "thumbnailUrl" not in site.get(f"/api/papers/{paper.public_id}").json()
    plain = next(p for p in local if p.feed_at and all(c.isalnum() or c == " " for c in p.title))
    assert plain.feed_at is not None
    day = plain.feed_at.astimezone(settings.tz).date().isoformat()
    assert "card-thumb" not in card(site.get(f"/papers/date/{day}").text, plain.title)
