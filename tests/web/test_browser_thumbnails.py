"""Thumbnails in a real browser: a day of 30 papers, 20 of them with first pages the
`thumbnails` job rendered from a loopback arXiv PDF stand-in, 6 arXiv papers still without
(a drawn placeholder) and 4 without an arXiv id (nothing). The images load lazily, in WebP,
in boxes that never shift the page, and the page stays within its weight budget; the
paper page shows the first page beside the abstract. At desktop and mobile widths."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from paperfeed import clock
from paperfeed.db import Database
from paperfeed.ingest.arxiv_pdf import ArxivPdfClient
from paperfeed.ingest.http_client import RateLimiter
from paperfeed.ingest.thumbnails import update_thumbnails
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.papers.thumbnails import Renderer
from paperfeed.search.indexing import run_index
from paperfeed.web.app import create_app
from tests.conftest import FIXED_NOW, make_settings
from tests.pdf_server import FakeArxivPdf, make_pdf
from tests.web.browser import Journey, Viewport, browser, viewport
from tests.web.live import start_server

pytestmark = pytest.mark.browser
__all__ = ["browser", "viewport"]  # the harness's fixtures, used by the tests below

DAY = (FIXED_NOW - timedelta(hours=10)).date().isoformat()
BUDGET = 100_000  # bytes a page transfers, cold cache (tests/web/test_perf_budget.py)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("live-thumbnails")
    url = f"sqlite:///{tmp / 'thumbnails.sqlite3'}"
    db = Database(url)
    db.upgrade()
    arxiv = FakeArxivPdf().start()
    records = []
    for n in range(30):
        arxiv_id = f"2611.3{n:04d}" if n < 26 else None
        records.append(
            PaperRecord(
                title=f"A study of thumbnails, part {n + 1}",
                abstract="We render the first page of a paper. " * 8,
                arxiv_id=arxiv_id,
                authors=["Ada Lovelace", "Alan Turing"],
                feed_at=FIXED_NOW - timedelta(hours=10, minutes=n),
            )
        )
        if arxiv_id and n < 20:
            size = (612, 792) if n % 2 else (595, 842)
            arxiv.papers[f"{arxiv_id}v1"] = make_pdf(f"Thumbnails, part {n + 1}", size=size)
    settings = make_settings(tmp, url).model_copy(update={"arxiv_pdf_url": arxiv.url})
    settings.index_dir = tmp / "index"
    with clock.frozen(FIXED_NOW):
        with db.transaction() as session:
            upsert_papers(session, records)
        with (
            ArxivPdfClient.from_settings(settings, limiter=RateLimiter(0)) as client,
            Renderer() as renderer,
        ):
            stats = update_thumbnails(db, settings, client, renderer)
    arxiv.stop()
    assert (stats.rendered, stats.missing) == (20, 6)
    run_index(db, settings, embed=False)
    live = start_server(create_app(settings, db))
    yield live.url
    live.stop()
    db.dispose()


def test_cards_load_first_pages_lazily_without_shifting_within_the_budget(
    browser, live_server: str, viewport: Viewport
) -> None:
    with Journey(browser, "thumbnails", viewport) as journey:
        page = journey.page
        loaded: list[tuple[str, int]] = []
        page.on(
            "requestfinished",
            lambda r: loaded.append((r.url, r.sizes()["responseBodySize"])),
        )
        page.goto(f"{live_server}/papers/date/{DAY}", wait_until="load")
        page.wait_for_load_state("networkidle")
        images = [u for u, _ in loaded if "/thumbnail/" in u]
        # Lazy: the cards far below the fold are not fetched; WebP, the card size.
        assert 0 < len(images) < 20, images
        assert all("/thumbnail/card.webp?v=" in u for u in images)
        assert sum(size for _, size in loaded) <= BUDGET
        cards = page.locator("li.card")
        assert cards.count() == 30
        assert page.locator("picture.card-thumb img").count() == 20
        assert page.locator(".card-thumb.placeholder").count() == 6
        first = page.locator("picture.card-thumb img").first
        assert first.evaluate("img => img.complete && img.naturalWidth") == 200
        assert first.evaluate("img => img.currentSrc").split("?")[0].endswith("card.webp")
        picture = page.locator("picture.card-thumb").first.bounding_box()
        placeholder = page.locator(".card-thumb.placeholder").first.bounding_box()
        assert picture is not None and placeholder is not None
        assert abs(picture["width"] - placeholder["width"]) < 1
        assert abs(picture["height"] - placeholder["height"]) < 1
        assert abs(picture["height"] / picture["width"] - 259 / 200) < 0.02
        journey.fits()
        journey.shot("cards-with-first-pages")

        # Scrolling down loads the rest; nothing moves when they arrive.
        pictures = page.locator("picture.card-thumb")
        for n in range(pictures.count()):
            pictures.nth(n).scroll_into_view_if_needed()
        page.wait_for_load_state("networkidle")
        page.wait_for_function(
            "() => [...document.querySelectorAll('picture.card-thumb img')]"
            ".every(img => img.complete && img.naturalWidth > 0)"
        )
        assert len([u for u, _ in loaded if "/thumbnail/" in u]) == 20
        assert journey.layout_shift() == 0
        page.locator(".card-thumb.placeholder").last.scroll_into_view_if_needed()
        journey.shot("placeholders")

        page.goto(f"{live_server}/papers/2611.30001", wait_until="load")
        figure = page.locator("a.paper-thumb img")
        assert figure.get_attribute("alt") == "The first page of the PDF"
        page.wait_for_function("() => document.querySelector('a.paper-thumb img').naturalWidth > 0")
        box = page.locator("a.paper-thumb").bounding_box()
        assert box is not None and box["width"] <= 161
        assert journey.layout_shift() == 0
        journey.fits()
        journey.shot("paper-page")
