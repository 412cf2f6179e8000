"""Organization and author-claim journeys in a real browser against a live server.

One person creates an organization and invites another, who accepts; that person claims
an author slot and an admin approves it. At desktop and mobile widths (harness:
tests/web/browser.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from paperfeed import clock
from paperfeed.community import accounts
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.web.app import create_app
from tests.conftest import FIXED_NOW, make_settings
from tests.web.browser import VIEWPORTS, Journey, Viewport, browser, viewport
from tests.web.live import start_server

pytestmark = pytest.mark.browser
__all__ = ["browser", "viewport"]  # the harness's fixtures, used by the tests below
PASSWORD = "long enough password"
# Each viewport's journey has its own people, organization and paper.
PAPERS = {"desktop": "0704.0001", "mobile": "0704.0002"}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo corpus (no search index: these journeys do not search) plus people."""
    tmp = tmp_path_factory.mktemp("live-orgs")
    url = f"sqlite:///{tmp / 'orgs.sqlite3'}"
    db = Database(url)
    db.upgrade()
    settings = make_settings(tmp, url)
    settings.index_dir = tmp / "index"
    with clock.frozen(FIXED_NOW):
        load_demo(db, settings.tz)
        with db.transaction() as session:
            for each in VIEWPORTS:
                for name in ("ada", "grace"):
                    username = f"{name}-{each.label}"
                    accounts.create_user(session, username, f"{username}@example.org", PASSWORD)
            accounts.create_user(session, "root", "root@example.org", PASSWORD, role="admin")
    live = start_server(create_app(settings, db))
    yield live.url
    live.stop()
    db.dispose()


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")


def test_create_invite_accept_claim_and_approve(
    browser, live_server: str, viewport: Viewport
) -> None:
    label = viewport.label
    ada_name, grace_name, org = f"ada-{label}", f"grace-{label}", f"acme-{label}"
    with Journey(browser, "orgs-and-claims", viewport) as journey:
        # Ada creates an organization and invites Grace.
        page = journey.page
        log_in(page, live_server, ada_name)
        page.goto(live_server + "/orgs/new")
        page.get_by_label("Name").first.fill(org)
        page.get_by_label("Full name").fill("Acme Research")
        page.get_by_label("Description").fill("Engines, mostly analytical.")
        page.get_by_label("Website").fill("https://acme.example")
        journey.shot("ada-new-org-form")
        page.get_by_role("button", name="Create organization").click()
        page.wait_for_url(f"**/orgs/{org}?done=created")
        assert page.locator("h1").inner_text() == "Acme Research"
        assert page.get_by_role("status").inner_text().startswith("Your organization is ready")
        journey.fits()
        journey.shot("ada-org-created")

        page.get_by_role("link", name="Manage members").click()
        page.wait_for_url(f"**/orgs/{org}/members")
        page.get_by_label("Username").fill(grace_name)
        page.get_by_role("button", name="Invite").click()
        page.wait_for_url(f"**/orgs/{org}/members?done=invited")
        assert page.get_by_role("cell", name="invited").is_visible()
        journey.fits()
        journey.shot("ada-invited")

        # Grace accepts, then claims an author slot on a paper.
        page = journey.person()
        log_in(page, live_server, grace_name)
        page.goto(live_server + "/orgs/invitations")
        assert page.get_by_role("link", name="Acme Research").is_visible()
        journey.shot("grace-invitations", page)
        page.get_by_role("button", name="Accept the invitation from Acme Research").click()
        page.wait_for_url(f"**/orgs/{org}?done=accepted")
        members = page.locator(".member-list")
        assert members.get_by_role("link", name=grace_name).is_visible()
        assert members.get_by_role("link", name=ada_name).is_visible()
        journey.fits(page)
        journey.shot("grace-member", page)

        paper = PAPERS[label]
        page.goto(f"{live_server}/papers/{paper}")
        page.get_by_role("link", name="I am an author").click()
        page.wait_for_url(f"**/papers/{paper}/claim")
        radios = page.get_by_role("radio")
        assert radios.count() >= 2
        radios.nth(1).check()
        claimed_name = page.locator(".claim-authors .radio span").nth(1).inner_text()
        journey.fits(page)
        journey.shot("grace-claim-form", page)
        page.get_by_role("button", name="Submit claim").click()
        page.wait_for_url(f"**/papers/{paper}/claim?sent=1")
        assert "waiting for an admin" in page.get_by_role("status").inner_text()
        journey.shot("grace-claim-sent", page)

        # The admin approves it from the queue; Grace's profile then lists the paper.
        page = journey.person()
        log_in(page, live_server, "root")
        page.goto(live_server + "/admin")
        page.get_by_role("link", name="Author claims").click()
        page.wait_for_url("**/admin/claims")
        item = page.locator(".claim-item").filter(has_text=grace_name)
        assert claimed_name in item.inner_text()
        journey.fits(page)
        journey.shot("admin-claim-queue", page)
        item.get_by_role("button", name="Approve").click()
        page.wait_for_url("**/admin/claims?done=approved")
        assert page.get_by_role("status").inner_text().startswith("Claim approved")
        page.goto(live_server + "/admin")
        assert page.locator(".admin-table").get_by_text("approve claim").first.is_visible()
        journey.fits(page)
        journey.shot("admin-dashboard", page)
        page.goto(f"{live_server}/users/{grace_name}")
        claimed = page.get_by_role("region", name="Claimed papers")
        assert claimed.locator(f'a[href="/papers/{paper}"]').count() == 1
        journey.shot("admin-profile-with-claim", page)
