"""The outgoing mail queue: one-off emails are rows first, deliveries second.

A page that sends mail (sign-up, password reset, a digest link) only adds a row to
`outgoing_mail` in the same transaction as its cause: the request never waits on an SMTP
server, so a slow or dead one slows no page, and how long a request takes says nothing
about whether the address has an account. A background sender (a thread in every
`paperfeed serve` process, and the worker's `mail` job) delivers the queue:

- A batch is claimed with one UPDATE that only matches queued rows, so two senders on any
  number of nodes never both send a message. A claim lasts `CLAIM_SECONDS`; a sender that
  dies mid-batch leaves its claims to be taken over after that (the message keeps its
  Message-ID, so the one that might go out twice is recognisable as the same message).
- With `PAPERFEED_MAIL_BACKEND=outbox` (the demo's default) nothing leaves the machine:
  messages are `kept` in the table, shown at /demo/outbox, and no sender takes them.
- A transient failure (the server is down, a 4xx) puts the row back with a later
  `next_attempt_at` (backoff doubling from `mail_retry_seconds`) until `mail_max_attempts`;
  a wrong setting (a refused login, no STARTTLS) is retried the same way, so mail flows
  again once an operator fixes it; a permanent refusal (5xx) marks it `failed` with the
  reason, which the account page, `/admin` and `paperfeed status` show.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import event, func, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.jobs.leases import new_holder
from paperfeed.mail import (
    Mailer,
    MailError,
    MessageSender,
    build_message,
    classify,
    parse_message,
)
from paperfeed.models import OutgoingMail

log = logging.getLogger(__name__)

CLAIM_SECONDS = 120
BATCH = 50
STATES = ("queued", "sending", "sent", "failed", "kept")

_wakeup = threading.Event()


def enqueue(
    session: Session,
    settings: Settings,
    *,
    kind: str,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    headers: Mapping[str, str] | None = None,
    user_id: int | None = None,
) -> OutgoingMail:
    """Queue a message in the caller's transaction; senders are woken when it commits."""
    message = build_message(settings.mail_from, to, subject, text, html, headers)
    row = _row(message, kind, initial_status(settings), user_id)
    session.add(row)
    session.flush()
    event.listen(session, "after_commit", _wake_senders, once=True)
    return row


def _row(message: EmailMessage, kind: str, status: str, user_id: int | None) -> OutgoingMail:
    now = clock.now()
    return OutgoingMail(
        kind=kind,
        user_id=user_id,
        to_address=str(message["To"])[:320],
        subject=" ".join(str(message["Subject"] or "").split())[:500],
        message=message.as_string(),
        message_id=str(message["Message-ID"]),
        status=status,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


def _wake_senders(_session: Session) -> None:
    _wakeup.set()


def initial_status(settings: Settings) -> str:
    """`kept` with PAPERFEED_MAIL_BACKEND=outbox: the message stays here, to read on
    /demo/outbox, and no sender ever takes it."""
    return "kept" if settings.mail_backend == "outbox" else "queued"


class KeepingMailer:
    """A `Mailer` for PAPERFEED_MAIL_BACKEND=outbox: what would go to the SMTP server (a
    digest run's messages) is kept in the outbox instead."""

    def __init__(self, db: Database, kind: str = "digest") -> None:
        self.db = db
        self.kind = kind

    def __enter__(self) -> KeepingMailer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def send_message(self, message: EmailMessage) -> None:
        with self.db.transaction() as session:
            session.add(_row(message, self.kind, "kept", None))

    def close(self) -> None:
        pass


def mailer_for(settings: Settings, db: Database) -> MessageSender:
    """Where messages of a batch go: the SMTP server, or the outbox."""
    return KeepingMailer(db) if settings.mail_backend == "outbox" else Mailer(settings)


@dataclass
class Delivered:
    """What one pass over the queue did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"sent": self.sent, "retried": self.retried, "failed": self.failed}


def deliver_due(
    db: Database,
    settings: Settings,
    *,
    holder: str | None = None,
    mailer: Mailer | None = None,
    batch: int = BATCH,
) -> Delivered:
    """Send every due message (in batches over one SMTP connection) and record each outcome."""
    holder = holder or new_holder()
    done = Delivered()
    own_mailer = mailer is None
    mailer = mailer or Mailer(settings)
    try:
        while True:
            claimed = _claim(db, holder, batch)
            if not claimed:
                return done
            for row_id, raw in claimed:
                _deliver_one(db, settings, mailer, row_id, raw, done)
    finally:
        if own_mailer:
            mailer.close()


def _claim(db: Database, holder: str, batch: int) -> list[tuple[int, str]]:
    now = clock.now()
    due = or_(
        (OutgoingMail.status == "queued") & (OutgoingMail.next_attempt_at <= now),
        (OutgoingMail.status == "sending") & (OutgoingMail.claimed_until < now),
    )
    with db.transaction() as session:
        ids = list(
            session.execute(
                select(OutgoingMail.id).where(due).order_by(OutgoingMail.id).limit(batch)
            ).scalars()
        )
        if not ids:
            return []
        # The state test is repeated on the row itself: a concurrent sender that claimed
        # one of these first makes it not match here (PostgreSQL re-checks after the wait).
        session.execute(
            update(OutgoingMail)
            .where(OutgoingMail.id.in_(ids), due)
            .values(
                status="sending",
                claimed_by=holder,
                claimed_until=now + timedelta(seconds=CLAIM_SECONDS),
            )
        )
        return list(
            session.execute(
                select(OutgoingMail.id, OutgoingMail.message)
                .where(OutgoingMail.claimed_by == holder, OutgoingMail.status == "sending")
                .order_by(OutgoingMail.id)
            ).all()
        )


def _deliver_one(
    db: Database, settings: Settings, mailer: Mailer, row_id: int, raw: str, done: Delivered
) -> None:
    message = parse_message(raw)
    error: str | None = None
    kind = "sent"
    try:
        mailer.send_message(message)
    except MailError as exc:
        error = str(exc)
        kind = classify(exc.__cause__)
    with db.transaction() as session:
        row = session.get(OutgoingMail, row_id)
        if row is None:
            return
        row.attempts += 1
        row.claimed_by = row.claimed_until = None
        if error is None:
            row.status, row.sent_at, row.error = "sent", clock.now(), None
            done.sent += 1
            return
        row.error = error[:2000]
        if kind != "permanent" and row.attempts < settings.mail_max_attempts:
            backoff = settings.mail_retry_seconds * 2 ** (row.attempts - 1)
            row.status, row.next_attempt_at = "queued", clock.now() + timedelta(seconds=backoff)
            done.retried += 1
        else:
            row.status = "failed"
            done.failed += 1
    done.errors.append(error)
    log.warning("mail %s to %s not delivered: %s", row_id, message["To"], error)


# --- who sees what ----------------------------------------------------------------------------


def latest_for_user(session: Session, user_id: int, kind: str) -> OutgoingMail | None:
    """The newest message of a kind for an account (the account page shows its state)."""
    return session.execute(
        select(OutgoingMail)
        .where(OutgoingMail.user_id == user_id, OutgoingMail.kind == kind)
        .order_by(OutgoingMail.id.desc())
        .limit(1)
    ).scalar_one_or_none()


@dataclass
class QueueState:
    """For operators: how many messages are in each state, and the newest failures."""

    counts: dict[str, int]
    oldest_queued: datetime | None
    recent_failures: list[OutgoingMail]


def queue_state(session: Session, failures: int = 10) -> QueueState:
    counts = dict.fromkeys(STATES, 0)
    for status, count in session.execute(
        select(OutgoingMail.status, func.count()).group_by(OutgoingMail.status)
    ).all():
        counts[status] = count
    oldest = session.execute(
        select(func.min(OutgoingMail.created_at)).where(
            OutgoingMail.status.in_(("queued", "sending"))
        )
    ).scalar_one()
    recent = list(
        session.execute(
            select(OutgoingMail)
            .where(OutgoingMail.error.is_not(None))
            .order_by(OutgoingMail.id.desc())
            .limit(failures)
        ).scalars()
    )
    return QueueState(counts, oldest, recent)


# --- the background sender --------------------------------------------------------------------


class Sender:
    """A daemon thread that delivers the queue: at once when a message is queued in this
    process, and every `interval` seconds for messages queued elsewhere or due a retry."""

    def __init__(self, db: Database, settings: Settings, interval: float) -> None:
        self.db = db
        self.settings = settings
        self.interval = interval
        self.holder = new_holder()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._outage_logged = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="paperfeed-mail", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        _wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            _wakeup.clear()
            try:
                deliver_due(self.db, self.settings, holder=self.holder)
                self._outage_logged = False
            except OperationalError as exc:
                if not self._outage_logged:
                    log.warning("mail sender: database unavailable (%s); retrying", exc)
                    self._outage_logged = True
            except Exception:
                log.exception("mail sender: unexpected error; retrying")
            _wakeup.wait(self.interval)
