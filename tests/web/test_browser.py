"""Reading journeys in a real browser against the demo site with a search index: move between
days, weeks and months; open a paper with formulas and its similar papers; search with
filters and pages. Each runs at desktop and mobile width (harness: tests/web/browser.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperfeed import clock
from paperfeed.demo import load_demo
from paperfeed.search.embeddings import import_embeddings
from paperfeed.search.index import DIM
from paperfeed.search.indexing import MODEL_NAME, run_index
from paperfeed.web.app import create_app
from tests.conftest import FIXED_NOW
from tests.web.browser import DESKTOP, Journey, Viewport, browser, viewport
from tests.web.live import site_database, start_server

pytestmark = pytest.mark.browser
__all__ = ["browser", "viewport"]  # the harness's fixtures, used by the tests below


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, sample_embeddings_file: Path
) -> Iterator[str]:
    """The demo site on a real port, with the search index `paperfeed demo` builds.

    The demo papers' embeddings are the session's (computed once for the search tests),
    imported the documented way, so the browser tests do not embed the corpus again.
    """
    tmp = tmp_path_factory.mktemp("live")
    db, settings = site_database(tmp)
    with clock.frozen(FIXED_NOW):
        load_demo(db, settings.tz)
        import_embeddings(db, sample_embeddings_file, DIM, MODEL_NAME)
        run_index(db, settings, embed=False)
    live = start_server(create_app(settings, db))
    yield live.url
    live.stop()
    db.dispose()


def total_of(text: str) -> int:
    """The number in "1,234 papers" or "56 papers match"."""
    found = re.search(r"([\d,]+) papers?", text)
    assert found is not None, text
    return int(found.group(1).replace(",", ""))


def test_browse_days_weeks_and_months(browser, live_server: str, viewport: Viewport) -> None:
    with Journey(browser, "browse-periods", viewport) as journey:
        page = journey.page
        heading = page.locator("h1")
        count = page.locator(".page-head .count")

        def step(nav: str, link: str, url: str, title: str, shot: str | None = None) -> None:
            page.get_by_role("navigation", name=nav).get_by_role("link", name=link).click()
            page.wait_for_url(f"**{url}")
            assert heading.inner_text() == title
            journey.fits()
            if shot:
                journey.shot(shot)

        page.goto(live_server + "/")
        assert heading.inner_text() == "Thursday, November 19, 2026"
        assert page.locator("li.card").count() == total_of(count.inner_text()) == 27
        journey.fits()
        journey.shot("today")

        step(
            "Other days",
            "Previous",
            "/papers/date/2026-11-18",
            "Wednesday, November 18, 2026",
            "previous-day",
        )
        step("Other days", "Next", "/papers/date/2026-11-19", "Thursday, November 19, 2026")
        assert page.locator(".period-nav .disabled").inner_text().startswith("Next")

        step("Period", "Week", "/papers/week/2026-W47", "Week 47, 2026 (Nov 16 – Nov 22)", "week")
        assert total_of(count.inner_text()) == 108
        step(
            "Other weeks",
            "Previous",
            "/papers/week/2026-W46",
            "Week 46, 2026 (Nov 9 – Nov 15)",
            "previous-week",
        )
        step("Other weeks", "Next", "/papers/week/2026-W47", "Week 47, 2026 (Nov 16 – Nov 22)")

        step("Period", "Month", "/papers/month/2026-11", "November 2026", "month")
        assert total_of(count.inner_text()) == 368
        # The month before with papers is April 2007 (the demo's arXiv sample), not October.
        step("Other months", "Previous", "/papers/month/2007-04", "April 2007", "previous-month")
        step("Other months", "Next", "/papers/month/2026-11", "November 2026")

        # Day from a month is its first day: empty here, with a link to the next papers.
        step("Period", "Day", "/papers/date/2026-11-01", "Sunday, November 1, 2026")
        assert page.get_by_role("heading", name="No papers on this day").is_visible()
        journey.shot("empty-day")
        page.locator(".empty").get_by_role("link", name="Friday, November 6, 2026").click()
        page.wait_for_url("**/papers/date/2026-11-06")
        assert heading.inner_text() == "Friday, November 6, 2026"
        assert page.locator("li.card").count() > 0
        journey.shot("next-day-with-papers")


def test_open_a_paper_with_formulas_and_similar_papers(
    browser, live_server: str, viewport: Viewport
) -> None:
    with Journey(browser, "paper", viewport) as journey:
        page = journey.page
        page.goto(live_server + "/")
        first = page.locator("li.card h3 a").first
        title = first.inner_text()
        first.click()
        page.wait_for_url("**/papers/pf-*")
        assert page.locator("h1").inner_text() == title
        assert page.get_by_role("heading", name="Abstract").is_visible()
        journey.fits()
        journey.shot("paper-from-feed")

        # An arXiv id in the search box opens that paper; its TeX shows as MathML.
        box = page.get_by_role("searchbox", name="Search papers")
        box.fill("0704.0002")
        box.press("Enter")
        page.wait_for_url("**/papers/0704.0002")
        formula = page.locator(".abstract-full math").first
        formula.scroll_into_view_if_needed()
        box_size = formula.bounding_box()
        assert box_size is not None and box_size["width"] > 5 and box_size["height"] > 5
        assert "$" not in page.locator(".abstract-full").inner_text()  # no raw TeX left
        journey.fits()
        journey.shot("formulas")

        similar = page.locator('.similar-list a[href^="/papers/"]')
        assert similar.count() == 6
        similar.first.scroll_into_view_if_needed()
        journey.shot("similar-papers")
        other = similar.first.inner_text()
        similar.first.click()
        page.wait_for_url(re.compile(r"/papers/(?!0704\.0002$)[^/]+$"))
        assert page.locator("h1").inner_text() == other
        journey.fits()
        journey.shot("similar-paper")


def test_search_filter_and_page(browser, live_server: str, viewport: Viewport) -> None:
    with Journey(browser, "search", viewport) as journey:
        page = journey.page
        page.goto(live_server + "/papers/trending")
        box = page.get_by_role("searchbox", name="Search papers")
        box.fill("quantum theory")
        box.press("Enter")
        page.wait_for_url("**/papers?q=quantum+theory")
        assert page.locator("mark").count() > 0
        everything = total_of(page.locator(".page-head [role=status]").inner_text())
        assert everything > 20
        journey.fits()
        journey.shot("results")

        filters = page.locator("details.search-refine > summary")
        if filters.is_visible():  # on a phone the filters fold under their summary
            filters.click()
        page.get_by_label("Published on arXiv from").fill("2007-01-01")
        page.get_by_label("to", exact=True).fill("2007-12-31")
        page.locator("form.search-form").get_by_role("button", name="Search").click()
        page.wait_for_url("**from=2007-01-01**")
        narrowed = total_of(page.locator(".page-head [role=status]").inner_text())
        assert 20 < narrowed < everything
        titles = page.locator("li.card h3 a")
        first_page = titles.evaluate_all("els => els.map(e => e.getAttribute('href'))")
        assert len(first_page) == 20
        assert all(href.startswith("/papers/0704.") for href in first_page)
        journey.fits()
        journey.shot("filtered")

        page.get_by_role("link", name="Next page").click()
        page.wait_for_url("**p=2**")
        pages = -(-narrowed // 20)
        assert page.locator(".pager span").inner_text() == f"Page 2 of {pages}"
        second_page = titles.evaluate_all("els => els.map(e => e.getAttribute('href'))")
        assert second_page and not set(second_page) & set(first_page)
        assert all(href.startswith("/papers/0704.") for href in second_page)
        assert page.get_by_label("Published on arXiv from").input_value() == "2007-01-01"
        page.locator(".pager").scroll_into_view_if_needed()
        journey.fits()
        journey.shot("second-page")


def test_dark_mode_follows_the_system(browser, live_server: str) -> None:
    with Journey(browser, "dark", DESKTOP, scheme="dark") as journey:
        page = journey.page
        page.goto(live_server + "/papers/trending")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        channels = [int(c) for c in background[background.index("(") + 1 : -1].split(",")[:3]]
        assert max(channels) < 60, background
        journey.shot("trending")


def test_keyboard_users_can_skip_to_content(browser, live_server: str) -> None:
    with Journey(browser, "keyboard", DESKTOP) as journey:
        page = journey.page
        page.goto(live_server + "/")
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent")
        assert focused.strip() == "Skip to content"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
