"""Submitting while arXiv does not answer, in a real browser: the button is disabled and a
status line shows while the lookup waits, then the page says arXiv could not be reached.
Without JavaScript the same form submits and gets the same answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page

from paperfeed.community import accounts
from paperfeed.db import Database
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.servers import SilentServer
from tests.web.browser import Journey, Viewport, browser, viewport
from tests.web.live import start_server

pytestmark = pytest.mark.browser
__all__ = ["browser", "viewport"]  # the harness's fixtures, used by the tests below
PASSWORD = "long enough password"
TIMEOUT = 3.0  # seconds the lookup may take: long enough to look at the waiting form


@dataclass
class Site:
    url: str
    arxiv: SilentServer


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    arxiv = SilentServer().start()
    tmp = tmp_path_factory.mktemp("live-submit")
    url = f"sqlite:///{tmp / 'site.sqlite3'}"
    db = Database(url)
    db.upgrade()
    settings = make_settings(tmp, url).model_copy(
        update={"arxiv_api_url": arxiv.url, "arxiv_timeout": TIMEOUT}
    )
    with db.transaction() as session:
        for name in ("desktop", "mobile", "noscript-desktop", "noscript-mobile"):
            accounts.create_user(
                session, f"sub-{name}", f"{name}@example.org", PASSWORD, verified=True
            )
    live = start_server(create_app(settings, db))
    try:
        yield Site(live.url, arxiv)
    finally:
        live.stop()
        arxiv.stop()
        db.dispose()


def log_in(page: Page, base: str, login: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username or email").fill(login)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")


def expect_unreachable(journey: Journey, page: Page, site: Site) -> None:
    """The answer, once the lookup gave up: the 503 page, the form usable again."""
    page.get_by_text("arXiv could not be reached").wait_for(timeout=(TIMEOUT + 5) * 1000)
    assert site.arxiv.url in page.locator("#operator-note").inner_text()
    assert page.get_by_label("arXiv id or link").input_value() == "2408.00716"
    assert page.locator("main").get_by_role("button", name="Submit").is_enabled()
    # The 503 (and the browser's console line about it) is the answer this journey
    # expects; anything else the browser saw is not.
    expected = {
        f"HTTP 503: {site.url}/papers/submit",
        "console error: Failed to load resource: the server responded with a status of 503 "
        "(Service Unavailable)",
    }
    journey.problems[:] = [p for p in journey.problems if p not in expected]


# While a form's request is pending the browser keeps the old page, but Playwright's own
# queries wait for the navigation to end. So the page reports each change of the button and
# the status line itself, through an exposed function, from a script injected by the test.
WATCH = """
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form.submit-form");
  if (!form) return;
  const button = form.querySelector("button[type=submit]");
  const progress = document.getElementById("submit-progress");
  const report = () => window.reportSubmitState({
    disabled: button.disabled,
    busy: button.getAttribute("aria-busy"),
    label: button.textContent,
    progress: !progress.hidden,
  });
  const watch = new MutationObserver(report);
  watch.observe(button, {attributes: true, childList: true});
  watch.observe(progress, {attributes: true});
});
"""


def test_the_button_waits_disabled_while_arxiv_does_not_answer(
    browser, site: Site, viewport: Viewport
) -> None:
    with Journey(browser, "submit-waiting", viewport) as journey:
        page = journey.page
        seen: list[tuple[float, dict[str, object]]] = []
        clicked = [0.0]
        page.expose_function(
            "reportSubmitState", lambda state: seen.append((time.monotonic() - clicked[0], state))
        )
        page.add_init_script(WATCH)
        log_in(page, site.url, f"sub-{viewport.label}")
        page.goto(site.url + "/papers/submit")
        assert not page.locator("#submit-progress").is_visible()
        page.get_by_label("arXiv id or link").fill("2408.00716")
        journey.shot("form")
        clicked[0] = time.monotonic()
        page.locator("main").get_by_role("button", name="Submit").click(no_wait_after=True)
        page.wait_for_timeout(TIMEOUT * 1000 / 3)  # well before arXiv's answer could come
        waiting = [state for at, state in seen if at < TIMEOUT]
        assert waiting, seen
        assert waiting[-1] == {
            "disabled": True,
            "busy": "true",
            "label": "Submitting…",
            "progress": True,
        }
        expect_unreachable(journey, page, site)
        assert time.monotonic() - clicked[0] < TIMEOUT + 3
        journey.fits()
        journey.shot("unreachable")


def test_without_javascript_the_form_still_submits(browser, site: Site, viewport: Viewport) -> None:
    with Journey(browser, "submit-noscript", viewport) as journey:
        page = journey.person(java_script_enabled=False)
        log_in(page, site.url, f"sub-noscript-{viewport.label}")
        page.goto(site.url + "/papers/submit")
        page.get_by_label("arXiv id or link").fill("2408.00716")
        page.locator("main").get_by_role("button", name="Submit").click()
        expect_unreachable(journey, page, site)
        assert not page.locator("#submit-progress").is_visible()
