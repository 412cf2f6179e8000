"""Follow and unfollow forms: CSRF, signed-out visitors, bad input, same-site redirects."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from paperfeed.community import accounts, follows
from paperfeed.db import Database
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS

PASSWORD = "long enough password"


@pytest.fixture
def site(db: Database, tmp_path: Path) -> FastAPI:
    with db.transaction() as session:
        accounts.create_user(session, "reader", "r@example.org", PASSWORD, verified=True)
    return create_app(make_settings(tmp_path, db.url), db)


def logged_in(client: TestClient) -> str:
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"csrf": token, "login": "reader", "password": PASSWORD})
    account = client.get("/account")
    return re.search(r'name="csrf" value="([^"]+)"', account.text).group(1)  # type: ignore[union-attr]


def followed(db: Database) -> set[tuple[str, str]]:
    with db.reader() as session:
        user = accounts.find_user(session, "reader")
        assert user is not None
        return follows.followed_set(session, user.id)


def test_follow_and_unfollow_by_form(site: FastAPI, db: Database) -> None:
    with TestClient(site, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        token = logged_in(client)
        done = client.post(
            "/follow",
            data={
                "csrf": token,
                "kind": "category",
                "target": "math.IT",
                "next": "/papers/categories",
            },
        )
        assert done.status_code == 303 and done.headers["location"] == "/papers/categories"
        assert followed(db) == {("category", "cs.IT")}
        again = client.post("/follow", data={"csrf": token, "kind": "category", "target": "cs.IT"})
        assert again.status_code == 303 and followed(db) == {("category", "cs.IT")}
        gone = client.post("/unfollow", data={"csrf": token, "kind": "category", "target": "cs.IT"})
        assert gone.status_code == 303 and followed(db) == set()


@pytest.mark.parametrize(
    "evil",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "http://testserver.evil.example/",
    ],
)
def test_next_off_the_site_is_refused(site: FastAPI, evil: str) -> None:
    with TestClient(site, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        token = logged_in(client)
        done = client.post(
            "/follow", data={"csrf": token, "kind": "author", "target": "A. Author", "next": evil}
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/account#follows"


def test_csrf_signed_out_and_bad_input(site: FastAPI, db: Database) -> None:
    with TestClient(site, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        anonymous = client.post("/follow", data={"kind": "author", "target": "A. Author"})
        assert anonymous.status_code in (303, 403)
        token = logged_in(client)
        forged = client.post("/follow", data={"csrf": "x", "kind": "author", "target": "A. Author"})
        assert forged.status_code == 403
        bad_kind = client.post("/follow", data={"csrf": token, "kind": "user", "target": "x"})
        assert bad_kind.status_code == 400
        bad_category = client.post(
            "/follow", data={"csrf": token, "kind": "category", "target": "cs.NOPE"}
        )
        assert bad_category.status_code == 404 and "not an arXiv category" in bad_category.text
        too_long = client.post(
            "/follow", data={"csrf": token, "kind": "author", "target": "x" * 301}
        )
        assert too_long.status_code == 400
        assert followed(db) == set()


def test_an_organization_page_follows_and_the_account_lists_and_unfollows(
    site: FastAPI, db: Database
) -> None:
    """The journey a reader takes: Follow on an organization's page, see it on /account
    (linked to the page), Unfollow there."""
    from paperfeed.community import organizations

    with db.transaction() as session:
        owner = accounts.find_user(session, "reader")
        assert owner is not None
        organizations.create(session, owner, "acme-lab", "Acme Lab")
    with TestClient(site, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        logged_in(client)
        assert "You follow nothing yet" in client.get("/account").text
        org_page = client.get("/orgs/acme-lab").text
        form = re.search(
            r'<form class="follow-form"[^>]*action="/follow".*?</form>', org_page, re.S
        )
        assert form is not None, "no Follow button on the organization page"
        fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.group(0)))
        assert fields["kind"] == "organization" and fields["target"] == "acme-lab"
        done = client.post("/follow", data=fields)
        assert done.status_code == 303 and done.headers["location"] == "/orgs/acme-lab"
        assert "Following" in client.get("/orgs/acme-lab").text
        account = client.get("/account").text
        assert 'id="follows"' in account and 'href="/orgs/acme-lab"' in account
        token = re.search(r'name="csrf" value="([^"]+)"', account).group(1)  # type: ignore[union-attr]
        gone = client.post(
            "/unfollow",
            data={
                "csrf": token,
                "kind": "organization",
                "target": "acme-lab",
                "next": "/account#follows",
            },
        )
        assert gone.status_code == 303 and followed(db) == set()
        assert "You follow nothing yet" in client.get("/account").text


def follow_form(html: str) -> dict[str, str]:
    form = re.search(r'<form class="follow-form"[^>]*action="/follow".*?</form>', html, re.S)
    assert form is not None, "no Follow button on the page"
    return dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.group(0)))


def test_category_and_paper_pages_follow_the_category(site: FastAPI, db: Database) -> None:
    """A category's feed and a paper's page both offer to follow the (primary) category,
    and following it from the paper page comes back to the paper."""
    from datetime import UTC, datetime

    from paperfeed.papers.records import PaperRecord
    from paperfeed.papers.store import upsert_papers

    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Parsing with transformers",
                    abstract="a",
                    arxiv_id="2411.00001",
                    categories=["cs.CL", "cs.LG"],
                    feed_at=datetime(2026, 11, 19, 15, 0, tzinfo=UTC),
                )
            ],
        )
    with TestClient(site, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        signed_out = client.get("/papers/category/cs.CL", follow_redirects=True).text
        assert "follow-login" in signed_out
        logged_in(client)
        fields = follow_form(client.get("/papers/category/cs.CL", follow_redirects=True).text)
        assert fields["kind"] == "category" and fields["target"] == "cs.CL"
        fields = follow_form(client.get("/papers/category/cs/trending").text)
        assert fields["kind"] == "category" and fields["target"] == "cs"
        # A filtered site feed is not a topic one can follow.
        assert (
            "follow-form"
            not in client.get("/papers?category=cs.CL&category=hep-th", follow_redirects=True).text
        )
        paper = client.get("/papers/2411.00001").text
        fields = follow_form(paper)
        assert fields["kind"] == "category" and fields["target"] == "cs.CL"
        done = client.post("/follow", data=fields)
        assert done.status_code == 303 and done.headers["location"] == "/papers/2411.00001"
        assert followed(db) == {("category", "cs.CL")}
        assert 'action="/unfollow"' in client.get("/papers/2411.00001").text


def test_a_nul_in_a_target_is_refused_for_every_kind(site: FastAPI, db: Database) -> None:
    # PostgreSQL text holds no NUL: such a target is a bad request, not a server error.
    with TestClient(site, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        token = logged_in(client)
        for path in ("/follow", "/unfollow"):
            for kind in ("author", "organization", "category"):
                response = client.post(path, data={"csrf": token, "kind": kind, "target": "a\x00b"})
                assert response.status_code == 400, (path, kind)
                assert "NUL" in response.text
        assert followed(db) == set()


def test_following_from_an_author_page_comes_back_to_it(site: FastAPI, db: Database) -> None:
    """An author's address holds spaces and accents: the form's `next` and the log-in
    link carry it URL-encoded, so the reader comes back to the author's page."""
    from datetime import UTC, datetime
    from html import unescape
    from urllib.parse import quote

    from paperfeed.papers.records import PaperRecord
    from paperfeed.papers.store import upsert_papers

    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="T",
                    abstract="a",
                    arxiv_id="2411.00001",
                    categories=["cs.CL"],
                    authors=["Zoë Åberg"],
                    feed_at=datetime(2026, 11, 19, 15, tzinfo=UTC),
                )
            ],
        )
    address = "/authors/" + quote("Zoë Åberg")
    with TestClient(site, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        signed_out = client.get(address).text
        link = re.search(r'class="follow-button follow-login" href="([^"]+)"', signed_out)
        assert link is not None
        login_page = client.get(unescape(link.group(1))).text
        assert f'<input type="hidden" name="next" value="{address}">' in login_page
        logged_in(client)
        fields = follow_form(client.get(address).text)
        assert unescape(fields["next"]) == address
        done = client.post("/follow", data={k: unescape(v) for k, v in fields.items()})
        assert done.status_code == 303 and done.headers["location"] == address
        assert followed(db) == {("author", "Zoë Åberg")}
