"""The Content-Security-Policy in a real browser: every kind of page on the site tour, the
digest preview and the API docs load without one violation, and the API docs render
Swagger UI from the site alone (no request to any other origin)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from paperfeed import clock
from paperfeed.demo import load_demo
from paperfeed.digest import subscriptions as subs
from paperfeed.web.app import create_app
from tests.conftest import FIXED_NOW
from tests.web.browser import browser
from tests.web.live import site_database, start_server
from tests.web.site_tour import ADMIN, DESKTOP, MEMBER, TOUR, chromium, sign_in, tour_site

__all__ = ["browser", "chromium", "tour_site"]  # fixtures

pytestmark = pytest.mark.browser

# Runs before any of the page's own code; a violation is also a console error, but the
# event names the directive and the blocked resource.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"} ` +
    `(${event.sourceFile || ""}:${event.lineNumber})`
  );
});
"""


class Watched:
    """A page in a fresh context that records CSP violations and every request."""

    def __init__(self, chromium, state=None) -> None:  # type: ignore[no-untyped-def]
        self.context = chromium.new_context(viewport=DESKTOP, storage_state=state)
        self.context.add_init_script(WATCH)
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", self._console)
        self.page.on("request", lambda r: self.requests.append(r.url))

    def _console(self, message) -> None:  # type: ignore[no-untyped-def]
        # Chromium reports each violation here too ("Refused to apply inline style ...");
        # other console errors (a 404 page's status) are the journeys' business.
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.console.append(message.text)

    def problems(self) -> list[str]:
        violations = self.page.evaluate("window.__violations || []")
        return violations + [f"console: {text}" for text in self.console]

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def states(chromium, tour_site: str) -> dict[str | None, object]:  # type: ignore[no-untyped-def]
    found: dict[str | None, object] = {None: None}
    for who in (MEMBER, ADMIN):
        context = chromium.new_context(viewport=DESKTOP)
        sign_in(context.new_page(), tour_site, who)
        found[who] = context.storage_state()
        context.close()
    return found


def test_no_page_on_the_tour_breaks_its_content_security_policy(
    chromium, tour_site: str, states: dict[str | None, object]
) -> None:  # type: ignore[no-untyped-def]
    failures: list[str] = []
    for stop in TOUR:
        watched = Watched(chromium, states[stop.who])
        response = watched.page.goto(tour_site + stop.path, wait_until="load")
        assert response is not None and response.status == stop.status, stop.name
        assert "default-src 'none'" in response.headers["content-security-policy"]
        failures += [f"{stop.name}: {problem}" for problem in watched.problems()]
        watched.close()
    assert failures == [], "\n".join(failures)


def test_the_vote_script_runs_under_the_policy(
    chromium, tour_site: str, states: dict[str | None, object]
) -> None:  # type: ignore[no-untyped-def]
    watched = Watched(chromium, states[MEMBER])
    page = watched.page
    page.goto(tour_site + "/")
    form = page.locator("form.vote-form").first
    before = form.locator("button").get_attribute("aria-pressed")
    with page.expect_response(lambda r: r.request.method == "POST"):
        form.locator("button").click()
    page.wait_for_function(
        "([el, before]) => el.getAttribute('aria-pressed') !== before",
        arg=[form.locator("button").element_handle(), before],
    )
    assert page.url == tour_site + "/"  # updated by app.js, not by a form post and reload
    assert watched.problems() == []
    watched.close()


def test_the_api_docs_render_swagger_ui_from_the_site_alone(chromium, tour_site: str) -> None:  # type: ignore[no-untyped-def]
    watched = Watched(chromium)
    page = watched.page
    response = page.goto(tour_site + "/api/docs")
    assert response is not None and response.status == 200
    page.locator(".swagger-ui .info .title").wait_for()
    page.locator(".opblock").first.wait_for()  # the operations, from /api/openapi.json
    assert page.locator(".opblock").count() > 5
    page.wait_for_load_state("networkidle")
    site = urlsplit(tour_site).netloc
    foreign = [url for url in watched.requests if urlsplit(url).netloc not in (site, "")]
    assert foreign == []
    assert any(url.endswith("/api/openapi.json") for url in watched.requests)
    assert watched.problems() == []
    watched.close()


@pytest.fixture(scope="module")
def preview_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The demo site with one confirmed digest subscription: base URL and its manage token."""
    tmp: Path = tmp_path_factory.mktemp("csp-preview")
    db, settings = site_database(tmp)
    with clock.frozen(FIXED_NOW):
        load_demo(db, settings.tz)
        with db.transaction() as session:
            row = subs.subscribe(session, "reader@example.org", confirmed=True).subscription
            token = subs.link_token(settings, row, subs.MANAGE)
        live = start_server(create_app(settings, db))
        settings.site_url = live.url  # the email's links lead back to this server
        try:
            yield live.url, token
        finally:
            live.stop()
            db.dispose()


def test_the_digest_preview_shows_the_email_styled_without_a_violation(
    chromium, preview_site: tuple[str, str]
) -> None:  # type: ignore[no-untyped-def]
    base, token = preview_site
    watched = Watched(chromium)
    page = watched.page
    response = page.goto(f"{base}/digest/preview?token={token}")
    assert response is not None and response.status == 200
    policy = response.headers["content-security-policy"]
    assert "style-src 'unsafe-inline'" in policy and "script-src" not in policy
    assert page.locator("h2").first.inner_text() == "Trending"
    # The email's inline styles apply: its card has the white background it is sent with.
    card = page.locator("h3").first.locator("xpath=..")
    assert card.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(255, 255, 255)"
    assert watched.problems() == []
    # Its links still open (the sandbox allows navigation by a click).
    page.locator("h3 a").first.click()
    page.wait_for_url("**/papers/**")
    assert page.locator("h1").count() == 1
    watched.close()
