"""Upvoting through the web stack: the form without JavaScript, JSON with it, and many
browsers clicking at once against a live server."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from paperfeed.community import accounts
from paperfeed.db import Database
from paperfeed.models import Paper
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS
from tests.web.live import start_server

PASSWORD = "long enough password"


@pytest.fixture
def site(db: Database, tmp_path: Path, fixed_clock):  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Votable paper",
                    abstract="x",
                    upvotes=3,
                    arxiv_id="2411.00001",
                    feed_at=fixed_clock,
                )
            ],
        )
        for i in range(8):
            accounts.create_user(session, f"voter{i}", f"v{i}@example.org", PASSWORD, verified=True)
    return create_app(make_settings(tmp_path, db.url), db)


def logged_in(client: TestClient | httpx.Client, name: str) -> str:
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    client.post("/login", data={"csrf": token, "login": name, "password": PASSWORD})
    home = client.get("/papers/2411.00001")
    return re.search(r'name="csrf" value="([^"]+)"', home.text).group(1)


def test_visitors_are_sent_to_log_in(site) -> None:  # type: ignore[no-untyped-def]
    with TestClient(site, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        html = client.get("/papers/2411.00001").text
        assert 'href="/login?next=/papers/2411.00001"' in html
        assert client.post("/papers/2411.00001/upvote").status_code in (303, 403)


def test_the_form_works_without_javascript_and_with_json(site, db: Database) -> None:  # type: ignore[no-untyped-def]
    with TestClient(site, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        token = logged_in(client, "voter0")
        plain = client.post(
            "/papers/2411.00001/upvote",
            data={"csrf": token, "vote": "1"},
            headers={"referer": "http://testserver/papers/2411.00001"},
        )
        assert plain.status_code == 303
        page = client.get("/papers/2411.00001").text
        assert 'aria-pressed="true"' in page and '<span class="count">4</span>' in page
        assert client.get("/papers/2411.00001").headers["cache-control"].startswith("private")
        undo = client.post(
            "/papers/2411.00001/upvote",
            data={"csrf": token, "vote": "0"},
            headers={"accept": "application/json"},
        )
        assert undo.json() == {"upvoted": False, "upvotes": 3}
        missing = client.post("/papers/9999.99999/upvote", data={"csrf": token})
        assert missing.status_code == 404
        forged = client.post("/papers/2411.00001/upvote", data={"csrf": "x"})
        assert forged.status_code == 403


def test_many_browsers_clicking_at_once(site, db: Database) -> None:  # type: ignore[no-untyped-def]
    live = start_server(site)
    base = live.url
    try:
        clients = [httpx.Client(base_url=base, headers=BROWSER_HEADERS) for _ in range(8)]
        tokens = [logged_in(c, f"voter{i}") for i, c in enumerate(clients)]

        def click(i: int) -> int:
            client = clients[i % 8]
            response = client.post(
                "/papers/2411.00001/upvote",
                data={"csrf": tokens[i % 8], "vote": "1"},
                headers={"accept": "application/json"},
            )
            return response.status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(click, range(40)))  # each voter clicks five times
        assert statuses == [200] * 40
        with db.reader() as session:
            assert session.execute(select(Paper.upvotes)).scalar_one() == 3 + 8
        for client in clients:
            client.close()
    finally:
        live.stop()
