"""Feeds of papers by day, ISO week and month, with day boundaries in the feed's zone.

A period is a half-open range of local dates turned into a UTC range, so every query is a
range scan of the `feed_at` index: a page costs the same on 10k papers as on 2.6M.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from paperfeed.errors import UserError
from paperfeed.models import Organization, Paper, PaperCategory, User
from paperfeed.papers.code_links import PaperCode
from paperfeed.papers.related import CategoryTag, load_related
from paperfeed.papers.thumbnails import Thumbnail
from paperfeed.papers.topics import Topic

Kind = Literal["date", "week", "month"]
Sort = Literal["upvotes", "newest"]
SORTS: tuple[Sort, ...] = ("upvotes", "newest")
CARD_AUTHORS = 4


class PeriodError(UserError):
    """A malformed period in a URL; the message tells the right form."""


@dataclass(frozen=True)
class Period:
    kind: Kind
    first: date  # first local day in the period
    last: date  # last local day in the period (inclusive)
    base: str = "/papers"  # the feed it belongs to: the whole site's, or a topic's

    def under(self, base: str) -> Period:
        """The same period of another feed (`/papers/category/cs.CL`)."""
        return replace(self, base=base)

    @property
    def key(self) -> str:
        if self.kind == "date":
            return self.first.isoformat()
        if self.kind == "week":
            year, week, _ = self.first.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.first.year}-{self.first.month:02d}"

    @property
    def path(self) -> str:
        return f"{self.base}/{self.kind}/{self.key}"

    @property
    def label(self) -> str:
        if self.kind == "date":
            return self.first.strftime("%A, %B %-d, %Y")
        if self.kind == "week":
            year, week, _ = self.first.isocalendar()
            return (
                f"Week {week}, {year} "
                f"({self.first.strftime('%b %-d')} – {self.last.strftime('%b %-d')})"
            )
        return self.first.strftime("%B %Y")

    def utc_range(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        return local_midnight(self.first, tz), local_midnight(self.last + timedelta(days=1), tz)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def day_period(day: date) -> Period:
    return Period("date", day, day)


def week_period(day: date) -> Period:
    monday = day - timedelta(days=day.weekday())
    return Period("week", monday, monday + timedelta(days=6))


def month_period(day: date) -> Period:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period("month", first, following - timedelta(days=1))


def period_containing(kind: Kind, day: date) -> Period:
    return {"date": day_period, "week": week_period, "month": month_period}[kind](day)


MIN_YEAR, MAX_YEAR = 1000, 9998


def parse_period(kind: str, text: str) -> Period:
    """Parse `2024-05-17`, `2024-W20` or `2024-05`; raise PeriodError with the right form."""
    forms = {"date": "YYYY-MM-DD", "week": "YYYY-Www (an ISO week)", "month": "YYYY-MM"}
    if kind not in forms:  # `/papers/category/cs.CL/day/...`: say so, not that `...` is odd
        raise PeriodError(f"Unknown view “{kind[:20]}”: use date, week or month.")
    # ASCII digits only: str.isdigit() is also true of ²³ (int() refuses) and of other
    # scripts' digits (one address per period, in the digits its links use).
    year = int(text[:4]) if text[:4].isascii() and text[:4].isdigit() else MIN_YEAR
    if not MIN_YEAR <= year <= MAX_YEAR:  # the neighbours' links must stay valid dates
        raise PeriodError(
            f"{text!r} is out of range. Please use a year from {MIN_YEAR} to {MAX_YEAR}."
        )
    try:
        if kind == "date":
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text, re.ASCII):
                raise ValueError
            return day_period(date.fromisoformat(text))
        if kind == "week":
            match = re.fullmatch(r"(\d{4})-W(\d{2})", text, re.ASCII)
            if not match:
                raise ValueError
            return week_period(date.fromisocalendar(int(match[1]), int(match[2]), 1))
        if kind == "month":
            match = re.fullmatch(r"(\d{4})-(\d{2})", text, re.ASCII)
            if not match:
                raise ValueError
            return month_period(date(int(match[1]), int(match[2]), 1))
    except ValueError:
        pass
    raise PeriodError(f"{text!r} is not a valid {kind}: use {forms[kind]}")


# --- queries ---------------------------------------------------------------------------


def visible() -> Select[Paper]:
    return select(Paper).where(Paper.hidden_at.is_(None))


def papers_in_period(
    session: Session,
    period: Period,
    tz: ZoneInfo,
    sort: Sort = "upvotes",
    limit: int = 50,
    offset: int = 0,
    topic: Topic | None = None,
) -> tuple[list[Paper], int]:
    """One page of a period's papers (of a topic), plus how many the period has in all."""
    start, end = period.utc_range(tz)
    in_range: tuple[ColumnElement[bool], ...] = (
        Paper.feed_at >= start,
        Paper.feed_at < end,
        Paper.hidden_at.is_(None),
    )
    if topic is not None:  # a range of the topic's index, not of the whole feed
        ids = topic.paper_ids(PaperCategory.feed_at >= start, PaperCategory.feed_at < end)
        in_range = (Paper.id.in_(ids), Paper.hidden_at.is_(None))
    order = (
        (Paper.upvotes.desc(), Paper.feed_at.desc(), Paper.id.desc())
        if sort == "upvotes"
        else (Paper.feed_at.desc(), Paper.id.desc())
    )
    # Pick the page's ids from the index first, then load only those rows.
    page_ids = select(Paper.id).where(*in_range).order_by(*order).limit(limit).offset(offset)
    papers = list(
        session.execute(select(Paper).where(Paper.id.in_(page_ids)).order_by(*order))
        .scalars()
        .all()
    )
    total = session.execute(select(func.count()).select_from(Paper).where(*in_range)).scalar_one()
    return papers, total


def latest_feed_day(
    session: Session, tz: ZoneInfo, now: datetime, topic: Topic | None = None
) -> date | None:
    """The most recent local day (not in the future) that has a paper (of the topic)."""
    if topic is not None:
        latest = topic.instant(session, True, PaperCategory.feed_at <= now)
    else:
        latest = session.execute(
            select(func.max(Paper.feed_at)).where(Paper.feed_at <= now, Paper.hidden_at.is_(None))
        ).scalar_one()
    if latest is None:
        return None
    return _aware(latest).astimezone(tz).date()


def neighbours(
    session: Session, period: Period, tz: ZoneInfo, topic: Topic | None = None
) -> tuple[Period | None, Period | None]:
    """The nearest earlier and later periods of the same kind that have papers (of the
    topic), in the same feed as `period`."""
    start, end = period.utc_range(tz)
    if topic is not None:
        before = topic.instant(session, True, PaperCategory.feed_at < start)
        after = topic.instant(session, False, PaperCategory.feed_at >= end)
    else:
        before = session.execute(
            select(Paper.feed_at)
            .where(Paper.feed_at < start, Paper.hidden_at.is_(None))
            .order_by(Paper.feed_at.desc())
            .limit(1)
        ).scalar_one_or_none()
        after = session.execute(
            select(Paper.feed_at)
            .where(Paper.feed_at >= end, Paper.hidden_at.is_(None))
            .order_by(Paper.feed_at)
            .limit(1)
        ).scalar_one_or_none()

    def around(instant: datetime | None) -> Period | None:
        if instant is None:
            return None
        day = _aware(instant).astimezone(tz).date()
        return period_containing(period.kind, day).under(period.base)

    return around(before), around(after)


@dataclass
class CardExtras:
    """What a card shows beyond the paper row: first authors, organization, submitter,
    categories."""

    authors: dict[int, list[str]]
    organizations: dict[int, Organization]
    submitters: dict[int, User]  # by id, with the accounts that claimed a shown author
    categories: dict[int, list[CategoryTag]]
    keywords: dict[int, list[str]] = field(default_factory=dict)  # best first
    code: dict[int, PaperCode] = field(default_factory=dict)  # the primary link, with stars
    thumbnails: dict[int, Thumbnail] = field(default_factory=dict)  # first pages rendered


def card_extras(session: Session, papers: list[Paper]) -> CardExtras:
    """What the cards need, in seven small queries (never one per card)."""
    related = load_related(
        session,
        papers,
        first_authors=CARD_AUTHORS,
        categories=True,
        keywords=True,
        code=True,
        thumbnails="",  # linked from the page itself
    )
    return CardExtras(
        related.author_names(),
        related.organizations,
        related.users,
        related.categories,
        related.keywords,
        related.code,
        related.thumbnails,
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
