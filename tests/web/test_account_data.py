"""Your data through the web stack: the JSON download, and deleting the account with its
password, CSRF, the comments choice, sign-out, and "deleted user" wherever comments show."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from paperfeed.community import accounts, api_tokens, organizations
from paperfeed.db import Database
from paperfeed.models import Comment, Paper, Upvote, User, WebSession
from paperfeed.papers.counts import inconsistent
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS

PASSWORD = "long enough password"
PAPER = "/papers/2411.00001"
TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def app(db: Database, tmp_path, fixed_clock) -> FastAPI:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Discussed", abstract="x", arxiv_id="2411.00001", feed_at=fixed_clock
                )
            ],
        )
        for name, role in (("ada", "user"), ("bob", "user"), ("mod", "moderator")):
            accounts.create_user(
                session, name, f"{name}@example.org", PASSWORD, role=role, verified=True
            )
    return create_app(make_settings(tmp_path, db.url), db)


class Browser:
    """A signed-in TestClient that knows its CSRF token."""

    def __init__(self, app: FastAPI, name: str) -> None:
        self.client = TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS)
        token = TOKEN.search(self.client.get("/login").text).group(1)  # type: ignore[union-attr]  # the login form has one
        self.client.post("/login", data={"csrf": token, "login": name, "password": PASSWORD})
        self.token = TOKEN.search(self.client.get("/account").text).group(1)  # type: ignore[union-attr]  # so has the account page

    def post(self, path: str, **data: object):  # type: ignore[no-untyped-def]
        return self.client.post(path, data={"csrf": self.token, **data})

    def delete(self, comments: str = "keep", password: str = PASSWORD):  # type: ignore[no-untyped-def]
        return self.post("/account/delete", comments=comments, password=password)


@pytest.fixture
def people(app: FastAPI) -> Iterator[dict[str, Browser]]:
    browsers = {name: Browser(app, name) for name in ("ada", "bob", "mod")}
    yield browsers
    for browser in browsers.values():
        browser.client.close()


def talk(people: dict[str, Browser]) -> int:
    """Ada upvotes and comments, Bob replies and reports her comment; her comment's id."""
    ada, bob = people["ada"], people["bob"]
    assert ada.post(f"{PAPER}/upvote").status_code in (200, 303)
    assert ada.post(f"{PAPER}/comments", body="Ada's **point**").status_code == 303
    page = ada.client.get(PAPER).text
    comment_id = int(re.search(r'id="comment-(\d+)"', page).group(1))  # type: ignore[union-attr]  # just posted
    bob.post(f"{PAPER}/comments", body="Bob replies", parent_id=comment_id)
    assert bob.post(f"/comments/{comment_id}/report", reason="check this").status_code == 303
    return comment_id


def test_the_account_page_offers_the_download_and_the_delete_form(
    people: dict[str, Browser],
) -> None:
    page = people["ada"].client.get("/account").text
    assert 'href="/account/export"' in page
    assert 'action="/account/delete"' in page
    assert 'name="comments" value="keep"' in page and 'name="comments" value="remove"' in page
    assert 'name="password" type="password"' in page


def test_the_export_is_a_private_json_download(people: dict[str, Browser]) -> None:
    talk(people)
    response = people["ada"].client.get("/account/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert "paperfeed-ada-" in response.headers["content-disposition"]
    assert response.headers["cache-control"] == "private, no-store"
    document = json.loads(response.text)
    assert document["profile"]["username"] == "ada"
    assert [c["body"] for c in document["comments"]] == ["Ada's **point**"]
    assert [v["paper"] for v in document["upvotes"]] == ["2411.00001"]
    assert document["sessions"][0]["user_agent"]  # this browser
    # Bob's export has his reply and his report, nothing of Ada's.
    bobs = json.loads(people["bob"].client.get("/account/export").text)
    assert [c["body"] for c in bobs["comments"]] == ["Bob replies"]
    assert [r["reason"] for r in bobs["reports"]] == ["check this"]


def test_both_need_a_signed_in_member_and_deleting_needs_the_form_token(
    app: FastAPI, people: dict[str, Browser], db: Database
) -> None:
    with TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as stranger:
        export = stranger.get("/account/export")
        assert export.status_code == 303 and export.headers["location"].startswith("/login")
        token = TOKEN.search(stranger.get("/login").text).group(1)  # type: ignore[union-attr]  # the login form has one
        anonymous = stranger.post(
            "/account/delete", data={"csrf": token, "comments": "keep", "password": PASSWORD}
        )
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    ada = people["ada"].client
    forged = ada.post("/account/delete", data={"comments": "keep", "password": PASSWORD})
    assert forged.status_code == 403
    wrong = people["ada"].post("/account/delete", csrf="forged", comments="keep")
    assert wrong.status_code == 403
    with db.reader() as session:
        assert session.execute(select(User.id).where(User.username == "ada")).first() is not None


def test_a_wrong_password_or_no_choice_keeps_the_account(
    people: dict[str, Browser], db: Database
) -> None:
    ada = people["ada"]
    wrong = ada.delete(password="not my password")
    assert wrong.status_code == 400 and "not your password" in wrong.text
    unchosen = ada.delete(comments="")
    assert unchosen.status_code == 400 and "Choose whether your comments stay" in unchosen.text
    assert ada.client.get("/account").status_code == 200  # still signed in
    with db.reader() as session:
        assert session.execute(select(User.id).where(User.username == "ada")).first() is not None


def test_deleting_and_keeping_comments_signs_out_and_shows_deleted_user(
    people: dict[str, Browser], db: Database
) -> None:
    comment_id = talk(people)
    ada = people["ada"]
    anonymous = TestClient(ada.client.app, follow_redirects=False, headers=BROWSER_HEADERS)
    before = anonymous.get(PAPER)
    assert 'href="/users/ada"' in before.text and before.headers["etag"]
    response = ada.delete("keep")
    assert response.status_code == 200
    assert "Account deleted" in response.text and "signed “deleted user”" in response.text
    assert response.headers["cache-control"] == "private, no-store"
    assert (
        'pf_session=""' in response.headers["set-cookie"]
        or "Max-Age=0" in (response.headers["set-cookie"])
    )
    assert 'href="/account"' not in response.text  # the header is signed out
    # The old cookie is dead everywhere.
    assert ada.client.get("/account").status_code == 303
    with db.reader() as session:
        assert session.execute(select(func.count()).select_from(WebSession)).scalar_one() == 2
        assert session.execute(select(func.count()).select_from(Upvote)).scalar_one() == 0
        assert session.execute(select(Paper.upvotes)).scalar_one() == 0
        assert inconsistent(session) == []
        assert session.get(Comment, comment_id).user_id is None  # type: ignore[union-attr]  # kept
    # The paper page, for anyone: her comment stays, signed "deleted user", without a link;
    # the page changed, so a cached copy is not revalidated as unchanged.
    page = anonymous.get(PAPER, headers={"if-none-match": before.headers["etag"]})
    assert page.status_code == 200
    assert "deleted user" in page.text and "<strong>point</strong>" in page.text
    assert 'href="/users/ada"' not in page.text and "Bob replies" in page.text
    assert "deleted user" in people["bob"].client.get(PAPER).text
    with anonymous:
        api = anonymous.get("/api/papers/2411.00001?field=comments").json()
        [top] = api["comments"]
        assert top["author"]["name"] == "deleted user" and top["author"]["deleted"] is True
        assert top["content"] == "Ada's **point**"
        assert top["replies"][0]["author"]["name"] == "bob"
        markdown = anonymous.get(f"{PAPER}.md").text
        assert "**deleted user**" in markdown and "Ada's" in markdown
        assert anonymous.get("/users/ada").status_code == 404
    # The moderators' queue shows the report on it, by "deleted user" too.
    queue = people["mod"].client.get("/admin/reports").text
    assert "deleted user" in queue and 'href="/users/ada"' not in queue


def test_deleting_and_removing_comments_keeps_the_replies_of_others(
    people: dict[str, Browser], db: Database
) -> None:
    talk(people)
    response = people["ada"].delete("remove")
    assert response.status_code == 200 and "Your comments were removed" in response.text
    page = people["bob"].client.get(PAPER).text
    assert "point" not in page and "deleted user" not in page
    assert "[deleted]" in page and "Bob replies" in page
    with db.reader() as session:
        assert session.execute(select(Paper.comment_count)).scalar_one() == 1
        assert inconsistent(session) == []


def test_the_last_admin_of_an_organization_is_sent_back_to_hand_over(
    people: dict[str, Browser], db: Database
) -> None:
    with db.transaction() as session:
        ada = session.execute(select(User).where(User.username == "ada")).scalar_one()
        organizations.create(session, ada, "acme", "Acme Labs")
    response = people["ada"].delete("keep")
    assert response.status_code == 409
    assert "You are the last admin of “acme”" in response.text
    assert people["ada"].client.get("/account").status_code == 200


def test_scripts_get_the_same_export_with_a_token(app: FastAPI, db: Database) -> None:
    with db.transaction() as session:
        ada = session.execute(select(User).where(User.username == "ada")).scalar_one()
        token = api_tokens.create_token(session, ada, "backup script").token
    with TestClient(app, follow_redirects=False) as script:
        response = script.get("/api/me/export", headers={"authorization": f"Bearer {token}"})
        assert response.status_code == 200
        assert response.headers["cache-control"] == "private, no-store"
        document = response.json()
        assert document["format"] == "paperfeed-account-export"
        assert document["profile"]["username"] == "ada"
        assert [t["name"] for t in document["tokens"]] == ["backup script"]
        assert token not in response.text
        assert script.get("/api/me/export").status_code == 401
