"""SIGKILL a web node under load: every write it acknowledged is in the database.

The node is `paperfeed serve` in its own process on the test PostgreSQL. Browsers upvote
and comment as fast as it answers; each success (2xx/3xx) is recorded, the node is killed
mid-stream, and the database must hold every acknowledged write, with counts that agree.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from paperfeed.community import accounts
from paperfeed.db import Database
from paperfeed.models import Comment, Paper, Upvote, User
from paperfeed.papers.counts import inconsistent
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from tests.conftest import FIXED_NOW, WORKER, postgres_database
from tests.web.conftest import BROWSER_HEADERS
from tests.web.node_process import NodeProcess, start_node

PASSWORD = "long enough password"
BROWSERS = 6
PAPERS = [f"2411.{n:05d}" for n in range(1, 301)]
COMMENT_EVERY = 10  # every tenth write is a comment (the limit is 20 per user per hour)
ACKNOWLEDGED_BEFORE_KILL = 120


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(postgres_database(f"paperfeed_test_nodekill_{WORKER}"))
    db.upgrade()
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(title=f"Paper {n}", abstract="x", arxiv_id=arxiv_id, feed_at=FIXED_NOW)
                for n, arxiv_id in enumerate(PAPERS)
            ],
        )
        for i in range(BROWSERS):
            accounts.create_user(
                session, f"writer{i}", f"w{i}@example.org", PASSWORD, verified=True
            )
    yield db
    db.dispose()


@dataclass
class Ledger:
    """What the node said yes to, and anything that went wrong before it was killed."""

    votes: set[tuple[str, str]] = field(default_factory=set)  # (user, paper)
    comments: set[str] = field(default_factory=set)  # bodies
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def total(self) -> int:
        with self.lock:
            return len(self.votes) + len(self.comments)


def sign_in(base: str, name: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, headers=BROWSER_HEADERS, timeout=30)
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    done = client.post("/login", data={"csrf": token, "login": name, "password": PASSWORD})
    assert done.status_code == 303, done.text[:300]
    paper = client.get(f"/papers/{PAPERS[0]}")
    return client, re.search(r'name="csrf" value="([^"]+)"', paper.text).group(1)


def write_until_the_node_dies(
    client: httpx.Client, token: str, name: str, ledger: Ledger, killed: threading.Event
) -> None:
    for n, paper in enumerate(PAPERS):
        try:
            if n % COMMENT_EVERY == COMMENT_EVERY - 1:
                body = f"note from {name} on {paper}"
                response = client.post(
                    f"/papers/{paper}/comments", data={"csrf": token, "body": body}
                )
                if response.status_code == 303 and "#comment-" in response.headers["location"]:
                    with ledger.lock:
                        ledger.comments.add(body)
                    continue
            else:
                response = client.post(
                    f"/papers/{paper}/upvote",
                    data={"csrf": token, "vote": "1"},
                    headers={"accept": "application/json"},
                )
                if response.status_code == 200 and response.json()["upvoted"] is True:
                    with ledger.lock:
                        ledger.votes.add((name, paper))
                    continue
            failure = f"{name} {paper}: {response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            if killed.is_set():
                return  # the node is gone: this write was never acknowledged
            failure = f"{name} {paper}: {exc!r}"
        with ledger.lock:
            ledger.errors.append(failure)
        return


def stored_writes(db: Database) -> tuple[set[tuple[str, str]], set[str]]:
    with db.reader() as session:
        votes = set(
            session.execute(
                select(User.username, Paper.public_id)
                .join(Upvote, Upvote.user_id == User.id)
                .join(Paper, Paper.id == Upvote.paper_id)
            ).all()
        )
        comments = set(session.execute(select(Comment.body)).scalars())
    return {(u, p) for u, p in votes}, comments


def test_killing_a_node_mid_load_loses_no_acknowledged_write(
    database: Database, tmp_path: Path
) -> None:
    node = start_node(database.url, tmp_path)
    ledger, killed = Ledger(), threading.Event()
    browsers = [sign_in(node.url, f"writer{i}") for i in range(BROWSERS)]
    threads = [
        threading.Thread(
            target=write_until_the_node_dies, args=(client, token, f"writer{i}", ledger, killed)
        )
        for i, (client, token) in enumerate(browsers)
    ]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while ledger.total() < ACKNOWLEDGED_BEFORE_KILL and not ledger.errors:
            assert time.monotonic() < deadline, "the node acknowledged too few writes"
            time.sleep(0.02)
        killed.set()
        node.kill()
        for thread in threads:
            thread.join(60)
    finally:
        killed.set()
        node.stop()
        for client, _ in browsers:
            client.close()

    assert ledger.errors == [], ledger.errors[:5]
    assert ledger.comments, "no comment was acknowledged before the kill"
    votes, comments = stored_writes(database)
    assert ledger.votes <= votes, f"lost upvotes: {sorted(ledger.votes - votes)[:5]}"
    assert ledger.comments <= comments, f"lost comments: {sorted(ledger.comments - comments)[:5]}"
    # A write the node committed but could not answer before it died is fine (the browser
    # retries an idempotent upvote); at most one per browser can be in flight.
    unanswered = len(votes - ledger.votes) + len(comments - ledger.comments)
    assert unanswered <= BROWSERS
    with database.reader() as session:
        assert inconsistent(session) == []

    # A replacement node serves the same state.
    replacement: NodeProcess = start_node(database.url, tmp_path)
    try:
        voted_paper = sorted(ledger.votes)[0][1]
        expected = sum(1 for _, paper in votes if paper == voted_paper)
        info = httpx.get(f"{replacement.url}/api/papers/{voted_paper}", timeout=30)
        assert info.status_code == 200 and info.json()["upvotes"] == expected
    finally:
        replacement.stop()
