"""Collections in a real browser: Save on a card changes the button in place, a new
collection gets a paper from its page without a reload, the collection page lists it with
its exports; without JavaScript the same buttons work as forms. At desktop and mobile width.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from paperfeed.community import accounts
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.browser import Journey, Viewport, browser, viewport
from tests.web.live import LiveServer, start_server

pytestmark = pytest.mark.browser
__all__ = ["browser", "viewport"]  # the harness's fixtures, used by the tests below
PASSWORD = "long enough password"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("live-collections")
    url = f"sqlite:///{tmp / 'demo.sqlite3'}"
    db = Database(url)
    db.upgrade()
    settings = make_settings(tmp, url)
    settings.index_dir = tmp / "index"
    load_demo(db, settings.tz)
    with db.transaction() as session:
        for name in ("collector-desktop", "collector-mobile", "plain-desktop", "plain-mobile"):
            accounts.create_user(session, name, f"{name}@example.org", PASSWORD, verified=True)
    live = start_server(create_app(settings, db))
    try:
        yield live
    finally:
        live.stop()
        db.dispose()


def log_in(page: Page, base: str, login: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username or email").fill(login)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")


def test_save_and_collect_without_a_reload(browser, site: LiveServer, viewport: Viewport) -> None:  # type: ignore[no-untyped-def]  # the harness's browser fixture
    with Journey(browser, "collections", viewport) as journey:
        page = journey.page
        log_in(page, site.url, f"collector-{viewport.label}")
        card = page.locator("li.card").first
        title = card.locator("h3 a").inner_text()
        save = card.get_by_role("button", name="Save")
        assert save.get_attribute("aria-pressed") == "false"
        page.evaluate("window.__notReloaded = true")
        save.click()
        page.wait_for_function(
            "() => document.querySelector('li.card .save-button').getAttribute('aria-pressed')"
            " === 'true'"
        )
        assert card.locator(".save-label").inner_text() == "Saved"
        assert page.evaluate("window.__notReloaded") is True and page.url == site.url + "/"
        journey.shot("saved")

        page.goto(site.url + "/collections")
        page.get_by_label("Title").fill("Reading group")
        page.get_by_label("Anyone with the address").check()
        journey.fits()
        page.get_by_role("button", name="Create").click()
        page.wait_for_url("**/collections/collector-*/reading-group-*?done=created")
        collection_url = page.url.split("?")[0]

        page.goto(site.url + "/")
        page.locator("li.card h3 a").nth(1).click()
        page.wait_for_url("**/papers/**")
        second = page.locator("h1").inner_text()
        add = page.get_by_role("button", name="Add to Reading group")
        page.evaluate("window.__notReloaded = true")
        add.click()
        page.wait_for_function(
            "() => [...document.querySelectorAll('.paper-collections .save-label')]"
            ".some(e => e.innerText === 'In Reading group')"
        )
        assert page.evaluate("window.__notReloaded") is True
        journey.fits()
        journey.shot("collected")

        page.goto(collection_url)
        assert page.locator(".collection-items li a").first.inner_text() == second
        assert page.get_by_role("link", name="BibTeX").is_visible()
        journey.fits()
        journey.shot("collection")
        saved = page.goto(site.url + "/collections")
        assert saved is not None and page.get_by_role("link", name="Saved").is_visible()
        page.get_by_role("link", name="Saved").click()
        assert page.locator(".collection-items li a").first.inner_text() == title


def test_the_save_button_works_without_javascript(  # type: ignore[no-untyped-def]  # the harness's browser fixture
    browser, site: LiveServer, viewport: Viewport
) -> None:
    with Journey(browser, "collections-no-js", viewport) as journey:
        page = journey.person(java_script_enabled=False)
        log_in(page, site.url, f"plain-{viewport.label}")
        card = page.locator("li.card").first
        card.get_by_role("button", name="Save").click()
        page.wait_for_url(site.url + "/")
        first = page.locator("li.card").first
        assert first.get_by_role("button", name="Saved").get_attribute("aria-pressed") == "true"
        journey.shot("saved", page)
