"""Sending the digests that are due, through one SMTP connection, with the ledger.

`send_due(settings, db)` is what the worker's schedule calls: safe to call as often as
you like, since the ledger makes every (subscription, period) go out once. For each
frequency it works in batches: claim a batch (one transaction), then for each claim
compose, send and mark it in its own transaction, right after the server accepts.

Failures: a 5xx refusal of the recipient or message is a bounce (recorded; after
`digest_bounce_limit` in a row the subscription is paused). Anything else transient
(4xx, a dropped connection) is retried with exponential backoff; a digest that still
fails is left for the next run, and a run that meets several such failures in a row
stops, since the server is down. A wrong login or sender stops the run at once with the
setting to fix.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.digest import ledger
from paperfeed.digest.compose import ComposedDigest, compose, to_message
from paperfeed.digest.content import SEARCH_CANDIDATES, ContentSource, Searcher, follows_of
from paperfeed.digest.periods import (
    FREQUENCIES,
    DigestPeriod,
    Frequency,
    current_period,
    is_weekend,
)
from paperfeed.mail import MailError, MessageSender, classify
from paperfeed.models import DigestDelivery, SavedSearch, Subscription
from paperfeed.outbox import mailer_for

if TYPE_CHECKING:
    from paperfeed.search.lexical import Filters

log = logging.getLogger(__name__)
BATCH = 100
ABORT_AFTER_TRANSIENT = 3  # failed digests in a row before deciding the server is down


OUTBOX = 32  # composed digests waiting for the sender thread
SWITCH_INTERVAL = 0.0005  # seconds; see _Run.send


class RunAborted(RuntimeError):
    """The run cannot go on (login refused, server down); the message says why."""


@dataclass
class RunReport:
    """What a run did. `counts()` is the plain summary the worker and CLI print."""

    due: int = 0
    sent: int = 0
    empty: int = 0
    failed: int = 0
    bounced: int = 0
    paused: int = 0
    busy: int = 0  # claimed by another run that is still going
    # Time spent per stage; composing runs alongside sending, so they overlap.
    compose_seconds: float = 0.0
    send_seconds: float = 0.0
    ledger_seconds: float = 0.0
    aborted: str | None = None
    notes: list[str] = field(default_factory=list)
    previews: list[ComposedDigest] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "due": self.due,
            "sent": self.sent,
            "empty": self.empty,
            "failed": self.failed,
            "bounced": self.bounced,
            "paused": self.paused,
            "busy": self.busy,
        }


def send_due(settings: Settings, db: Database) -> dict[str, int]:
    """Send every daily and weekly digest due now (per the clock); idempotent."""
    report = send_digests(settings, db)
    if report.aborted:
        raise RunAborted(report.aborted)
    return report.counts()


def send_digests(
    settings: Settings,
    db: Database,
    *,
    frequencies: tuple[Frequency, ...] = FREQUENCIES,
    dry_run: bool = False,
    searcher: Searcher | None = None,
    progress: Callable[[int, int], None] | None = None,
    mailer: MessageSender | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RunReport:
    """Send (or with `dry_run`, only compose) the due digests of the given frequencies."""
    report = RunReport()
    searcher = searcher if searcher is not None else engine_searcher(settings, db)
    owned = mailer is None
    mailer = mailer or mailer_for(settings, db)
    try:
        for frequency in frequencies:
            period = due_period(settings, frequency)
            if period is None:
                report.notes.append(
                    f"{frequency}: not due before {settings.digest_send_hour:02d}:00 "
                    f"({settings.feed_timezone})"
                )
                continue
            run = _Run(settings, db, period, report, searcher, mailer, sleep, progress)
            if dry_run:
                run.dry_run()
            else:
                run.send()
            if report.aborted:
                break
    finally:
        if owned:
            mailer.close()
    return report


def due_period(settings: Settings, frequency: Frequency) -> DigestPeriod | None:
    """This frequency's current period, once the local send hour has come."""
    now = clock.now()
    if now.astimezone(settings.tz).hour < settings.digest_send_hour:
        return None
    return current_period(frequency, now, settings.tz)


def engine_searcher(settings: Settings, db: Database, runtime: Any = None) -> Searcher:
    """Saved searches through the search page's engine (index and model loaded on first
    use; a web process passes its own `SearchRuntime`)."""
    from paperfeed.search.engine import SearchRequest, search
    from paperfeed.search.runtime import SearchRuntime

    runtime = runtime or SearchRuntime(settings, db)
    warned: list[bool] = []

    def run(query: str, filters: Filters) -> list[int]:
        index = runtime.index()
        if index is None:
            if not warned:
                log.warning("no search index: topic sections are left out (run paperfeed index)")
                warned.append(True)
            return []
        request = SearchRequest(q=query, filters=filters, per_page=SEARCH_CANDIDATES)
        with db.reader() as session:
            result = search(session, index, runtime.embeddings(), request)
        return [hit.paper.id for hit in result.hits]

    return run


def due_subscriptions(period: DigestPeriod, max_attempts: int) -> list[ColumnElement[bool]]:
    """Active subscriptions of this frequency without a finished digest for the period."""
    finished = exists().where(
        and_(
            DigestDelivery.subscription_id == Subscription.id,
            DigestDelivery.period == period.key,
            or_(
                DigestDelivery.status.in_(ledger.FINAL),
                and_(DigestDelivery.status == "failed", DigestDelivery.attempts >= max_attempts),
            ),
        )
    )
    conditions = [
        Subscription.status == "active",
        Subscription.frequency == period.frequency,
        ~finished,
    ]
    if period.frequency == "daily" and is_weekend(period.day):
        conditions.append(Subscription.skip_weekends.is_(False))
    return conditions


@dataclass
class _Outgoing:
    claim: ledger.Claim
    message: EmailMessage
    message_id: str
    paper_count: int
    had_bounces: bool


class _Run:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        period: DigestPeriod,
        report: RunReport,
        searcher: Searcher | None,
        mailer: MessageSender,
        sleep: Callable[[float], None],
        progress: Callable[[int, int], None] | None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.period = period
        self.report = report
        self.searcher = searcher
        self.mailer = mailer
        self.sleep = sleep
        self.progress = progress
        self.holder = ledger.new_holder()
        self.transient_in_a_row = 0
        self._sender_error: BaseException | None = None

    def _batches(self) -> Iterator[list[Subscription]]:
        conditions = due_subscriptions(self.period, self.settings.digest_max_attempts)
        last_id = 0
        while True:
            with self.db.reader() as session:
                batch = list(
                    session.execute(
                        select(Subscription)
                        .where(*conditions, Subscription.id > last_id)
                        .order_by(Subscription.id)
                        .limit(BATCH)
                    ).scalars()
                )
            if not batch:
                return
            last_id = batch[-1].id
            yield batch

    def _total(self) -> int:
        with self.db.reader() as session:
            return session.execute(
                select(func.count())
                .select_from(Subscription)
                .where(*due_subscriptions(self.period, self.settings.digest_max_attempts))
            ).scalar_one()

    def send(self) -> None:
        """Compose in this thread while a sender thread talks SMTP and marks the ledger:
        the two overlap (one waits on the server, the other works), and each message is
        still marked sent right after the server accepted it."""
        total = self._total()
        self.report.due += total
        outbox: queue.Queue[_Outgoing | None] = queue.Queue(maxsize=OUTBOX)
        sender = threading.Thread(target=self._sender, args=(outbox,), name="digest-sender")
        # Each SMTP reply wakes the sender thread, which then waits for the composing thread
        # to let go of the GIL (5 ms by default, four replies per message): switch sooner.
        interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        sender.start()
        done = 0
        try:
            with self.db.reader() as reader:
                source = ContentSource(self.settings, reader, self.searcher)
                for batch in self._batches():
                    started = time.perf_counter()
                    with self.db.transaction() as session:
                        claims = ledger.claim(
                            session,
                            batch,
                            self.period,
                            self.holder,
                            self.settings.digest_claim_seconds,
                            self.settings.digest_max_attempts,
                        )
                    self.report.ledger_seconds += time.perf_counter() - started
                    self.report.busy += _busy(self.db, batch, self.period, claims)
                    by_id = {s.id: s for s in batch}
                    topics, follows = _extras(reader, batch)
                    for position, item in enumerate(claims):
                        if self.report.aborted or self._sender_error:
                            self._release(claims[position:])
                            return
                        subscription = by_id[item.subscription_id]
                        outgoing = self._compose(source, subscription, item, topics, follows)
                        if outgoing is not None:
                            outbox.put(outgoing)
                    done += len(batch)
                    if self.progress:
                        self.progress(min(done, total), total)
        finally:
            outbox.put(None)
            sender.join()
            sys.setswitchinterval(interval)
            if self._sender_error is not None:
                raise self._sender_error

    def _compose(
        self,
        source: ContentSource,
        subscription: Subscription,
        item: ledger.Claim,
        topics: dict[int, list[SavedSearch]],
        follows: dict[int | None, list[tuple[str, str]]],
    ) -> _Outgoing | None:
        started = time.perf_counter()
        content = source.for_subscription(
            subscription,
            topics.get(subscription.id, []),
            follows.get(subscription.user_id, []),
            item.window_start,
            item.window_end,
        )
        if content.empty:
            self.report.compose_seconds += time.perf_counter() - started
            marked = time.perf_counter()
            with self.db.transaction() as session:
                ledger.mark_empty(session, item)
            self.report.ledger_seconds += time.perf_counter() - marked
            self.report.empty += 1
            return None
        digest = compose(self.settings, subscription, self.period, content)
        message = to_message(self.settings, digest)
        self.report.compose_seconds += time.perf_counter() - started
        return _Outgoing(
            item, message, digest.message_id, content.paper_count, subscription.bounce_count > 0
        )

    def _sender(self, outbox: queue.Queue[_Outgoing | None]) -> None:
        try:
            while (outgoing := outbox.get()) is not None:
                if self.report.aborted:
                    self._release([outgoing.claim])
                    continue
                self._send_one(outgoing)
        except BaseException as exc:  # handed to the composing thread, which re-raises it
            self._sender_error = exc
            while outbox.get() is not None:  # unblock the composer until it stops
                pass

    def _send_one(self, outgoing: _Outgoing) -> None:
        started = time.perf_counter()
        outcome, error = self._deliver(outgoing.message)
        marked = time.perf_counter()
        self.report.send_seconds += marked - started
        item = outgoing.claim
        with self.db.transaction() as session:
            if outcome == "sent":
                ledger.mark_sent(
                    session,
                    item,
                    outgoing.message_id,
                    outgoing.paper_count,
                    had_bounces=outgoing.had_bounces,
                )
                self.report.sent += 1
            elif outcome == "bounced":
                self.report.bounced += 1
                if ledger.mark_bounced(session, item, error, self.settings.digest_bounce_limit):
                    self.report.paused += 1
            else:
                ledger.mark_failed(session, item, error, attempted=outcome != "aborted")
                if outcome == "failed":
                    self.report.failed += 1
        self.report.ledger_seconds += time.perf_counter() - marked

    def dry_run(self) -> None:
        """Compose what a run would send now, without claiming or sending anything."""
        total = self._total()
        self.report.due += total
        with self.db.reader() as reader:
            source = ContentSource(self.settings, reader, self.searcher)
            for batch in self._batches():
                topics, follows = _extras(reader, batch)
                previous = _previous_ends(reader, batch, self.period)
                for subscription in batch:
                    start = self.period.window_start(
                        previous.get(subscription.id), subscription.skip_weekends
                    )
                    content = source.for_subscription(
                        subscription,
                        topics.get(subscription.id, []),
                        follows.get(subscription.user_id, []),
                        start,
                        self.period.window_end,
                    )
                    if content.empty:
                        self.report.empty += 1
                        continue
                    digest = compose(self.settings, subscription, self.period, content)
                    self.report.sent += 1
                    if len(self.report.previews) < 20:
                        self.report.previews.append(digest)

    def _deliver(self, message: EmailMessage) -> tuple[str, str]:
        """Send with retries; ("sent" | "bounced" | "failed" | "aborted", error)."""
        retries = self.settings.digest_retries
        for attempt in range(retries + 1):
            try:
                self.mailer.send_message(message)
                self.transient_in_a_row = 0
                return "sent", ""
            except MailError as exc:
                kind = classify(exc.__cause__)
                if kind == "permanent":
                    self.transient_in_a_row = 0
                    return "bounced", str(exc)
                if kind == "fatal":
                    self.report.aborted = str(exc)
                    return "aborted", str(exc)
                if attempt < retries:
                    delay = self.settings.digest_retry_backoff * 2**attempt
                    log.warning("%s; trying again in %.1f s", exc, delay)
                    self.sleep(delay)
                    continue
                self.transient_in_a_row += 1
                if self.transient_in_a_row >= ABORT_AFTER_TRANSIENT:
                    self.report.aborted = (
                        f"{exc} ({self.transient_in_a_row} digests in a row failed; the rest "
                        "wait for the next run)"
                    )
                return "failed", str(exc)
        raise AssertionError("unreachable")

    def _release(self, claims: list[ledger.Claim]) -> None:
        with self.db.transaction() as session:
            for item in claims:
                ledger.mark_failed(
                    session, item, f"not attempted: {self.report.aborted}", attempted=False
                )


def _extras(
    session: Session, batch: list[Subscription]
) -> tuple[dict[int, list[SavedSearch]], dict[int | None, list[tuple[str, str]]]]:
    """The batch's topics and its accounts' follows, in two queries."""
    topics: dict[int, list[SavedSearch]] = defaultdict(list)
    for saved in session.execute(
        select(SavedSearch)
        .where(SavedSearch.subscription_id.in_([s.id for s in batch]))
        .order_by(SavedSearch.id)
    ).scalars():
        assert saved.subscription_id is not None
        topics[saved.subscription_id].append(saved)
    follows: dict[int | None, list[tuple[str, str]]] = {}
    for user_id in {s.user_id for s in batch if s.user_id is not None}:
        follows[user_id] = follows_of(session, user_id)
    return topics, follows


def _previous_ends(
    session: Session, batch: list[Subscription], period: DigestPeriod
) -> dict[int, datetime | None]:
    """Where each subscriber's last digest ended (as `ledger.claim` computes it)."""
    return dict(
        session.execute(
            select(DigestDelivery.subscription_id, func.max(DigestDelivery.window_end))
            .where(
                DigestDelivery.subscription_id.in_([s.id for s in batch]),
                DigestDelivery.status.in_(ledger.DONE),
                DigestDelivery.period != period.key,
                DigestDelivery.window_end <= period.window_end,
            )
            .group_by(DigestDelivery.subscription_id)
        ).all()
    )


def _busy(
    db: Database, batch: list[Subscription], period: DigestPeriod, claims: list[ledger.Claim]
) -> int:
    """How many of the batch another live run holds (so the report can say so)."""
    claimed = {c.subscription_id for c in claims}
    rest = [s.id for s in batch if s.id not in claimed]
    if not rest:
        return 0
    with db.reader() as session:
        return session.execute(
            select(func.count())
            .select_from(DigestDelivery)
            .where(
                DigestDelivery.subscription_id.in_(rest),
                DigestDelivery.period == period.key,
                DigestDelivery.status == "claimed",
            )
        ).scalar_one()


__all__ = ["RunAborted", "RunReport", "send_digests", "send_due"]
