"""The delivery guarantee, end to end: `paperfeed digest send` killed with SIGKILL in the
middle of a run against a real SMTP server, then run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from paperfeed.db import Database
from paperfeed.digest import subscriptions as subs
from paperfeed.models import DigestDelivery
from tests.conftest import FIXED_NOW
from tests.servers import FaultySmtpServer

SUBSCRIBERS = 40
KILL_AT = 15


def run_send(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "paperfeed.cli", "digest", "send", "--period", "daily"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_killed_run_then_a_rerun_sends_every_digest_once(
    demo_db: Database, faulty_smtp_server: FaultySmtpServer, tmp_path: Path
) -> None:
    with demo_db.transaction() as session:
        for n in range(SUBSCRIBERS):
            subs.subscribe(session, f"reader{n:02d}@example.org", confirmed=True)
    env = {
        **os.environ,
        **faulty_smtp_server.env(),
        "PAPERFEED_DATABASE_URL": demo_db.url,
        "PAPERFEED_DATA_DIR": str(tmp_path),
        "PAPERFEED_SECRET_KEY": "test-secret",
        "PAPERFEED_SITE_URL": "https://papers.example.org",
        "PAPERFEED_CLOCK": FIXED_NOW.isoformat(),
        "PAPERFEED_DIGEST_RETRY_BACKOFF": "0",
    }
    first = run_send(env)

    # SIGKILL from inside the server, after it stored message KILL_AT and before it answers
    # 250: the worst moment, the sender never learns that the server accepted.
    def kill_at(count: int) -> None:
        if count == KILL_AT:
            os.kill(first.pid, signal.SIGKILL)

    faulty_smtp_server.on_accept = kill_at
    assert first.wait(timeout=120) == -signal.SIGKILL
    faulty_smtp_server.on_accept = None
    assert len(faulty_smtp_server.messages) == KILL_AT
    with demo_db.reader() as session:
        statuses = Counter(session.execute(select(DigestDelivery.status)).scalars())
    assert statuses["sent"] == KILL_AT - 1  # the last accepted one was never marked
    assert statuses["claimed"] >= 1

    second = run_send(env)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert f"{SUBSCRIBERS - KILL_AT + 1} sent" in out

    received = faulty_smtp_server.messages
    per_address = Counter(m.rcpt_tos[0] for m in received)
    assert set(per_address) == {f"reader{n:02d}@example.org" for n in range(SUBSCRIBERS)}
    twice = [address for address, count in per_address.items() if count > 1]
    assert len(twice) == 1 and per_address[twice[0]] == 2
    ids = {m.header("Message-ID") for m in received if m.rcpt_tos[0] == twice[0]}
    assert len(ids) == 1  # the duplicate is recognisably the same message
    assert len({m.header("Message-ID") for m in received}) == SUBSCRIBERS
    with demo_db.reader() as session:
        rows = session.execute(select(DigestDelivery)).scalars().all()
    assert len(rows) == SUBSCRIBERS and {r.status for r in rows} == {"sent"}

    # And once more: nothing left to send.
    third = run_send(env)
    out, _ = third.communicate(timeout=120)
    assert third.returncode == 0 and "0 sent" in out
    assert len(faulty_smtp_server.messages) == SUBSCRIBERS + 1
