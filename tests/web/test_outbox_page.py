"""/demo/outbox: kept mail readable in the browser, links clickable, the HTML part framed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperfeed.db import Database
from paperfeed.mail import build_message
from paperfeed.models import SiteMeta
from paperfeed.outbox import KeepingMailer
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS
from tests.web.test_accounts import PASSWORD, log_in, sign_up


def site_for(db: Database, tmp_path: Path, *, demo: bool) -> TestClient:
    if demo:
        with db.transaction() as session:
            session.merge(SiteMeta(key="demo_anchor", value="2026-11-20"))
    settings = make_settings(tmp_path, db.url).model_copy(update={"mail_backend": "outbox"})
    return TestClient(create_app(settings, db), follow_redirects=False, headers=BROWSER_HEADERS)


@pytest.fixture
def demo_site(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    with site_for(db, tmp_path, demo=True) as client:
        yield client


def test_a_newcomer_confirms_a_sign_up_from_the_outbox(demo_site: TestClient) -> None:
    sign_up(demo_site)
    account = demo_site.get("/account").text
    assert 'ada@example.org is in the <a href="/demo/outbox">outbox</a>' in account
    assert "Mail is not being sent" in account
    outbox = demo_site.get("/demo/outbox")
    assert outbox.status_code == 200
    assert outbox.headers["cache-control"] == "private, no-store"
    assert "Confirm your email address" in outbox.text and "To ada@example.org" in outbox.text
    link = re.search(r'<a href="https?://[^/"]+(/verify\?token=[^"]+)">', outbox.text)
    assert link, "the confirmation link is clickable"
    assert "confirmed" in demo_site.get(link.group(1)).text
    assert "not confirmed" not in demo_site.get("/account").text


def test_the_html_part_is_framed_under_its_own_policy(db: Database, demo_site: TestClient) -> None:
    html = "<p style='color:red'>Papers</p><script>alert(1)</script>"
    with KeepingMailer(db) as mailer:
        mailer.send_message(
            build_message("s@example.org", "r@example.org", "Digest <b>", "Text <i>", html)
        )
    page = demo_site.get("/demo/outbox").text
    assert "Digest &lt;b&gt;" in page and "Text &lt;i&gt;" in page  # escaped, not markup
    frame = re.search(r'<iframe class="mail-html" sandbox="[^"]*" src="([^"]+)"', page)
    assert frame
    framed = demo_site.get(frame.group(1))
    assert framed.status_code == 200 and "Papers" in framed.text
    policy = framed.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in policy and "sandbox" in policy
    assert "script-src" not in policy  # default-src 'none': the script never runs
    assert framed.headers["x-frame-options"] == "SAMEORIGIN"
    assert demo_site.get("/demo/outbox").headers["x-frame-options"] == "DENY"
    assert demo_site.get("/demo/outbox/999/html").status_code == 404
    assert demo_site.get("/demo/outbox/²/html").status_code in (400, 404, 422)


def test_outside_the_demo_only_admins_read_the_outbox(db: Database, tmp_path: Path) -> None:
    from paperfeed.community.accounts import create_user

    with db.transaction() as session:
        create_user(session, "boss", "boss@example.org", PASSWORD, role="admin", verified=True)
    with site_for(db, tmp_path, demo=False) as client:
        assert client.get("/demo/outbox").status_code == 303  # to the login page
        sign_up(client)
        assert client.get("/demo/outbox").status_code == 403
        client.cookies.clear()
        log_in(client, "boss")
        assert "Confirm your email address" in client.get("/demo/outbox").text
