"""`paperfeed digest subscribe|send`, run as an operator runs them: a real process."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from paperfeed.db import Database
from paperfeed.models import DigestDelivery, SavedSearch, Subscription
from tests.servers import SmtpServer
from tests.test_cli import run


@pytest.fixture
def env(tmp_path: Path, demo_db: Database, smtp_server: SmtpServer) -> dict[str, str]:
    return {
        **smtp_server.env(),
        "PAPERFEED_DATA_DIR": str(tmp_path),
        "PAPERFEED_DATABASE_URL": demo_db.url,
        "PAPERFEED_SECRET_KEY": "test-secret",
    }


def test_help_says_what_the_commands_do(tmp_path: Path) -> None:
    env = {"PAPERFEED_DATA_DIR": str(tmp_path)}
    assert "--dry-run" in run(["digest", "send", "--help"], env).stdout
    assert "--weekly" in run(["digest", "subscribe", "--help"], env).stdout


def test_subscribe_then_dry_run_then_send(
    env: dict[str, str], demo_db: Database, smtp_server: SmtpServer
) -> None:
    done = run(["digest", "subscribe", "Ops@Example.org", "--weekly", "--query", "scaling"], env)
    assert "ops@example.org gets the weekly digest with 1 topic." in done.stdout
    run(["digest", "subscribe", "daily@example.org"], env)
    with demo_db.reader() as session:
        rows = {r.email: r for r in session.execute(select(Subscription)).scalars()}
        assert rows["ops@example.org"].status == "active"
        assert rows["ops@example.org"].frequency == "weekly"
        assert session.execute(select(SavedSearch.query)).scalar_one() == "scaling"

    dry = run(["digest", "send", "--dry-run"], env)
    assert "would send to daily@example.org" in dry.stdout
    assert "dry run: 2 digests would be sent" in dry.stdout
    assert smtp_server.messages == []

    sent = run(["digest", "send", "--period", "daily"], env)
    assert "1 sent" in sent.stdout and "emails/s" in sent.stdout
    assert [m.rcpt_tos for m in smtp_server.wait_for(1)] == [["daily@example.org"]]
    with demo_db.reader() as session:
        assert session.execute(select(DigestDelivery.period)).scalar_one() == "daily:2026-11-20"


def test_bad_input_exits_non_zero_and_changes_nothing(
    env: dict[str, str], demo_db: Database
) -> None:
    bad = run(["digest", "subscribe", "not-an-address"], env, check=False)
    assert bad.returncode == 1 and "does not look like an email address" in bad.stderr
    topic = run(["digest", "subscribe", "a@example.org", "--query", "x\nBcc: b@x.org"], env, False)
    assert topic.returncode == 1 and "line breaks" in topic.stderr
    assert "Nothing was changed" in topic.stderr
    with demo_db.reader() as session:
        assert session.execute(select(Subscription)).first() is None
    period = run(["digest", "send", "--period", "hourly"], env, check=False)
    assert period.returncode == 2 and "daily" in period.stderr


def test_a_refused_login_stops_the_run_with_advice(env: dict[str, str]) -> None:
    run(["digest", "subscribe", "daily@example.org"], env)
    wrong = {**env, "PAPERFEED_SMTP_USER": "nobody", "PAPERFEED_SMTP_PASSWORD": "x"}
    result = run(["digest", "send"], wrong, check=False)
    assert result.returncode == 1
    assert "PAPERFEED_SMTP_USER" in result.stderr and "not sent twice" in result.stderr
