"""Rate limits in the database, so they hold across every process and web node.

Fixed windows: a counter row per (key, window start), incremented with one atomic upsert.
Old windows are swept now and then by the same writes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.db import insert_on_conflict
from paperfeed.models import RateLimitCounter


@dataclass(frozen=True)
class Limit:
    """At most `count` actions per `seconds`, per key (an IP address, a user)."""

    name: str
    count: int
    seconds: int


# Log-in, in three counters (see web/routes/accounts.py): every attempt per address; failed
# attempts per account from browsers the account has not logged in from; every attempt
# per known browser (a signed `pf_device` cookie from an earlier log-in). Spreading guesses
# over many addresses still meets the per-account cap, while the owner's own browser keeps
# its separate allowance, so an attacker cannot lock the owner out.
LOGIN = Limit("login", 10, 300)
LOGIN_ACCOUNT = Limit("login-account", 20, 3600)
LOGIN_DEVICE = Limit("login-device", 10, 300)
PASSWORD_CHANGE = Limit("password-change", 10, 300)
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
    insert = insert_on_conflict(session)
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


def over(session: Session, limit: Limit, key: str) -> Verdict:
    """Whether `key` has used up its window, without counting an action (for limits that
    count only failures: check first, `hit` on failure)."""
    now = clock.now()
    epoch = int(now.timestamp())
    start_epoch = epoch - epoch % limit.seconds
    window = datetime.fromtimestamp(start_epoch, UTC)
    count = session.execute(
        select(RateLimitCounter.count).where(
            RateLimitCounter.key == f"{limit.name}:{key}"[:200],
            RateLimitCounter.window_start == window,
        )
    ).scalar_one_or_none()
    if count is not None and count >= limit.count:
        retry = start_epoch + limit.seconds - now.timestamp()
        return Verdict(False, max(1, math.ceil(retry)))
    return Verdict(True, 0)
