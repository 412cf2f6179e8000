"""Community journeys in a real browser: sign up, confirm by the emailed link and log in
again; upvote (the count changes in place, the day's order on the next load); submit a
paper by arXiv id against a local arXiv API stand-in. Each at desktop and mobile width.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page

from paperfeed import clock
from paperfeed.community import accounts
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.servers import FakeArxivApi, SmtpServer
from tests.web.browser import (
    VIEWPORTS,
    Journey,
    Viewport,
    browser,
    link_path,
    mail_to,
    open_menu,
    viewport,
)
from tests.web.live import start_server

pytestmark = pytest.mark.browser
__all__ = ["browser", "viewport"]  # the harness's fixtures, used by the tests below
PASSWORD = "long enough password"
NOW = datetime(2024, 8, 5, 15, 0, tzinfo=UTC)  # 2408.00716 (the recorded API sample) is new
# What each width submits: a recorded paper by its abs link, a generated one by bare id.
SUBMISSIONS = {
    "desktop": ("https://arxiv.org/abs/2408.00716", "2408.00716"),
    "mobile": ("2408.01234", "2408.01234"),
}


@dataclass
class Site:
    url: str
    smtp: SmtpServer


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo site with a mail server, an arXiv API stand-in and a confirmed member per
    viewport (the upvote and submit journeys log in as them)."""
    smtp = SmtpServer().start()
    arxiv = FakeArxivApi().start()
    arxiv.generate = True  # ids it has no recording of get a made-up, recent entry
    tmp = tmp_path_factory.mktemp("live-community")
    url = f"sqlite:///{tmp / 'demo.sqlite3'}"
    db = Database(url)
    db.upgrade()
    settings = smtp.settings(make_settings(tmp, url)).model_copy(
        update={"arxiv_api_url": arxiv.url, "arxiv_request_interval": 0.0}
    )
    settings.index_dir = tmp / "index"
    with clock.frozen(NOW):
        load_demo(db, settings.tz)
        with db.transaction() as session:
            for each in VIEWPORTS:
                name = f"member-{each.label}"
                accounts.create_user(session, name, f"{name}@example.org", PASSWORD, verified=True)
    live = start_server(create_app(settings, db))
    try:
        yield Site(live.url, smtp)
    finally:
        live.stop()
        smtp.stop()
        arxiv.stop()
        db.dispose()


@pytest.fixture(autouse=True)
def fixed_clock() -> Iterator[datetime]:
    """The live server's clock stays on NOW for the whole module."""
    with clock.frozen(NOW):
        yield NOW


def log_in(page: Page, base: str, login: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username or email").fill(login)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")


def test_sign_up_confirm_by_email_and_log_in(browser, site: Site, viewport: Viewport) -> None:
    name = f"reader-{viewport.label}"
    email = f"{name}@example.org"
    with Journey(browser, "sign-up", viewport) as journey:
        page = journey.page
        page.goto(site.url + "/")
        open_menu(page)  # on a phone the header's links are behind its Menu button
        page.get_by_role("navigation", name="Account").get_by_role("link", name="Sign up").click()
        page.wait_for_url("**/signup")
        page.get_by_label("Username").fill(name)
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        journey.fits()
        journey.shot("form")
        page.get_by_role("button", name="Sign up").click()
        page.wait_for_url("**/account?welcome=1")
        assert page.locator(".badge").inner_text() == "not confirmed"
        journey.shot("welcome")

        page.goto(site.url + link_path(mail_to(site.smtp, email), "/verify"))
        assert page.locator("h1").inner_text() == "Email confirmed"
        journey.shot("confirmed")

        open_menu(page)
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(site.url + "/")
        open_menu(page)
        account = page.get_by_role("navigation", name="Account")
        account.get_by_role("link", name="Log in").click()
        page.get_by_label("Username or email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        journey.shot("log-in")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(site.url + "/")
        open_menu(page)
        account = page.get_by_role("navigation", name="Account")
        assert account.get_by_role("link", name=name).is_visible()
        account.get_by_role("link", name="Account").click()
        page.wait_for_url("**/account")
        assert page.locator(".badge").inner_text() == "confirmed"
        journey.fits()
        journey.shot("account")


def test_upvote_changes_the_count_and_the_order(browser, site: Site, viewport: Viewport) -> None:
    with Journey(browser, "upvote", viewport) as journey:
        page = journey.page
        log_in(page, site.url, f"member-{viewport.label}")
        titles = page.locator("li.card h3 a")
        counts = page.locator("li.card .count")
        before = [int(v.replace(",", "")) for v in counts.all_inner_texts()]
        # The first paper tied with the one above it: one more vote puts it above.
        tied = next(i for i in range(1, len(before)) if before[i] == before[i - 1])
        card = page.locator("li.card").nth(tied)
        title = card.locator("h3 a").inner_text()
        button = card.get_by_role("button", name="Upvote")
        assert button.get_attribute("aria-pressed") == "false"
        button.scroll_into_view_if_needed()
        journey.shot("before")

        button.click()
        # The script sends the vote and updates the button in place: no page load.
        page.wait_for_function(
            "([i, n]) => document.querySelectorAll('li.card .count')[i].innerText == String(n)",
            arg=[tied, before[tied] + 1],
        )
        assert button.get_attribute("aria-pressed") == "true"
        assert page.url == site.url + "/"
        journey.shot("counted")

        page.reload()
        order = titles.all_inner_texts()
        after = [int(v.replace(",", "")) for v in counts.all_inner_texts()]
        assert after == sorted(after, reverse=True)
        assert order.index(title) < tied
        assert after[order.index(title)] == before[tied] + 1
        voted = page.locator("li.card").filter(has_text=title)
        assert voted.get_by_role("button", name="Upvote").get_attribute("aria-pressed") == "true"
        voted.scroll_into_view_if_needed()
        journey.fits()
        journey.shot("moved-up")


def test_submit_a_paper_by_arxiv_id(browser, site: Site, viewport: Viewport) -> None:
    with Journey(browser, "submit", viewport) as journey:
        page = journey.page
        log_in(page, site.url, f"member-{viewport.label}")
        open_menu(page)
        page.get_by_role("navigation", name="Account").get_by_role("link", name="Submit").click()
        page.wait_for_url("**/papers/submit")
        typed, arxiv_id = SUBMISSIONS[viewport.label]
        page.get_by_label("arXiv id or link").fill(typed)
        journey.fits()
        journey.shot("form")
        page.locator("main").get_by_role("button", name="Submit").click()
        page.wait_for_url(f"**/papers/{arxiv_id}?submitted=accepted")
        assert page.get_by_role("status").first.inner_text().startswith("Thank you!")
        assert page.get_by_text(f"submitted by member-{viewport.label}").is_visible()
        title = page.locator("h1").inner_text()
        journey.fits()
        journey.shot("submitted")

        page.get_by_role("link", name="Aug 5, 2024").click()  # today's feed
        page.wait_for_url("**/papers/date/2024-08-05")
        card = page.locator("li.card").filter(has=page.get_by_role("link", name=title))
        card.scroll_into_view_if_needed()
        journey.shot("on-the-feed")
