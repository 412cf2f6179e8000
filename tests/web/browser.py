"""The harness for browser journeys: Debian's Chromium through Playwright, two viewports,
screenshots in one place, and a journey that fails on anything the browser complains about.

A test module imports `browser` and `viewport` (fixtures) and opens a `Journey`:

    def test_x(browser, live_server, viewport):
        with Journey(browser, "x", viewport) as journey:
            journey.page.goto(live_server)
            journey.shot("home")

Screenshots land in test-artifacts/browser/<journey>/<viewport>-NN-<step>.png (NN counts
the journey's steps at that width, across every person taking part). Leaving the `with`
block without an exception fails the test if the browser saw a console error or warning,
an uncaught page error, a failed request or any HTTP status of 400 and above.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Request

    from tests.servers import ReceivedMail, SmtpServer

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class Viewport:
    """A screen width every journey runs at; `label` names its screenshots."""

    label: str
    width: int
    height: int

    @property
    def size(self) -> dict[str, int]:
        return {"width": self.width, "height": self.height}


DESKTOP = Viewport("desktop", 1280, 900)
MOBILE = Viewport("mobile", 390, 844)
VIEWPORTS = [DESKTOP, MOBILE]


@pytest.fixture(params=VIEWPORTS, ids=[v.label for v in VIEWPORTS])
def viewport(request: pytest.FixtureRequest) -> Viewport:
    """Runs the journey once at desktop and once at mobile width."""
    return request.param


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module; each journey gets fresh contexts in it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        yield instance
        instance.close()


# Sums layout shifts as CLS does (those within 0.5 s of input do not count); added by the
# browser itself before any page script, so the page's CSP does not apply to it.
LAYOUT_SHIFT_WATCH = """
window.__layoutShift = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (!entry.hadRecentInput) window.__layoutShift += entry.value;
  }
}).observe({type: "layout-shift", buffered: true});
"""


class Journey:
    """One journey at one width: the people taking part, their problems and screenshots.

    `page` is the first person's page; `person()` opens another browser context (another
    cookie jar: someone else logged in). Every page's console errors, failed requests and
    4xx/5xx responses are collected, and checked when the `with` block ends.
    """

    def __init__(
        self, browser: Browser, name: str, viewport: Viewport, scheme: str = "light"
    ) -> None:
        self.browser = browser
        self.name = name
        self.viewport = viewport
        self.scheme = scheme
        self.folder = ARTIFACTS / name
        for stale in self.folder.glob(f"{viewport.label}-*.png"):
            stale.unlink()  # a renamed or dropped step must not linger from an earlier run
        self.problems: list[str] = []
        self.contexts: list[BrowserContext] = []
        self.shots = 0
        self.page = self.person()

    def person(self, **options: Any) -> Page:
        """A page in a new browser context, watched like the first; `options` go to the
        context (`java_script_enabled=False` for someone without scripts)."""
        context = self.browser.new_context(
            viewport=self.viewport.size,
            color_scheme=self.scheme,  # type: ignore[arg-type]
            **options,
        )
        context.add_init_script(LAYOUT_SHIFT_WATCH)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", self._request_failed)
        page.on(
            "response",
            lambda r: (
                self.problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None
            ),
        )
        return page

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def _request_failed(self, request: Request) -> None:
        # A request the browser itself cancels because the page moved on (a favicon still
        # loading when a link is clicked) is not a failure of the site.
        if request.failure == "net::ERR_ABORTED":
            return
        self.problems.append(f"request failed: {request.url} ({request.failure})")

    def shot(self, step: str, page: Page | None = None) -> Path:
        """Save what `page` (the first person's by default) shows now, as the next step."""
        self.shots += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.viewport.label}-{self.shots:02d}-{step}.png"
        (page or self.page).screenshot(path=str(path))
        return path

    def layout_shift(self, page: Page | None = None) -> float:
        """The page's cumulative layout shift so far (the Web Vitals CLS sum: shifts not
        caused by input), as the browser's `layout-shift` entries report it; every page
        of a journey records them from its first paint."""
        return float((page or self.page).evaluate("window.__layoutShift || 0"))

    def fits(self, page: Page | None = None) -> None:
        """Nothing on the page is wider than the screen (no sideways scrolling)."""
        target = page or self.page
        width = target.evaluate("document.documentElement.scrollWidth")
        assert width <= self.viewport.width, f"{target.url} is {width}px wide"

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.contexts.clear()

    def __enter__(self) -> Journey:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
        if kind is None:
            assert self.problems == [], "\n".join(self.problems)


def open_menu(page: Page) -> None:
    """Open the header's menu where it is a button (narrow screens); wide screens show its
    links in the header row, and there this does nothing."""
    summary = page.locator("details.site-menu > summary")
    if summary.is_visible() and page.locator("details.site-menu[open]").count() == 0:
        summary.click()


def mail_to(smtp: SmtpServer, address: str, timeout: float = 10.0) -> ReceivedMail:
    """The first message the SMTP server accepted for `address`, waiting for it to come."""
    deadline = time.monotonic() + timeout
    seen = 0
    while True:
        messages = smtp.messages
        for message in messages[seen:]:
            if address in message.rcpt_tos:
                return message
        seen = len(messages)
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no message for {address} within {timeout} s"
        with contextlib.suppress(AssertionError):  # the loop reports it, with the address
            smtp.wait_for(seen + 1, timeout=remaining)  # wakes when the next message arrives


def link_path(mail: ReceivedMail, path: str) -> str:
    """The path and query of the first link in `mail` to `path` (e.g. "/verify")."""
    found = re.search(rf"https?://[^/\s]+({re.escape(path)}\?\S+)", mail.text)
    assert found is not None, f"no {path} link in:\n{mail.text}"
    return found.group(1)
