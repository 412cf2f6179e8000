"""A month of feed days: how many papers each local day has, for the calendar page.

One grouped query per month, whatever the corpus size: the month's UTC range (a range scan
of the `feed_at` index) with each row put in its local day by comparing it to the day
boundaries, computed here in the feed's zone. Comparing with precomputed instants keeps the
query the same on SQLite and PostgreSQL (no time-zone functions in SQL) and exact across
daylight-saving changes, where a day is 23 or 25 hours long.
"""

from __future__ import annotations

import calendar as gregorian
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from paperfeed.models import Paper
from paperfeed.papers.feeds import Period, local_midnight, month_period


@dataclass(frozen=True)
class Month:
    """A month's days with papers, and its weeks as the grid shows them (Monday first)."""

    period: Period
    counts: dict[date, int]  # only days with at least one visible paper

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def weeks(self) -> list[list[date | None]]:
        """Rows of seven days, Monday to Sunday; None pads the first and last rows."""
        first = self.period.first
        grid = gregorian.Calendar(firstweekday=0).monthdayscalendar(first.year, first.month)
        return [[first.replace(day=d) if d else None for d in week] for week in grid]


def day_counts(session: Session, month: Period, tz: ZoneInfo) -> dict[date, int]:
    """Visible papers per local day of `month` (days without papers are left out)."""
    days = [month.first + timedelta(days=i) for i in range((month.last - month.first).days + 1)]
    ends = [local_midnight(day + timedelta(days=1), tz) for day in days]
    start = local_midnight(month.first, tz)
    # The index of the first day whose end is after the paper's instant: its local day.
    day_index = case(
        *((Paper.feed_at < end, i) for i, end in enumerate(ends[:-1])), else_=len(days) - 1
    )
    placed = (
        select(day_index.label("day"))
        .where(Paper.feed_at >= start, Paper.feed_at < ends[-1], Paper.hidden_at.is_(None))
        .subquery()
    )
    rows = session.execute(select(placed.c.day, func.count()).group_by(placed.c.day)).all()
    return {days[index]: count for index, count in rows}


def month_of(session: Session, day: date, tz: ZoneInfo) -> Month:
    """The month holding `day`, with its per-day paper counts."""
    period = month_period(day)
    return Month(period, day_counts(session, period, tz))
