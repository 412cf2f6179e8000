"""Feeds and exports in a real browser: follow the links a page offers and read what comes.

From the trending page a reader follows the RSS link (Chromium shows the XML as text),
downloads the CSV, then opens a paper and follows its BibTeX and Markdown links. At
desktop and mobile widths (harness: tests/web/browser.py).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest

from paperfeed import clock
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.web.app import create_app
from tests.conftest import FIXED_NOW, make_settings
from tests.web.browser import Journey, Viewport, browser, viewport
from tests.web.live import start_server

pytestmark = pytest.mark.browser
__all__ = ["browser", "viewport"]  # the harness's fixtures, used by the tests below


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo corpus without a search index (these journeys do not search)."""
    tmp = tmp_path_factory.mktemp("live-feeds")
    url = f"sqlite:///{tmp / 'feeds.sqlite3'}"
    db = Database(url)
    db.upgrade()
    settings = make_settings(tmp, url)
    settings.index_dir = tmp / "index"
    with clock.frozen(FIXED_NOW):
        load_demo(db, settings.tz)
    live = start_server(create_app(settings, db))
    yield live.url
    live.stop()
    db.dispose()


def test_follow_feed_and_export_links(
    browser, live_server: str, viewport: Viewport, tmp_path: Path
) -> None:
    with Journey(browser, "feeds", viewport) as journey:
        page = journey.page
        page.goto(live_server + "/papers/trending")
        cards = [
            href.removeprefix("/papers/")
            for href in page.locator("li.card h3 a").evaluate_all("els => els.map(e => e.pathname)")
        ]
        assert len(cards) == 50

        # The head announces the feeds; the page shows the same links.
        head_rss = page.locator('head link[rel="alternate"][type="application/rss+xml"]')
        assert head_rss.get_attribute("href") == "/papers/trending.rss"
        group = page.get_by_role("group", name="Trending papers: feeds and downloads")
        rss_link = group.get_by_role("link", name="RSS")
        assert rss_link.is_visible() and rss_link.get_attribute("href") == "/papers/trending.rss"
        journey.fits()
        journey.shot("trending-with-feed-links")

        # Following the RSS link gives a feed with the page's papers in the page's order.
        rss_link.click()
        page.wait_for_url("**/papers/trending.rss")
        feed = feedparser.parse(page.locator("pre").inner_text())
        assert feed.bozo == 0 and feed.version == "rss20"
        ids = [entry.link.rsplit("/papers/", 1)[1] for entry in feed.entries]
        assert ids[:50] == cards
        journey.shot("rss")
        page.go_back()
        page.wait_for_url("**/papers/trending")

        # The CSV link downloads a file named after the list, one row per paper.
        with page.expect_download() as download_info:
            group.get_by_role("link", name="CSV").click()
        download = download_info.value
        assert download.suggested_filename == "paperfeed-trending.csv"
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        with saved.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert [row["id"] for row in rows][:50] == cards

        # A paper's BibTeX and Markdown open as text in the browser.
        page.goto(live_server + "/papers/0704.0001")
        page.get_by_role("link", name="BibTeX").click()
        page.wait_for_url("**/papers/0704.0001.bib")
        bib = page.locator("pre").inner_text()
        assert bib.startswith("@article{balazs2007calculation,")
        assert "eprint        = {0704.0001}" in bib
        journey.shot("bibtex")
        page.go_back()
        page.get_by_role("link", name="Markdown").click()
        page.wait_for_url("**/papers/0704.0001.md")
        note = page.locator("pre").inner_text()
        assert note.startswith("# Calculation of prompt diphoton production cross sections")
        assert "## Abstract" in note
        journey.shot("markdown")
