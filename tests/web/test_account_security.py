"""Account security through the real web stack: enumeration, lockout, token revocation,
session lifetime, mail that never blocks a page, and digests that need a verified address."""

from __future__ import annotations

import re
import socket
import statistics
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperfeed import clock
from paperfeed.db import Database
from paperfeed.digest import subscriptions as subs
from paperfeed.models import OutgoingMail
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS
from tests.web.test_accounts import PASSWORD, csrf, log_in, sign_up


@pytest.fixture
def app(db: Database, tmp_path: Path, smtp_server):  # type: ignore[no-untyped-def]
    settings = smtp_server.settings(make_settings(tmp_path, db.url))
    return create_app(settings, db)


@pytest.fixture
def site(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        yield client


def browser(app, address: str) -> TestClient:  # type: ignore[no-untyped-def]
    """Another browser, from another network address."""
    return TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS, client=(address, 40000))


def timed_login(client: TestClient, login: str) -> float:
    token = csrf(client.get("/login").text)
    started = time.perf_counter()
    response = client.post("/login", data={"csrf": token, "login": login, "password": "nope" * 3})
    elapsed = time.perf_counter() - started
    assert response.status_code == 400 and "Wrong username or password" in response.text
    return elapsed


def test_a_wrong_password_takes_as_long_for_unknown_accounts(app, site: TestClient) -> None:  # type: ignore[no-untyped-def]
    sign_up(site)
    known, unknown = [], []
    for n in range(8):  # a new address each round: the per-address limit is not the subject
        with browser(app, f"10.0.1.{n}") as client:
            known.append(timed_login(client, "ada"))
            unknown.append(timed_login(client, f"nobody{n}"))
    # Both verify one argon2 hash (~50-150 ms); skipping it for unknown names made them 20x
    # faster.
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.6 < ratio < 1.6, (known, unknown)


def test_reset_answers_the_same_and_sends_nothing_inline(
    app, site: TestClient, db: Database
) -> None:  # type: ignore[no-untyped-def]
    sign_up(site)
    site.cookies.clear()
    token = csrf(site.get("/reset").text)
    answers = [
        site.post("/reset", data={"csrf": token, "email": email}).text.replace(email, "X")
        for email in ("ada@example.org", "nobody@example.org")
    ]
    assert answers[0] == answers[1] and "on its way" in answers[0]
    with db.reader() as session:
        kinds = [m.kind for m in session.query(OutgoingMail).order_by(OutgoingMail.id)]
    assert kinds == ["verify", "reset"]  # queued, not sent during the request


def test_a_mail_server_that_never_answers_slows_no_page(db: Database, tmp_path: Path) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts connections, never says a word
    try:
        settings = make_settings(tmp_path, db.url).model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": silent.getsockname()[1]}
        )
        with TestClient(
            create_app(settings, db), follow_redirects=False, headers=BROWSER_HEADERS
        ) as client:
            started = time.perf_counter()
            assert sign_up(client).status_code == 303
            account = client.get("/account")
            client.cookies.clear()
            token = csrf(client.get("/reset").text)
            assert client.post("/reset", data={"csrf": token, "email": "ada@example.org"})
            assert time.perf_counter() - started < 3  # the SMTP timeout is 30 s
            assert "on its way" in account.text
    finally:
        silent.close()


def test_a_failed_confirmation_email_is_shown_to_the_person(
    db: Database, tmp_path: Path, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    settings = smtp_server.settings(make_settings(tmp_path, db.url))
    smtp_server.refused_recipients.add("ada@example.org")
    with TestClient(
        create_app(settings, db), follow_redirects=False, headers=BROWSER_HEADERS
    ) as client:
        sign_up(client)
        deadline = time.monotonic() + 5
        while "could not be delivered" not in (page := client.get("/account").text):
            assert time.monotonic() < deadline, page
            time.sleep(0.05)
    assert "mail settings need attention" in page


def test_guesses_from_many_addresses_do_not_lock_out_the_owner(app, site: TestClient) -> None:  # type: ignore[no-untyped-def]
    sign_up(site)  # the owner's browser: it has logged in to the account
    owner_cookies = dict(site.cookies)
    # An attacker rotates addresses and alternates the username and the email address:
    # both count against the one account.
    statuses = []
    for n in range(22):
        with browser(app, f"10.0.2.{n}") as attacker:
            login = "ada" if n % 2 else "ADA@example.org"
            token = csrf(attacker.get("/login").text)
            statuses.append(
                attacker.post(
                    "/login", data={"csrf": token, "login": login, "password": f"guess {n}"}
                ).status_code
            )
    assert statuses[:20] == [400] * 20 and statuses[20:] == [429, 429]
    with browser(app, "10.0.3.1") as stranger:
        refused = log_in(stranger)
        assert refused.status_code == 429 and "browser you have used before" in refused.text
    with browser(app, "10.0.3.2") as owner:
        owner.cookies.update({"pf_device": owner_cookies["pf_device"]})
        assert log_in(owner).status_code == 303


def test_unknown_logins_get_the_same_lockout(app) -> None:  # type: ignore[no-untyped-def]
    statuses = []
    for n in range(21):
        with browser(app, f"10.0.4.{n}") as client:
            token = csrf(client.get("/login").text)
            statuses.append(
                client.post(
                    "/login", data={"csrf": token, "login": "ghost", "password": "guess!!!!!"}
                ).status_code
            )
    assert statuses == [400] * 20 + [429]


def api_token(site: TestClient) -> str:
    page = site.get("/account")
    made = site.post("/account/tokens", data={"csrf": csrf(page.text), "name": "script"})
    return re.search(r'value="(pf_[^"]+)"', made.text).group(1)


def whoami(site: TestClient, token: str) -> int:
    return site.get("/api/whoami-v2", headers={"authorization": f"Bearer {token}"}).status_code


def test_a_password_change_revokes_api_tokens(site: TestClient) -> None:
    sign_up(site)
    token = api_token(site)
    assert whoami(site, token) == 200
    page = site.get("/account")
    changed = site.post(
        "/account/password",
        data={"csrf": csrf(page.text), "current": PASSWORD, "new": "another long password"},
    )
    assert changed.status_code == 303
    assert whoami(site, token) == 401
    assert "API tokens were revoked" in site.get(changed.headers["location"]).text


def test_a_password_reset_revokes_api_tokens(site: TestClient, smtp_server) -> None:  # type: ignore[no-untyped-def]
    sign_up(site)
    token = api_token(site)
    smtp_server.wait_for(1)
    smtp_server.clear()
    site.cookies.clear()
    site.post("/reset", data={"csrf": csrf(site.get("/reset").text), "email": "ada@example.org"})
    [mail] = smtp_server.wait_for(1)
    reset = re.search(r"token=(\S+)", mail.text).group(1)
    form = site.get(f"/reset/confirm?token={reset}")
    done = site.post(
        "/reset/confirm", data={"csrf": csrf(form.text), "token": reset, "new": "brand new pass"}
    )
    assert "API tokens were revoked" in done.text
    assert whoami(site, token) == 401


def test_a_session_ends_at_its_absolute_lifetime_however_active(site: TestClient) -> None:
    start = clock.now()
    sign_up(site)
    for day in range(1, 90, 2):  # used every other day: it never goes idle
        with clock.frozen(start + timedelta(days=day)):
            assert site.get("/account").status_code == 200
    with clock.frozen(start + timedelta(days=90, seconds=1)):
        assert site.get("/account").status_code == 303  # to the login page


def test_an_unverified_sign_up_does_not_reach_someone_elses_digest(
    site: TestClient, db: Database
) -> None:
    with db.transaction() as session:
        victim = subs.subscribe(session, "victim@example.org", "daily", confirmed=True)
        subs.add_topic(session, victim.subscription, "private research topic")
    sign_up(site, name="mallory", email="victim@example.org")
    answer = site.get("/account/digest")
    # The sign-up form to start a digest, not a redirect to the victim's manage page.
    assert answer.status_code == 200
    assert "private research topic" not in answer.text
    assert "/digest/manage" not in answer.headers.get("location", "")


def test_admins_see_undelivered_mail_and_why(db: Database, tmp_path: Path, smtp_server) -> None:  # type: ignore[no-untyped-def]
    from paperfeed.community.accounts import create_user

    settings = smtp_server.settings(make_settings(tmp_path, db.url))
    smtp_server.refused_recipients.add("ada@example.org")
    with db.transaction() as session:
        create_user(session, "boss", "boss@example.org", PASSWORD, role="admin", verified=True)
    with TestClient(
        create_app(settings, db), follow_redirects=False, headers=BROWSER_HEADERS
    ) as client:
        sign_up(client)
        deadline = time.monotonic() + 5
        while "could not be delivered" not in client.get("/account").text:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        client.cookies.clear()
        assert log_in(client, "boss").status_code == 303
        dashboard = client.get("/admin").text
    assert "Outgoing mail" in dashboard and "1 failed" in dashboard
    assert "ada@example.org" in dashboard and "refused the recipient" in dashboard
