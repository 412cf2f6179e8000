"""The API token journey in a real browser: create a token on the account page, use it from
a script, revoke it; the token is shown once. At desktop and mobile widths (harness:
tests/web/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from paperfeed.db import Database
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.api.conftest import PASSWORD, build_world
from tests.web.browser import Journey, Viewport, browser, viewport
from tests.web.live import LiveServer, start_server

pytestmark = pytest.mark.browser
__all__ = ["browser", "viewport"]  # the harness's fixtures, used by the tests below


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The API tests' small world, served once for both widths."""
    tmp = tmp_path_factory.mktemp("live-tokens")
    db = Database(f"sqlite:///{tmp / 'world.sqlite3'}")
    db.upgrade()
    world = build_world(db, make_settings(tmp, db.url))
    live = start_server(create_app(world.settings, world.db))
    yield live
    live.stop()
    db.dispose()


def test_create_use_and_revoke_a_token(browser, site: LiveServer, viewport: Viewport) -> None:
    name = f"nightly {viewport.label} script"
    with Journey(browser, "api-token", viewport) as journey:
        page = journey.page
        page.goto(site.url + "/login?next=/account")
        page.get_by_label("Username or email").fill("grace")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/account")
        assert page.get_by_role("button", name="Revoke the token script").is_visible()

        page.get_by_label("New token name").fill(name)
        page.get_by_role("button", name="Create token").click()
        token = page.get_by_label("Token", exact=True).input_value()
        assert token.startswith("pf_")
        assert "shown only this once" in page.content()
        page.get_by_label("Token", exact=True).scroll_into_view_if_needed()
        journey.shot("token-created")

        headers = {"authorization": f"Bearer {token}"}
        vote = httpx.post(f"{site.url}/api/papers/2611.00002/upvote", headers=headers)
        # 9 votes in the world plus grace's (the same at the second width: one per person).
        assert vote.status_code == 200 and vote.json() == {"upvoted": True, "upvotes": 10}

        page.goto(site.url + "/account")
        assert token not in page.content() and token[:10] in page.content()
        page.get_by_role("button", name=f"Revoke the token {name}").click()
        page.wait_for_url("**/account?revoked=1")
        assert "The token was revoked" in page.content()
        assert page.get_by_role("button", name=f"Revoke the token {name}").count() == 0
        page.get_by_role("heading", name="API tokens").scroll_into_view_if_needed()
        journey.shot("token-revoked")
        refused = httpx.delete(f"{site.url}/api/papers/2611.00002/upvote", headers=headers)
        assert refused.status_code == 401 and "revoked" in refused.json()["error"]
