"""The delivery ledger: claim each (subscription, period) before sending, mark it after.

A claim is a `digest_deliveries` row in state `claimed`, inserted with ON CONFLICT DO
NOTHING, so two runs never both claim a digest. The row is marked `sent` right after the
SMTP server accepts the message, in its own transaction. If a run dies in between, its
claims are taken over by the next run: at once when the holder was a process on this
host that no longer exists, otherwise once `claimed_until` has passed. So the only
message that can go out twice is one accepted by the server just before the crash, and
it goes out with the same Message-ID (see compose.py).

States: claimed -> sent | empty (nothing new: not sent) | failed (transient, retried by a
later run, up to `max_attempts`) | bounced (permanent 5xx, never retried).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.db import insert_on_conflict, rows_matched
from paperfeed.digest.periods import DigestPeriod
from paperfeed.models import DigestDelivery, Subscription

FINAL = ("sent", "empty", "bounced")
DONE = ("sent", "empty")  # a digest the subscriber has had: the next window starts here


def new_holder() -> str:
    """Who claims: host and process (for the liveness check) plus a run id."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(holder: str | None) -> bool:
    """True only for a holder process on this host that has gone (a crashed run)."""
    if not holder:
        return True
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    subscription_id: int
    period: str
    window_start: datetime
    window_end: datetime
    attempts: int


def claim(
    session: Session,
    subscriptions: list[Subscription],
    period: DigestPeriod,
    holder: str,
    ttl_seconds: int,
    max_attempts: int,
) -> list[Claim]:
    """Claim this period's digest for each subscription that still needs one."""
    if not subscriptions:
        return []
    now = clock.now()
    until = now + timedelta(seconds=ttl_seconds)
    ids = [s.id for s in subscriptions]
    existing = {
        row.subscription_id: row
        for row in session.execute(
            select(DigestDelivery).where(
                DigestDelivery.subscription_id.in_(ids), DigestDelivery.period == period.key
            )
        ).scalars()
    }
    previous_end = dict(
        session.execute(
            select(DigestDelivery.subscription_id, func.max(DigestDelivery.window_end))
            .where(
                DigestDelivery.subscription_id.in_(ids),
                DigestDelivery.status.in_(DONE),
                DigestDelivery.period != period.key,
                DigestDelivery.window_end <= period.window_end,
            )
            .group_by(DigestDelivery.subscription_id)
        ).all()
    )
    claims: list[Claim] = []
    fresh = [s for s in subscriptions if s.id not in existing]
    if fresh:
        values = [
            {
                "subscription_id": s.id,
                "period": period.key,
                "status": "claimed",
                "attempts": 1,
                "paper_count": 0,
                "window_start": period.window_start(previous_end.get(s.id), s.skip_weekends),
                "window_end": period.window_end,
                "claimed_by": holder,
                "claimed_until": until,
                "created_at": now,
            }
            for s in fresh
        ]
        statement = (
            insert_on_conflict(session)(DigestDelivery)
            .values(values)
            .on_conflict_do_nothing(index_elements=["subscription_id", "period"])
            .returning(
                DigestDelivery.id,
                DigestDelivery.subscription_id,
                DigestDelivery.window_start,
                DigestDelivery.window_end,
            )
        )
        for added in session.execute(statement):
            claims.append(Claim(added[0], added[1], period.key, added[2], added[3], 1))
    for row in existing.values():
        if row.status in FINAL:
            continue
        if row.status == "failed" and row.attempts >= max_attempts:
            continue
        if row.status == "claimed" and not (
            (row.claimed_until is not None and row.claimed_until < now)
            or holder_is_dead(row.claimed_by)
        ):
            continue  # another run is sending it right now
        taken = session.execute(
            update(DigestDelivery)
            .where(
                DigestDelivery.id == row.id,
                DigestDelivery.status == row.status,
                DigestDelivery.attempts == row.attempts,
            )
            .values(
                status="claimed",
                attempts=row.attempts + 1,
                claimed_by=holder,
                claimed_until=until,
            )
        )
        if rows_matched(taken) == 1:
            claims.append(
                Claim(
                    row.id,
                    row.subscription_id,
                    period.key,
                    row.window_start,
                    row.window_end,
                    row.attempts + 1,
                )
            )
    claims.sort(key=lambda c: c.subscription_id)
    return claims


def mark_sent(
    session: Session, claim: Claim, message_id: str, paper_count: int, had_bounces: bool = True
) -> None:
    session.execute(
        update(DigestDelivery)
        .where(DigestDelivery.id == claim.delivery_id)
        .values(
            status="sent",
            message_id=message_id,
            paper_count=paper_count,
            error=None,
            sent_at=clock.now(),
            claimed_by=None,
            claimed_until=None,
        )
    )
    if had_bounces:  # a delivery ends a run of bounces
        session.execute(
            update(Subscription)
            .where(Subscription.id == claim.subscription_id, Subscription.bounce_count > 0)
            .values(bounce_count=0)
        )


def mark_empty(session: Session, claim: Claim) -> None:
    session.execute(
        update(DigestDelivery)
        .where(DigestDelivery.id == claim.delivery_id)
        .values(status="empty", paper_count=0, claimed_by=None, claimed_until=None)
    )


def mark_failed(session: Session, claim: Claim, error: str, attempted: bool = True) -> None:
    """A transient failure: a later run tries again (an unattempted claim costs nothing)."""
    session.execute(
        update(DigestDelivery)
        .where(DigestDelivery.id == claim.delivery_id)
        .values(
            status="failed",
            error=error[:2000],
            attempts=claim.attempts if attempted else claim.attempts - 1,
            claimed_by=None,
            claimed_until=None,
        )
    )


def mark_bounced(session: Session, claim: Claim, error: str, pause_after: int) -> bool:
    """A permanent failure; after `pause_after` in a row the subscription is paused.
    Returns True if this bounce paused it."""
    session.execute(
        update(DigestDelivery)
        .where(DigestDelivery.id == claim.delivery_id)
        .values(status="bounced", error=error[:2000], claimed_by=None, claimed_until=None)
    )
    subscription = session.get(Subscription, claim.subscription_id, with_for_update=True)
    if subscription is None:
        return False
    subscription.bounce_count += 1
    if subscription.bounce_count >= pause_after and subscription.status == "active":
        subscription.status = "paused"
        subscription.paused_at = clock.now()
        return True
    return False
