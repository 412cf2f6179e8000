"""Journeys in a real browser (Debian's Chromium through Playwright) against a live server.

Each journey fails on any console error or failed request, and saves screenshots at
desktop and mobile widths under test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from paperfeed import clock
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.search.indexing import run_index
from paperfeed.web.app import create_app
from tests.conftest import FIXED_NOW, make_settings
from tests.web.live import start_server

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo site on a real port, served by uvicorn in a background thread."""
    tmp = tmp_path_factory.mktemp("live")
    url = f"sqlite:///{tmp / 'demo.sqlite3'}"
    db = Database(url)
    db.upgrade()
    settings = make_settings(tmp, url)
    settings.index_dir = tmp / "index"
    with clock.frozen(FIXED_NOW):
        load_demo(db, settings.tz)
        run_index(db, settings)  # what `paperfeed demo` does: embed with the real model, index
    live = start_server(create_app(settings, db))
    yield live.url
    live.stop()
    db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        yield instance
        instance.close()


class Journey:
    """A browser page that records console errors and failed requests."""

    def __init__(self, browser, name: str, viewport: dict[str, int], scheme: str = "light"):
        self.name = name
        self.context = browser.new_context(viewport=viewport, color_scheme=scheme)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", self._request_failed)
        self.page.on(
            "response",
            lambda r: (
                self.problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None
            ),
        )
        self.shots = 0

    def _request_failed(self, request) -> None:  # type: ignore[no-untyped-def]
        # A request the browser itself cancels because the page moved on (a favicon still
        # loading when a link is clicked) is not a failure of the site.
        if request.failure == "net::ERR_ABORTED":
            return
        self.problems.append(f"request failed: {request.url} ({request.failure})")

    def shot(self, label: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.shots += 1
        self.page.screenshot(path=str(ARTIFACTS / f"{self.name}-{self.shots:02d}-{label}.png"))

    def close(self) -> None:
        self.context.close()
        assert self.problems == []


@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("mobile", MOBILE)])
def test_browse_days_and_open_a_paper(browser, live_server: str, label: str, viewport) -> None:
    journey = Journey(browser, f"browse-{label}", viewport)
    page = journey.page
    page.goto(live_server + "/")
    assert page.locator("h1").inner_text() == "Thursday, November 19, 2026"
    assert page.locator("li.card").count() == 27
    journey.shot("home")

    page.get_by_role("link", name="Previous").first.click()
    page.wait_for_url("**/papers/date/2026-11-18")
    assert page.locator("h1").inner_text() == "Wednesday, November 18, 2026"
    journey.shot("previous-day")

    first = page.locator("li.card h3 a").first
    title = first.inner_text()
    first.click()
    page.wait_for_url("**/papers/pf-*")
    assert page.locator("h1").inner_text() == title
    assert page.get_by_role("heading", name="Abstract").is_visible()
    journey.shot("paper")

    # Nothing overflows sideways on a phone.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"]
    journey.close()


def test_latex_renders_as_mathml(browser, live_server: str) -> None:
    journey = Journey(browser, "latex", DESKTOP)
    page = journey.page
    page.goto(live_server + "/papers/0704.0002")
    formula = page.locator(".abstract-full math").first
    box = formula.bounding_box()
    assert box is not None and box["width"] > 5 and box["height"] > 5
    journey.shot("paper-with-math")
    journey.close()


def test_dark_mode_follows_the_system(browser, live_server: str) -> None:
    journey = Journey(browser, "dark", DESKTOP, scheme="dark")
    page = journey.page
    page.goto(live_server + "/papers/trending")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    channels = [int(c) for c in background[background.index("(") + 1 : -1].split(",")[:3]]
    assert max(channels) < 60, background
    journey.shot("trending-dark")
    journey.close()


def test_keyboard_users_can_skip_to_content(browser, live_server: str) -> None:
    journey = Journey(browser, "keyboard", DESKTOP)
    page = journey.page
    page.goto(live_server + "/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused.strip() == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    journey.close()


@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("mobile", MOBILE)])
def test_search_filter_page_and_follow_similar(
    browser, live_server: str, label: str, viewport
) -> None:
    journey = Journey(browser, f"search-{label}", viewport)
    page = journey.page
    page.goto(live_server + "/papers/trending")
    box = page.get_by_role("searchbox", name="Search papers")
    box.fill("quantum theory")
    box.press("Enter")
    page.wait_for_url("**/papers?q=quantum+theory")
    assert page.locator("mark").count() > 0
    status = page.get_by_role("status").first.inner_text()
    assert "match" in status
    journey.shot("results")

    page.get_by_label("Published from").fill("2007-01-01")
    page.get_by_label("to", exact=True).fill("2007-12-31")
    page.get_by_role("button", name="Search", exact=True).last.click()
    page.wait_for_url("**from=2007-01-01**")
    titles = page.locator("li.card h3 a")
    assert titles.count() == 20
    assert all(
        href.startswith("/papers/0704.")
        for href in titles.evaluate_all("els => els.map(e => e.getAttribute('href'))")
    )
    journey.shot("filtered")

    page.get_by_role("link", name="Next page").click()
    page.wait_for_url("**p=2**")
    assert "Page 2 of" in page.locator(".pager").inner_text()

    page.goto(live_server + "/papers?q=0704.0002")
    page.wait_for_url("**/papers/0704.0002")
    similar = page.locator(".similar-list a")
    assert similar.count() == 6
    journey.shot("similar")
    similar.first.click()
    page.wait_for_url("**/papers/**")
    assert page.locator("h1").is_visible()
    journey.close()
