"""Topic and people journeys in a real browser against the demo site: from a paper's category
chip to the category's week and its RSS feed; from an author's name to the author page, on
to a co-author and back. At desktop and mobile widths (harness: tests/web/browser.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from xml.etree import ElementTree

import pytest

from paperfeed import clock
from paperfeed.demo import load_demo
from paperfeed.web.app import create_app
from tests.conftest import FIXED_NOW
from tests.web.browser import Journey, Viewport, browser, viewport
from tests.web.live import site_database, start_server

pytestmark = pytest.mark.browser
__all__ = ["browser", "viewport"]  # the harness's fixtures, used by the tests below
PAPER = "0704.0033"  # physics.optics, cross-listed to physics.comp-ph; three authors


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db, settings = site_database(tmp_path_factory.mktemp("live-topics"))
    with clock.frozen(FIXED_NOW):
        load_demo(db, settings.tz)
    live = start_server(create_app(settings, db))
    yield live.url
    live.stop()
    db.dispose()


def card_titles(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.strip() for t in page.locator("li.card h3").all_inner_texts()]


def test_from_a_category_chip_to_its_week_and_its_feed(
    browser, demo_site: str, viewport: Viewport
) -> None:  # type: ignore[no-untyped-def]
    with Journey(browser, "category-week-feed", viewport) as journey:
        page = journey.page
        page.goto(f"{demo_site}/papers/{PAPER}")
        chip = page.locator(".categories a.category.primary")
        assert chip.inner_text() == "Optics (physics.optics)"
        chip.scroll_into_view_if_needed()
        journey.shot("paper-categories")
        chip.click()
        page.wait_for_url(re.compile(r"/papers/category/physics\.optics(/date/[\d-]+)?$"))
        assert page.locator(".eyebrow a").first.text_content() == "Optics (physics.optics)"
        assert page.locator("li.card").count() > 0
        journey.fits()
        journey.shot("category-day")

        page.get_by_role("navigation", name="Period").get_by_role("link", name="Week").click()
        page.wait_for_url(re.compile(r"/papers/category/physics\.optics/week/\d{4}-W\d{2}$"))
        week_titles = card_titles(page)
        count = page.locator(".page-head .count").inner_text()
        assert count == f"{len(week_titles)} paper{'s' if len(week_titles) != 1 else ''}"
        journey.fits()
        journey.shot("category-week")

        rss = page.get_by_role("group", name=re.compile("feeds and downloads")).get_by_role(
            "link", name="RSS"
        )
        href = rss.get_attribute("href")
        assert href is not None and href.endswith(".rss")
        assert re.search(r"/papers/category/physics\.optics/week/\d{4}-W\d{2}\.rss$", href)
        feed = page.request.get(demo_site + href)
        assert feed.status == 200
        assert feed.headers["content-type"].startswith("application/rss+xml")
        channel = ElementTree.fromstring(feed.body()).find("channel")
        assert channel is not None
        items = [item.findtext("title") for item in channel.findall("item")]
        # The feed is the page's list: the same papers, in the same order.
        assert items == week_titles


def test_from_an_author_to_a_coauthor_and_back(browser, demo_site: str, viewport: Viewport) -> None:  # type: ignore[no-untyped-def]
    with Journey(browser, "author-coauthor", viewport) as journey:
        page = journey.page
        page.goto(f"{demo_site}/papers/{PAPER}")
        page.locator(".author").get_by_role("link", name="Maxim A. Yurkin").click()
        page.wait_for_url("**/authors/Maxim%20A.%20Yurkin")
        assert page.locator("h1").inner_text() == "Maxim A. Yurkin"
        assert page.locator(".page-head .count").inner_text() == "4 papers"
        assert len(card_titles(page)) == 4
        journey.fits()
        journey.shot("author")

        coauthors = page.get_by_role("region", name="Co-authors")
        assert "Alfons G. Hoekstra (4 papers)" in coauthors.inner_text()
        coauthors.get_by_role("link", name="Alfons G. Hoekstra").click()
        page.wait_for_url("**/authors/Alfons%20G.%20Hoekstra")
        assert page.locator("h1").inner_text() == "Alfons G. Hoekstra"
        journey.fits()
        journey.shot("coauthor")

        page.get_by_role("region", name="Co-authors").get_by_role(
            "link", name="Maxim A. Yurkin"
        ).click()
        page.wait_for_url("**/authors/Maxim%20A.%20Yurkin")
        assert page.locator("h1").inner_text() == "Maxim A. Yurkin"
        page.go_back()
        page.wait_for_url("**/authors/Alfons%20G.%20Hoekstra")
        assert page.locator("h1").inner_text() == "Alfons G. Hoekstra"
