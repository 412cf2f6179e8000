"""Your data in a real browser: download the account's JSON from /account, then delete the
account keeping its comments, and find the comment signed "deleted user" on its paper.
At desktop and mobile width."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from paperfeed import clock
from paperfeed.community import accounts, comments
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.models import Paper
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.browser import VIEWPORTS, Journey, Viewport, browser, viewport
from tests.web.live import start_server

pytestmark = pytest.mark.browser
__all__ = ["browser", "viewport"]  # the harness's fixtures, used by the tests below
PASSWORD = "long enough password"
NOW = datetime(2024, 8, 5, 15, 0, tzinfo=UTC)


@dataclass
class Site:
    url: str
    paper: str  # the public id of the paper each member commented on


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo site with a member per viewport, each with a comment on the same paper."""
    tmp = tmp_path_factory.mktemp("live-account-data")
    url = f"sqlite:///{tmp / 'demo.sqlite3'}"
    db = Database(url)
    db.upgrade()
    settings = make_settings(tmp, url)
    settings.index_dir = tmp / "index"
    with clock.frozen(NOW):
        load_demo(db, settings.tz)
        with db.transaction() as session:
            paper = session.execute(
                select(Paper).where(Paper.hidden_at.is_(None)).order_by(Paper.id).limit(1)
            ).scalar_one()
            for each in VIEWPORTS:
                name = f"leaver-{each.label}"
                member = accounts.create_user(
                    session, name, f"{name}@example.org", PASSWORD, verified=True
                )
                comments.add_comment(session, member, paper.id, f"Notes from the {each.label}")
            public_id = paper.public_id
    live = start_server(create_app(settings, db))
    try:
        yield Site(live.url, public_id)
    finally:
        live.stop()
        db.dispose()


@pytest.fixture(autouse=True)
def fixed_clock() -> Iterator[datetime]:
    with clock.frozen(NOW):
        yield NOW


def test_download_your_data_then_delete_the_account(
    browser, site: Site, viewport: Viewport
) -> None:  # type: ignore[no-untyped-def]
    name = f"leaver-{viewport.label}"
    with Journey(browser, "account-data", viewport) as journey:
        page = journey.page
        page.goto(site.url + "/login")
        page.get_by_label("Username or email").fill(name)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(site.url + "/")

        page.goto(site.url + "/account#your-data")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download your data").click()
        document = json.loads(download.value.path().read_text())
        assert document["profile"]["username"] == name
        assert [c["body"] for c in document["comments"]] == [f"Notes from the {viewport.label}"]

        page.get_by_label("Keep them on their papers, signed “deleted user”").check()
        page.get_by_label("Your password, to confirm").fill(PASSWORD)
        journey.fits()
        journey.shot("delete-form")
        page.get_by_role("button", name="Delete my account").click()
        page.get_by_role("heading", name="Account deleted").wait_for()
        # Signed out: the header (in the menu on a phone) offers to log in, not the account.
        assert page.locator('header a[href^="/login"]').count() >= 1
        assert page.locator('header a[href="/account"]').count() == 0
        journey.shot("deleted")

        page.goto(f"{site.url}/papers/{site.paper}#comments")
        mine = page.locator("li.comment").filter(has_text=f"Notes from the {viewport.label}")
        assert mine.locator(".comment-author").inner_text() == "deleted user"
        assert page.locator(f'a[href="/users/{name}"]').count() == 0
        journey.shot("comment-kept")
