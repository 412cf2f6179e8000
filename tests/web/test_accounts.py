"""Accounts through the real web stack: forms, CSRF, cookies, emails, rate limits, and who
sees one's upvotes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from paperfeed.community.votes import set_vote
from paperfeed.db import Database
from paperfeed.models import Paper, User
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS

PASSWORD = "correct horse battery"


@pytest.fixture
def site(db: Database, tmp_path: Path, smtp_server) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings = smtp_server.settings(make_settings(tmp_path, db.url))
    app = create_app(settings, db)
    with TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        yield client


def csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the form has no CSRF field"
    return match.group(1)


def sign_up(client: TestClient, name: str = "ada", email: str = "ada@example.org"):  # type: ignore[no-untyped-def]
    token = csrf(client.get("/signup").text)
    return client.post(
        "/signup", data={"csrf": token, "username": name, "email": email, "password": PASSWORD}
    )


def log_in(client: TestClient, login: str = "ada", password: str = PASSWORD):  # type: ignore[no-untyped-def]
    token = csrf(client.get("/login").text)
    return client.post("/login", data={"csrf": token, "login": login, "password": password})


def test_sign_up_verify_by_email_and_see_the_account(site: TestClient, smtp_server) -> None:  # type: ignore[no-untyped-def]
    response = sign_up(site)
    assert response.status_code == 303
    cookie = response.cookies.get("pf_session")
    assert cookie
    header = response.headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=lax" in header.replace("Lax", "lax")
    account = site.get("/account")
    assert account.status_code == 200
    assert "not confirmed" in account.text
    assert account.headers["cache-control"].startswith("private")
    [mail] = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ["ada@example.org"]
    path = re.search(r"https?://[^/\s]+(/verify\?token=\S+)", mail.text).group(1)
    verified = site.get(path)
    assert verified.status_code == 200 and "confirmed" in verified.text
    assert "not confirmed" not in site.get("/account").text


def test_forms_without_the_csrf_token_are_refused(site: TestClient) -> None:
    site.get("/signup")
    response = site.post(
        "/signup", data={"username": "ada", "email": "ada@example.org", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "expired" in response.text
    wrong = site.post("/signup", data={"csrf": "forged", "username": "ada"})
    assert wrong.status_code == 403


def test_log_in_log_out_and_wrong_passwords(site: TestClient) -> None:
    sign_up(site)
    site.cookies.clear()
    bad = log_in(site, password="not the password")
    assert bad.status_code == 400 and "Wrong username or password" in bad.text
    good = log_in(site, login="ADA@example.org")
    assert good.status_code == 303
    page = site.get("/")
    assert "Log out" in page.text and ">ada</a>" in page.text
    token = csrf(page.text)
    out = site.post("/logout", data={"csrf": token})
    assert out.status_code == 303
    assert site.get("/account").status_code == 303  # back to the login page


def test_login_is_rate_limited_with_retry_after(site: TestClient) -> None:
    sign_up(site)
    site.cookies.clear()
    statuses = [log_in(site, password="wrong password!").status_code for _ in range(11)]
    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429
    limited = log_in(site)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0


def test_password_reset_by_email_works_once(site: TestClient, smtp_server) -> None:  # type: ignore[no-untyped-def]
    sign_up(site)
    smtp_server.wait_for(1)
    smtp_server.clear()
    site.cookies.clear()
    token = csrf(site.get("/reset").text)
    answer = site.post("/reset", data={"csrf": token, "email": "ada@example.org"})
    assert "If an account uses" in answer.text
    unknown = site.post("/reset", data={"csrf": token, "email": "nobody@example.org"})
    assert unknown.text.count("If an account uses") == 1
    [mail] = smtp_server.wait_for(1)
    path = re.search(r"(/reset/confirm\?token=\S+)", mail.text).group(1)
    form = site.get(path)
    assert form.status_code == 200
    done = site.post(
        "/reset/confirm",
        data={
            "csrf": csrf(form.text),
            "token": re.search(r"token=(\S+)", path).group(1),
            "new": "a new long password",
        },
    )
    assert "Password changed" in done.text
    assert site.get(path).status_code == 400  # the link worked once
    assert log_in(site, password="a new long password").status_code == 303


def test_profiles_and_unknown_users(site: TestClient) -> None:
    sign_up(site)
    profile = site.get("/users/ada")
    assert profile.status_code == 200 and "@ada" in profile.text
    assert site.get("/users/nobody").status_code == 404


def test_login_redirects_only_to_local_pages(site: TestClient) -> None:
    sign_up(site)
    site.cookies.clear()
    token = csrf(site.get("/login").text)
    evil = site.post(
        "/login",
        data={"csrf": token, "login": "ada", "password": PASSWORD, "next": "//evil.example/x"},
    )
    assert evil.headers["location"] == "/"


# --- who sees one's upvotes ---------------------------------------------------------------


def upvote_a_paper(db: Database, username: str) -> None:
    with db.transaction() as session:
        upsert_papers(
            session,
            [PaperRecord(title="A liked paper", abstract="x", arxiv_id="2411.00001")],
        )
        paper = session.execute(select(Paper)).scalar_one()
        user = session.execute(select(User).where(User.username == username)).scalar_one()
        set_vote(session, user.id, paper.id, True)


def visitor_sees_upvotes(client: TestClient) -> bool:
    """What someone who is not ada sees: her profile's list, its feed and its export."""
    with TestClient(client.app, headers=BROWSER_HEADERS) as visitor:
        profile = visitor.get("/users/ada").text
        feed = visitor.get("/users/ada.rss?list=upvoted")
        export = visitor.get("/users/ada.jsonl?list=upvoted")
    upvoted = profile.split('aria-label="Upvoted papers"', 1)[1]
    shown = "/papers/2411.00001" in upvoted
    assert shown == (feed.status_code == 200) == (export.status_code == 200)
    assert shown or ("ada keeps upvotes private" in upvoted and feed.status_code == 404)
    return shown


def choose(client: TestClient, choice: str):  # type: ignore[no-untyped-def]
    token = csrf(client.get("/account").text)
    return client.post("/account/upvotes", data={"csrf": token, "upvotes": choice})


def test_upvotes_are_private_until_their_owner_makes_them_public(
    site: TestClient, db: Database
) -> None:
    sign_up(site)
    upvote_a_paper(db, "ada")
    with db.reader() as session:
        assert session.execute(select(User.upvotes_public)).scalar_one() is False
    assert not visitor_sees_upvotes(site)
    own = site.get("/users/ada").text
    assert "/papers/2411.00001" in own and "Only you see this list" in own
    account = site.get("/account").text
    assert re.search(r'value="private"\s+checked', account)

    made_public = choose(site, "public")
    assert made_public.status_code == 303
    assert "Your upvotes are public" in site.get(made_public.headers["location"]).text
    assert re.search(r'value="public"\s+checked', site.get("/account").text)
    assert visitor_sees_upvotes(site)

    assert choose(site, "private").status_code == 303
    assert not visitor_sees_upvotes(site)


def test_the_upvote_choice_needs_the_csrf_token_and_a_known_value(
    site: TestClient, db: Database
) -> None:
    sign_up(site)
    forged = site.post("/account/upvotes", data={"csrf": "forged", "upvotes": "public"})
    assert forged.status_code == 403
    assert choose(site, "everyone").status_code == 400
    token = csrf(site.get("/account").text)
    site.cookies.delete("pf_session")  # logged out: the token was the session's
    assert (
        site.post("/account/upvotes", data={"csrf": token, "upvotes": "public"}).status_code == 403
    )
    with db.reader() as session:
        assert session.execute(select(User.upvotes_public)).scalar_one() is False
