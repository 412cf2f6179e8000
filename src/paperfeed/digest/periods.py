"""Which digest is due: a period key per frequency and the papers' time window.

A daily digest for local day D (in the feed's time zone) covers papers that entered the
feed before D's midnight; by default none is sent on Saturday or Sunday (like Hugging
Face), so Monday's covers Friday to Sunday. A weekly digest for ISO week W covers papers
up to W's Monday midnight and is sent on the first run in that week. The window's start is
where the subscriber's previous digest ended, so each paper is new to them once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from paperfeed.papers.feeds import local_midnight

Frequency = Literal["daily", "weekly"]
FREQUENCIES: tuple[Frequency, ...] = ("daily", "weekly")
# A subscriber back after a long pause gets recent papers, not months of them.
MAX_LOOKBACK = {"daily": timedelta(days=7), "weekly": timedelta(days=28)}


@dataclass(frozen=True)
class DigestPeriod:
    frequency: Frequency
    key: str  # daily:2026-11-20 or weekly:2026-W47, the ledger's period column
    day: date  # the local day the digest belongs to (its Monday, for weekly)
    window_end: datetime  # UTC; papers that entered the feed before this instant

    def first_window_start(self, skip_weekends: bool) -> datetime:
        """Where a subscriber's first digest starts: one day back (three on a Monday
        when weekends are skipped) or one week."""
        if self.frequency == "weekly":
            return self.window_end - timedelta(days=7)
        back = 3 if skip_weekends and self.day.weekday() == 0 else 1
        return self.window_end - timedelta(days=back)

    def window_start(self, previous_end: datetime | None, skip_weekends: bool) -> datetime:
        earliest = self.window_end - MAX_LOOKBACK[self.frequency]
        if previous_end is None:
            return max(self.first_window_start(skip_weekends), earliest)
        return min(max(previous_end, earliest), self.window_end)

    @property
    def label(self) -> str:
        if self.frequency == "weekly":
            year, week, _ = self.day.isocalendar()
            return f"week {week}, {year}"
        return self.day.strftime("%A, %B %-d, %Y")


def current_period(frequency: Frequency, now: datetime, tz: ZoneInfo) -> DigestPeriod:
    """The period that is due at `now` (whether a given subscriber gets it is another matter)."""
    today = now.astimezone(tz).date()
    if frequency == "weekly":
        monday = today - timedelta(days=today.weekday())
        year, week, _ = monday.isocalendar()
        return DigestPeriod(
            "weekly", f"weekly:{year}-W{week:02d}", monday, local_midnight(monday, tz)
        )
    return DigestPeriod("daily", f"daily:{today.isoformat()}", today, local_midnight(today, tz))


def is_weekend(day: date) -> bool:
    return day.weekday() >= 5
