"""Absolute links come from PAPERFEED_SITE_URL, else from the address `serve` listens on.

Links once said `127.0.0.1:8000` whatever port the site ran on. A request's Host header
must never decide them either: anyone can forge it, and it would poison reset links and
cached feeds. This starts `paperfeed serve --port N --workers 2` for real (the workers are
separate processes that get the address through the environment) and reads every kind of
link back with forged Host and X-Forwarded-* headers.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from paperfeed.community import accounts
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.models import OutgoingMail, Paper
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.serving import listen_url
from tests.web.live import free_port

FORGED = {
    "host": "evil.example",
    "x-forwarded-host": "evil.example",
    "x-forwarded-proto": "https",
    "x-forwarded-for": "203.0.113.9",
}


def test_the_settings_know_whether_the_site_url_was_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PAPERFEED_SITE_URL", "PAPERFEED_LISTEN_URL"):
        monkeypatch.delenv(name, raising=False)
    assert not Settings().site_url_is_set and Settings().site_url == "http://127.0.0.1:8000"
    monkeypatch.setenv("PAPERFEED_LISTEN_URL", "http://127.0.0.1:9123")
    assert Settings().site_url == "http://127.0.0.1:9123" and not Settings().site_url_is_set
    monkeypatch.setenv("PAPERFEED_SITE_URL", "")  # empty counts as unset
    assert Settings().site_url == "http://127.0.0.1:9123" and not Settings().site_url_is_set
    monkeypatch.setenv("PAPERFEED_SITE_URL", "https://papers.example.org/")
    assert Settings().site_url == "https://papers.example.org" and Settings().site_url_is_set
    monkeypatch.setenv("PAPERFEED_SITE_URL", "papers.example.org")
    with pytest.raises(ValueError, match="must start with http"):
        Settings()


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "http://127.0.0.1:9000"),
        ("localhost", "http://localhost:9000"),
        ("0.0.0.0", "http://127.0.0.1:9000"),
        ("::", "http://[::1]:9000"),
        ("::1", "http://[::1]:9000"),
        ("papers.lan", "http://papers.lan:9000"),
    ],
)
def test_listen_url(host: str, expected: str) -> None:
    assert listen_url(host, 9000) == expected


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Database]]:
    """`paperfeed serve --port N --workers 2` on a SQLite site with two papers and a user."""
    url = f"sqlite:///{tmp_path / 'site.sqlite3'}"
    db = Database(url)
    db.upgrade()
    day = datetime(2026, 11, 19, 14, 0, tzinfo=UTC)
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(title="Served paper", abstract="a", arxiv_id="2611.00001", feed_at=day),
                PaperRecord(title="Local paper", abstract="b", feed_at=day),
            ],
        )
        accounts.create_user(session, "ada", "ada@example.org", "long enough password")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PAPERFEED_")}
    env |= {
        "PAPERFEED_DATA_DIR": str(tmp_path),
        "PAPERFEED_DATABASE_URL": url,
        "PAPERFEED_SECRET_KEY": "k3y-long-enough-and-random-0123456789",
        "PAPERFEED_MAIL_BACKEND": "outbox",
        "PAPERFEED_INDEX_FOLLOW_SECONDS": "0",
    }
    command = [sys.executable, "-m", "paperfeed.cli", "serve", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "paperfeed serve did not start"
            time.sleep(0.2)
        yield base, db
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        db.dispose()


def test_links_use_the_served_port_and_ignore_a_forged_host(
    served: tuple[str, Database],
) -> None:
    base, db = served
    with db.reader() as session:
        local = session.execute(select(Paper.public_id).where(Paper.arxiv_id.is_(None))).scalar()
    # Several requests, so both worker processes very likely answer some of them.
    with httpx.Client(base_url=base, timeout=10) as client:
        for _ in range(3):
            for path in ("/papers/month/2026-11.rss", "/papers/month/2026-11.atom"):
                feed = client.get(path, headers=FORGED)
                assert feed.status_code == 200
                assert f"{base}/papers/2611.00001" in feed.text
                assert f'href="{base}{path}"' in feed.text  # the self link
            bib = client.get(f"/papers/{local}.bib", headers=FORGED).text
            assert f"{base}/papers/{local}}}" in bib
            md = client.get("/papers/2611.00001.md", headers=FORGED).text
            assert f"]({base}/papers/2611.00001)" in md
            csv = client.get("/papers/month/2026-11.csv", headers=FORGED).text
            assert f"{base}/papers/2611.00001" in csv
            for text in (feed.text, bib, md, csv):
                assert "evil.example" not in text and "127.0.0.1:8000" not in text

        form = client.get("/reset")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        sent = client.post(
            "/reset", data={"csrf": csrf, "email": "ada@example.org"}, headers=FORGED
        )
        assert sent.status_code == 200, sent.text[:300]
    with db.reader() as session:
        message = session.execute(
            select(OutgoingMail.message).where(OutgoingMail.kind == "reset")
        ).scalar_one()
    links = re.findall(r"https?://[^\s/]+/reset/confirm", message.replace("=\n", ""))
    assert links == [f"{base}/reset/confirm"]
