"""The digest journey in a real browser, at desktop and mobile width: subscribe from the site
header, confirm by the emailed link, look at the settings and the preview, then unsubscribe
by the link in a digest (harness: tests/web/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from paperfeed import clock
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.digest.sending import send_due
from paperfeed.models import Subscription
from paperfeed.web.app import create_app
from tests.conftest import FIXED_NOW
from tests.web.browser import Journey, Viewport, browser, link_path, mail_to, open_menu, viewport
from tests.web.live import site_database, start_server

pytestmark = pytest.mark.browser
__all__ = ["browser", "viewport"]  # the harness's fixtures, used by the tests below


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, object, Database, object]]:  # type: ignore[no-untyped-def]
    from tests.servers import SmtpServer

    smtp = SmtpServer().start()
    tmp = tmp_path_factory.mktemp("live-digest")
    db, settings = site_database(tmp)
    settings = smtp.settings(settings)
    with clock.frozen(FIXED_NOW):
        load_demo(db, settings.tz)
    live = start_server(create_app(settings, db))
    try:
        yield live.url, smtp, db, settings
    finally:
        live.stop()
        smtp.stop()
        db.dispose()


def status_of(db: Database, email: str) -> str:
    from sqlalchemy import select

    with db.reader() as session:
        return session.execute(
            select(Subscription.status).where(Subscription.email == email)
        ).scalar_one()


def test_subscribe_from_the_header_confirm_and_unsubscribe(
    browser, site, viewport: Viewport
) -> None:  # type: ignore[no-untyped-def]
    base, smtp, db, settings = site
    email = f"{viewport.label}@example.org"
    weekly = viewport.label == "mobile"  # one width picks weekly, the other daily
    with Journey(browser, "digest", viewport) as journey:
        page = journey.page
        page.goto(base + "/")
        if viewport.label == "mobile":  # a phone's header menu links to the digest page instead
            assert not page.get_by_label("Paper digest: your address").is_visible()
            open_menu(page)
            page.locator("header").get_by_role("link", name="Digest").click()
            page.wait_for_url("**/digest")
            page.get_by_label("Email", exact=True).fill(email)
            journey.shot("digest-page")
        else:
            assert not page.locator("header").get_by_role("link", name="Digest").is_visible()
            page.get_by_label("Paper digest: your address").fill(email)
            journey.shot("header")
            page.locator("form.digest-signup").get_by_role("button", name="Subscribe").click()
            page.wait_for_url("**/digest/start")
        assert page.get_by_label("Email", exact=True).input_value() == email
        if weekly:
            page.get_by_label("Weekly, on Mondays").check()
        journey.fits()
        journey.shot("choose")
        page.locator("main").get_by_role("button", name="Subscribe").click()
        assert page.locator("h1").inner_text() == "Check your email"
        assert status_of(db, email) == "pending"
        journey.shot("check-your-email")

        page.goto(base + link_path(mail_to(smtp, email), "/digest/confirm"))
        assert page.locator("h1").inner_text() == "Confirm your subscription"
        assert status_of(db, email) == "pending"  # opening the link alone changes nothing
        journey.shot("confirm")
        page.get_by_role("button", name="Confirm subscription").click()
        assert page.locator("h1").inner_text() == "Subscription confirmed"
        assert status_of(db, email) == "active"
        journey.shot("confirmed")
        page.get_by_role("link", name="Digest settings").click()
        assert page.locator("h1").inner_text() == "Digest settings"
        assert page.get_by_label("Weekly, on Mondays").is_checked() == weekly
        journey.fits()
        journey.shot("settings")
        page.get_by_role("link", name="Preview the next digest").click()
        assert page.locator("h2").first.inner_text() == "Trending"
        journey.fits()
        journey.shot("preview")

        with clock.frozen(FIXED_NOW):
            assert send_due(settings, db)["sent"] >= 1
        digest = next(m for m in reversed(smtp.messages) if m.rcpt_tos == [email] and m.html)
        page.goto(base + link_path(digest, "/digest/unsubscribe"))
        assert email in page.locator("main").inner_text()
        journey.shot("unsubscribe")
        page.locator("main").get_by_role("button", name="Unsubscribe").click()
        assert page.locator("h1").inner_text() == "You are unsubscribed"
        assert status_of(db, email) == "unsubscribed"
        journey.fits()
        journey.shot("unsubscribed")
