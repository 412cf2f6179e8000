"""The token lifecycle through the account page: create, see once, use, revoke -> 401."""

from __future__ import annotations

import re

from sqlalchemy import select

from paperfeed.models import ApiToken
from tests.web.api.conftest import World
from tests.web.api.test_writes import signed_in


def test_create_use_and_revoke(world: World) -> None:
    browser, csrf = signed_in(world, "grace")
    page = browser.post("/account/tokens", data={"csrf": csrf, "name": "nightly script"})
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    token = re.search(r'id="new-token"[^>]*value="(pf_[^"]+)"', page.text).group(1)
    assert "nightly script" in page.text and "shown only this once" in page.text
    again = browser.get("/account").text
    assert token not in again and token[:10] in again  # listed by its prefix only

    script = world.client(authorization=f"Bearer {token}")
    assert script.get("/api/whoami-v2").json()["name"] == "grace"
    vote = script.post("/api/papers/2611.00002/upvote")
    assert vote.status_code == 200 and vote.json()["upvotes"] == 10
    with world.db.reader() as session:
        row = session.execute(
            select(ApiToken).where(ApiToken.name == "nightly script")
        ).scalar_one()
        assert row.last_used_at is not None

    revoked = browser.post(f"/account/tokens/{row.id}/revoke", data={"csrf": csrf})
    assert revoked.status_code == 303 and revoked.headers["location"] == "/account?revoked=1"
    assert "nightly script" not in browser.get("/account").text
    refused = script.post("/api/papers/2611.00002/upvote")
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]


def test_token_forms_need_csrf_and_a_name(world: World) -> None:
    browser, csrf = signed_in(world, "grace")
    forged = browser.post("/account/tokens", data={"name": "x"})
    assert forged.status_code == 403
    empty = browser.post("/account/tokens", data={"csrf": csrf, "name": "  "})
    assert empty.status_code == 400 and "Give the token a name" in empty.text
    with world.db.reader() as session:
        ada_token = session.execute(select(ApiToken).where(ApiToken.name == "laptop")).scalar_one()
    # Grace cannot revoke Ada's token.
    other = browser.post(f"/account/tokens/{ada_token.id}/revoke", data={"csrf": csrf})
    assert other.status_code == 404
    assert (
        world.client(authorization=f"Bearer {world.token}").get("/api/whoami-v2").json()["name"]
        == "ada"
    )


def test_visitors_cannot_make_tokens(world: World) -> None:
    visitor = world.client(accept="text/html")
    response = visitor.post("/account/tokens", data={"name": "x"})
    assert response.status_code == 403
    with world.db.reader() as session:
        assert session.execute(select(ApiToken.name).where(ApiToken.name == "x")).first() is None
