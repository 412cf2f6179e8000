"""The API token journey in a real browser: create a token on the account page, use it from
a script, revoke it; the token is shown once and the page works at desktop and mobile sizes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from paperfeed.db import Database
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.api.conftest import PASSWORD, build_world
from tests.web.live import LiveServer, start_server
from tests.web.test_browser import DESKTOP, MOBILE, Journey, browser  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def site(tmp_path) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'world.sqlite3'}")
    db.upgrade()
    world = build_world(db, make_settings(tmp_path, db.url))
    live = start_server(create_app(world.settings, world.db))
    yield live
    live.stop()
    db.dispose()


@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("mobile", MOBILE)])
def test_create_use_and_revoke_a_token(browser, site: LiveServer, label: str, viewport) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    journey = Journey(browser, f"api-token-{label}", viewport)
    page = journey.page
    page.goto(site.url + "/login?next=/account")
    page.get_by_label("Username or email").fill("grace")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/account")
    assert page.get_by_role("button", name="Revoke the token script").is_visible()

    page.get_by_label("New token name").fill("nightly script")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_label("Token", exact=True).input_value()
    assert token.startswith("pf_")
    assert "shown only this once" in page.content()
    page.get_by_label("Token", exact=True).scroll_into_view_if_needed()
    journey.shot("token-created")

    headers = {"authorization": f"Bearer {token}"}
    vote = httpx.post(f"{site.url}/api/papers/2611.00002/upvote", headers=headers)
    assert vote.status_code == 200 and vote.json() == {"upvoted": True, "upvotes": 10}

    page.goto(site.url + "/account")
    assert token not in page.content() and token[:10] in page.content()
    page.get_by_role("button", name="Revoke the token nightly script").click()
    page.wait_for_url("**/account?revoked=1")
    assert "The token was revoked" in page.content()
    assert page.get_by_role("button", name="Revoke the token nightly script").count() == 0
    page.get_by_role("heading", name="API tokens").scroll_into_view_if_needed()
    journey.shot("token-revoked")
    refused = httpx.delete(f"{site.url}/api/papers/2611.00002/upvote", headers=headers)
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]
    journey.close()
