"""Rate limits in the database, so they hold across every process and web node.

Fixed windows: a counter row per (key, window start), incremented with one atomic upsert.
Old windows are swept now and then by the same writes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.models import RateLimitCounter


@dataclass(frozen=True)
class Limit:
    """At most `count` actions per `seconds`, per key (an IP address, a user)."""

    name: str
    count: int
    seconds: int


LOGIN = Limit("login", 10, 300)
SIGNUP = Limit("signup", 5, 3600)
RESET = Limit("reset", 5, 3600)
SUBMIT = Limit("submit", 30, 3600)


@dataclass
class Verdict:
    allowed: bool
    retry_after: int


def hit(session: Session, limit: Limit, key: str) -> Verdict:
    """Count one action; say whether it is allowed and, if not, when to retry."""
    now = clock.now()
    epoch = int(now.timestamp())
    start_epoch = epoch - epoch % limit.seconds
    window = datetime.fromtimestamp(start_epoch, UTC)
    full_key = f"{limit.name}:{key}"[:200]
    insert = _insert_for(session)
    statement = (
        insert(RateLimitCounter)
        .values(key=full_key, window_start=window, count=1)
        .on_conflict_do_update(
            index_elements=["key", "window_start"],
            set_={"count": RateLimitCounter.count + 1},
        )
        .returning(RateLimitCounter.count)
    )
    count = session.execute(statement).scalar_one()
    if random.random() < 0.01:
        session.execute(
            delete(RateLimitCounter).where(RateLimitCounter.window_start < now - timedelta(days=1))
        )
    if count > limit.count:
        retry = start_epoch + limit.seconds - now.timestamp()
        return Verdict(False, max(1, math.ceil(retry)))
    return Verdict(True, 0)


def _insert_for(session: Session):  # type: ignore[no-untyped-def]
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert
