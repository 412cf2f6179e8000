"""Digest pages through the real web stack, with a real SMTP server: subscribe, confirm,
unsubscribe (page and RFC 8058 one-click), manage, preview, and bad input."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from paperfeed import clock
from paperfeed.community.accounts import create_user
from paperfeed.db import Database
from paperfeed.digest.sending import send_due
from paperfeed.models import SavedSearch, Subscription
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.digest.conftest import load_recent
from tests.web.conftest import BROWSER_HEADERS

EMAIL = "reader@example.org"


@pytest.fixture
def site(db: Database, tmp_path: Path, smtp_server) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings = smtp_server.settings(make_settings(tmp_path, db.url))
    load_recent(db, settings.tz)
    app = create_app(settings, db)
    with TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        yield client


def csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the form has no CSRF field"
    return match.group(1)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def subscribe(client: TestClient, **fields: str):  # type: ignore[no-untyped-def]
    page = client.post("/digest/start", data={"email": fields.get("email", EMAIL)})
    assert page.status_code == 200
    data = {"email": EMAIL, "frequency": "daily", "trending": "on", **fields}
    return client.post("/digest/subscribe", data={"csrf": csrf(page.text), **data})


def subscription(db: Database) -> Subscription | None:
    with db.reader() as session:
        return session.execute(select(Subscription)).scalar_one_or_none()


def confirm_link(mail) -> str:  # type: ignore[no-untyped-def]
    return path_of(re.search(r"(https?://\S+/digest/confirm\?token=\S+)", mail.text).group(1))


def confirm(site: TestClient, link: str):  # type: ignore[no-untyped-def]
    """Open the emailed link (a page with one button, which changes nothing) and press it."""
    page = site.get(link)
    assert page.status_code == 200 and "Confirm subscription" in page.text, page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    return site.post("/digest/confirm", data={"token": token})


def test_subscribe_confirm_receive_and_unsubscribe_in_one_click(
    site: TestClient, db: Database, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    home = site.get("/")
    assert 'action="/digest/start"' in home.text and "pf_csrf" not in home.headers.get(
        "set-cookie", ""
    )
    start = site.post("/digest/start", data={"email": EMAIL})
    assert f'value="{EMAIL}"' in start.text
    done = site.post(
        "/digest/subscribe",
        data={"csrf": csrf(start.text), "email": EMAIL, "frequency": "weekly", "trending": "on"},
    )
    assert done.status_code == 200 and "Check your email" in done.text
    assert subscription(db).status == "pending"
    [mail] = smtp_server.wait_for(1)
    assert mail.rcpt_tos == [EMAIL] and "Nothing is sent until you confirm" in mail.text

    # Unconfirmed: nothing goes out.
    settings = site.app.state.settings
    assert send_due(settings, db)["sent"] == 0

    opened = site.get(confirm_link(mail))  # what a mail scanner following links does
    assert opened.status_code == 200 and "Confirm subscription" in opened.text
    assert subscription(db).status == "pending" and send_due(settings, db)["sent"] == 0
    confirmed = confirm(site, confirm_link(mail))
    assert confirmed.status_code == 200 and "Subscription confirmed" in confirmed.text
    assert subscription(db).status == "active"
    assert send_due(settings, db)["sent"] == 1
    digest = smtp_server.messages[-1]
    assert "weekly digest" in digest.text

    one_click = digest.header("List-Unsubscribe").strip("<>")
    page = site.get(path_of(one_click))
    assert page.status_code == 200 and "Unsubscribe" in page.text
    assert subscription(db).status == "active"  # looking at the page changes nothing
    # RFC 8058: the mail provider POSTs this body to the URL, without cookies.
    fresh = TestClient(site.app, follow_redirects=False)
    response = fresh.post(path_of(one_click), data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "unsubscribed" in response.text
    assert subscription(db).status == "unsubscribed"
    with clock.frozen(clock.now() + timedelta(days=7)):
        assert send_due(settings, db)["due"] == 0


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"email": "not an address"}, "does not look like an email address"),
        ({"email": "a@example.org\r\nBcc: victim@example.org"}, "line breaks"),
        ({"email": "a@example.org,b@example.org"}, "does not look like"),
        ({"frequency": "hourly"}, "choose daily or weekly"),
        ({"query": "diffusion\r\nSubject: spam"}, "line breaks"),
        ({"query": "the and of"}, "too common"),
    ],
)
def test_bad_input_gets_a_reason_and_changes_nothing(
    site: TestClient, db: Database, smtp_server, fields: dict[str, str], reason: str
) -> None:  # type: ignore[no-untyped-def]
    response = subscribe(site, **fields)
    assert response.status_code == 400
    assert reason in response.text.replace("&#34;", '"')
    assert subscription(db) is None
    assert smtp_server.messages == []


def test_the_form_needs_its_csrf_token_and_is_rate_limited(site: TestClient, db: Database) -> None:
    response = site.post("/digest/subscribe", data={"email": EMAIL, "frequency": "daily"})
    assert response.status_code == 403 and subscription(db) is None
    for n in range(10):
        assert subscribe(site, email=f"r{n}@example.org").status_code == 200
    limited = subscribe(site, email="r99@example.org")
    assert limited.status_code == 429 and "Retry-After" in limited.headers


def test_forged_and_expired_links_change_nothing(
    site: TestClient, db: Database, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    subscribe(site)
    [mail] = smtp_server.wait_for(1)
    link = confirm_link(mail)
    token = link.split("token=")[1]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for bad in (f"/digest/confirm?token={forged}", "/digest/confirm?token=", "/digest/confirm"):
        response = site.get(bad)
        assert response.status_code == 400 and "not valid" in response.text
    with clock.frozen(clock.now() + timedelta(days=8)):
        response = site.get(link)
        assert response.status_code == 400 and "expired" in response.text
    assert subscription(db).status == "pending"
    # A confirmation link is no unsubscribe link.
    response = site.post(f"/digest/unsubscribe?token={token}")
    assert response.status_code == 400
    response = site.post("/digest/unsubscribe", data={"token": forged})
    assert response.status_code == 400 and subscription(db).status == "pending"
    response = site.post("/digest/confirm", data={"token": forged})
    assert response.status_code == 400 and subscription(db).status == "pending"
    assert confirm(site, link).status_code == 200 and subscription(db).status == "active"


def test_an_active_address_is_not_changed_by_the_anonymous_form(
    site: TestClient, db: Database, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    subscribe(site, frequency="weekly")
    confirm(site, confirm_link(smtp_server.wait_for(1)[0]))
    again = subscribe(site, frequency="daily")
    assert again.status_code == 200 and "Check your email" in again.text
    assert subscription(db).frequency == "weekly"
    notice = smtp_server.wait_for(2)[1]
    assert "already subscribed" in notice.text and "/digest/manage?token=" in notice.text


def test_manage_topics_settings_and_preview_by_the_emailed_link(
    site: TestClient, db: Database, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    subscribe(site)
    confirmed = confirm(site, confirm_link(smtp_server.wait_for(1)[0]))
    manage = re.search(r'href="(/digest/manage\?token=[^"]+)"', confirmed.text).group(1)
    token = manage.split("token=")[1]
    page = site.get(manage)
    assert page.status_code == 200 and EMAIL in page.text

    added = site.post("/digest/manage/topics", data={"token": token, "query": "", "author": "Ada"})
    assert added.status_code == 303
    bad = site.post(
        "/digest/manage/topics", data={"token": token, "query": "x\nBcc: y@example.org"}
    )
    assert bad.status_code == 400 and "line breaks" in bad.text
    forged = site.post("/digest/manage/topics", data={"token": token[:-4], "query": "graphs"})
    assert forged.status_code == 400
    with db.reader() as session:
        assert session.execute(select(func.count()).select_from(SavedSearch)).scalar_one() == 1
        topic_id = session.execute(select(SavedSearch.id)).scalar_one()

    saved = site.post(
        "/digest/manage/settings", data={"token": token, "frequency": "weekly", "trending": "on"}
    )
    assert saved.status_code == 303
    row = subscription(db)
    assert (row.frequency, row.skip_weekends, row.include_trending) == ("weekly", False, True)
    wrong = site.post("/digest/manage/settings", data={"token": token, "frequency": "yearly"})
    assert wrong.status_code == 400 and subscription(db).frequency == "weekly"

    preview = site.get(f"/digest/preview?token={token}")
    assert preview.status_code == 200 and "<h3" in preview.text and "Trending" in preview.text

    removed = site.post(
        "/digest/manage/topics/remove", data={"token": token, "topic": str(topic_id)}
    )
    assert removed.status_code == 303
    assert (
        site.post(
            "/digest/manage/topics/remove", data={"token": token, "topic": "nope"}
        ).status_code
        == 400
    )


def test_a_signed_in_member_subscribes_their_confirmed_address_from_the_account(
    site: TestClient, db: Database, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        create_user(session, "ada", "ada@example.org", "long enough password", verified=True)
    login = site.get("/login")
    site.post(
        "/login",
        data={"csrf": csrf(login.text), "login": "ada", "password": "long enough password"},
    )
    account = site.get("/account")
    assert 'href="/account/digest"' in account.text
    form = site.get("/account/digest")
    assert form.status_code == 200 and 'value="ada@example.org"' in form.text
    done = site.post(
        "/digest/subscribe",
        data={"csrf": csrf(form.text), "email": "ada@example.org", "frequency": "daily"},
    )
    assert done.status_code == 200 and "You are subscribed" in done.text
    row = subscription(db)
    assert row.status == "active" and row.user_id is not None and not row.include_trending
    assert smtp_server.messages == []  # the address was confirmed already
    assert site.get("/account/digest").headers["location"].startswith("/digest/manage?token=")
