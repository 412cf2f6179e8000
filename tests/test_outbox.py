"""The outgoing mail queue against real SMTP servers (aiosmtpd) on both database backends."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.mail import Mailer
from paperfeed.models import OutgoingMail, User
from paperfeed.outbox import Sender, deliver_due, enqueue, latest_for_user, queue_state
from tests.servers import SmtpServer, free_port


def queue(db: Database, settings: Settings, to: str = "ada@example.org", **extra) -> int:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        row = enqueue(
            session, settings, kind="verify", to=to, subject="Hello", text="A link.\n", **extra
        )
        return row.id


def row(db: Database, row_id: int) -> OutgoingMail:
    with db.reader() as session:
        found = session.get(OutgoingMail, row_id)
        assert found is not None
        return found


def test_a_queued_message_is_delivered_once_with_its_message_id(
    db: Database, settings: Settings, smtp_server: SmtpServer
) -> None:
    settings = smtp_server.settings(settings)
    row_id = queue(db, settings)
    assert row(db, row_id).status == "queued"
    assert smtp_server.messages == []  # queueing sends nothing

    done = deliver_due(db, settings)
    again = deliver_due(db, settings)

    assert (done.sent, again.sent) == (1, 0)
    [mail] = smtp_server.messages
    sent = row(db, row_id)
    assert sent.status == "sent" and sent.attempts == 1 and sent.sent_at is not None
    assert mail.header("Message-ID") == sent.message_id
    assert mail.rcpt_tos == ["ada@example.org"] and mail.text == "A link.\n"


def test_a_rolled_back_cause_leaves_no_message(db: Database, settings: Settings) -> None:
    try:
        with db.transaction() as session:
            enqueue(session, settings, kind="verify", to="a@example.org", subject="s", text="t")
            raise RuntimeError("the sign-up failed")
    except RuntimeError:
        pass
    with db.reader() as session:
        assert session.execute(select(OutgoingMail)).first() is None


def test_a_down_server_means_retries_with_backoff_then_delivery(
    db: Database, settings: Settings, smtp_server: SmtpServer, fixed_clock
) -> None:  # type: ignore[no-untyped-def]
    from paperfeed import clock

    down = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": free_port()})
    row_id = queue(db, down)
    first = deliver_due(db, down)
    assert (first.sent, first.retried) == (0, 1)
    waiting = row(db, row_id)
    assert waiting.status == "queued" and waiting.attempts == 1
    assert "cannot connect" in (waiting.error or "")
    assert (waiting.next_attempt_at - fixed_clock).total_seconds() == down.mail_retry_seconds
    assert deliver_due(db, down).retried == 0  # not due yet

    up = smtp_server.settings(settings)
    with clock.frozen(waiting.next_attempt_at):
        assert deliver_due(db, up).sent == 1
    assert row(db, row_id).status == "sent" and len(smtp_server.messages) == 1


def test_a_permanent_refusal_fails_at_once_and_the_state_says_why(
    db: Database, settings: Settings, smtp_server: SmtpServer
) -> None:
    settings = smtp_server.settings(settings)
    smtp_server.refused_recipients.add("nobody@example.org")
    bad = queue(db, settings, to="nobody@example.org")
    good = queue(db, settings, to="ada@example.org")

    done = deliver_due(db, settings)

    assert (done.sent, done.failed) == (1, 1)
    failed = row(db, bad)
    assert failed.status == "failed" and "refused" in (failed.error or "")
    assert row(db, good).status == "sent"
    with db.reader() as session:
        state = queue_state(session)
    assert state.counts["failed"] == 1 and state.counts["sent"] == 1
    assert [m.id for m in state.recent_failures] == [bad]


def test_out_of_attempts_is_failed(db: Database, settings: Settings, fixed_clock) -> None:  # type: ignore[no-untyped-def]
    from paperfeed import clock

    down = settings.model_copy(
        update={"smtp_port": free_port(), "mail_max_attempts": 2, "mail_retry_seconds": 0}
    )
    row_id = queue(db, down)
    deliver_due(db, down)
    with clock.frozen(row(db, row_id).next_attempt_at):
        deliver_due(db, down)
    assert row(db, row_id).status == "failed" and row(db, row_id).attempts == 2


def test_two_senders_at_once_send_each_message_once(
    db: Database, settings: Settings, smtp_server: SmtpServer
) -> None:
    settings = smtp_server.settings(settings)
    ids = [queue(db, settings, to=f"reader{n}@example.org") for n in range(30)]
    barrier = threading.Barrier(3)

    def send() -> None:
        barrier.wait()
        with Mailer(settings) as mailer:
            deliver_due(db, settings, mailer=mailer, batch=5)

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    recipients = sorted(r for mail in smtp_server.messages for r in mail.rcpt_tos)
    assert recipients == sorted(f"reader{n}@example.org" for n in range(30))
    assert {row(db, i).status for i in ids} == {"sent"}


def test_the_background_sender_delivers_as_soon_as_the_cause_commits(
    db: Database, settings: Settings, smtp_server: SmtpServer
) -> None:
    settings = smtp_server.settings(settings)
    sender = Sender(db, settings, interval=60)  # the wake-up, not the interval, must send
    sender.start()
    try:
        time.sleep(0.2)  # its first pass found nothing; it now sleeps for a minute
        started = time.monotonic()
        queue(db, settings)
        smtp_server.wait_for(1, timeout=5)
        assert time.monotonic() - started < 5
    finally:
        sender.stop()


def test_an_account_sees_its_latest_message(db: Database, settings: Settings) -> None:
    with db.transaction() as session:
        user = User(username="ada", email="ada@example.org", password_hash="x", role="user")
        from paperfeed import clock

        user.created_at = clock.now()
        session.add(user)
        session.flush()
        user_id = user.id
    first = queue(db, settings, user_id=user_id)
    second = queue(db, settings, user_id=user_id)
    with db.reader() as session:
        latest = latest_for_user(session, user_id, "verify")
        assert latest is not None and latest.id == second != first
        assert latest_for_user(session, user_id, "reset") is None


def test_the_worker_job_and_status_report_the_queue(
    db: Database, settings: Settings, smtp_server: SmtpServer
) -> None:
    from paperfeed.jobs.status import collect, render
    from paperfeed.jobs.worker import Worker, jobs_from_settings

    settings = smtp_server.settings(settings)
    smtp_server.refused_recipients.add("gone@example.org")
    queue(db, settings, to="ada@example.org")
    queue(db, settings, to="gone@example.org")
    [run] = Worker(db, settings, jobs_from_settings(settings, ["mail"])).run_once()
    assert run.status == "ok" and run.counts == {"sent": 1, "retried": 0, "failed": 1}
    report = render(collect(db, settings))
    assert "mail: 0 waiting, 1 sent, 1 failed" in report
    assert "failed verify to gone@example.org (1 try)" in report


def test_the_outbox_backend_keeps_every_message_and_sends_none(
    db: Database, settings: Settings, smtp_server: SmtpServer
) -> None:
    from paperfeed.mail import build_message
    from paperfeed.outbox import KeepingMailer, mailer_for

    kept = smtp_server.settings(settings).model_copy(update={"mail_backend": "outbox"})
    row_id = queue(db, kept)
    with mailer_for(kept, db) as mailer:
        assert isinstance(mailer, KeepingMailer)
        mailer.send_message(build_message(kept.mail_from, "b@example.org", "Digest", "Papers."))
    assert deliver_due(db, kept).sent == 0
    assert smtp_server.messages == []
    with db.reader() as session:
        rows = session.execute(select(OutgoingMail).order_by(OutgoingMail.id)).scalars().all()
        assert [(r.id == row_id, r.kind, r.status) for r in rows] == [
            (True, "verify", "kept"),
            (False, "digest", "kept"),
        ]
        assert queue_state(session).counts["kept"] == 2
