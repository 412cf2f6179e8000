"""The one source of "now", so tests can fix the date.

Trending decay, feed days, submission windows and digest periods all ask this module.
`PAPERFEED_CLOCK` (an ISO timestamp) pins the clock for a whole process, which is how the
browser tests run a live server on a known day.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_fixed: datetime | None = None


def parse_instant(text: str) -> datetime:
    """Parse an ISO timestamp; naive values are taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    if _fixed is not None:
        return _fixed
    pinned = os.environ.get("PAPERFEED_CLOCK")
    if pinned:
        return parse_instant(pinned).astimezone(UTC)
    return datetime.now(UTC)


def set_now(value: datetime | None) -> None:
    """Pin (or with None, release) the clock for this process."""
    global _fixed
    _fixed = value.astimezone(UTC) if value is not None else None


@contextmanager
def frozen(value: datetime) -> Iterator[None]:
    previous = _fixed
    set_now(value)
    try:
        yield
    finally:
        set_now(previous)
