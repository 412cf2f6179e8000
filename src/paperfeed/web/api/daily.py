"""`GET /api/daily_papers`: the feed, as `huggingface_hub`'s `list_daily_papers` asks for it.

Parameters as HF's: `p` (page from 0), `limit` (1-100), one of `date`/`week`/`month`,
`submitter`, `sort`. Without a period the list runs over every day, newest first. Sorts:
`publishedAt` (when the paper entered the feed, newest first: HF's default), `trending` (the
site's score: without filters exactly the trending page's ranking; within a period, the
score as of the period's end), and `upvotes` (the site's day-page order, a paperfeed
extension).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.models import Paper, User
from paperfeed.papers import feeds
from paperfeed.papers.related import load_related
from paperfeed.papers.topics import TopicFilter, category_filter
from paperfeed.papers.trending import Formula, trending
from paperfeed.web.api.common import cached_json
from paperfeed.web.api.schemas import DailyEntryOut, errors
from paperfeed.web.api.serializers import Json, daily_entry_json
from paperfeed.web.deps import ReaderDep, SettingsDep

router = APIRouter()
MAX_PAGE = 1000  # p x limit stays under 100k rows; /api/papers walks the whole archive
DailySort = Literal["publishedAt", "trending", "upvotes"]
CATEGORY_HELP = (
    "Only papers in any of these arXiv categories (cs.CL) or archives (cs, hep-ph); "
    "repeatable or comma-separated; aliases resolve (math.IT is cs.IT)"
)


def _period(
    tz: ZoneInfo, date: str | None, week: str | None, month: str | None
) -> feeds.Period | None:
    given = (("date", date), ("week", week), ("month", month))
    chosen = [(kind, value) for kind, value in given if value is not None]
    if len(chosen) > 1:
        raise HTTPException(400, "Give at most one of date, week and month.")
    if not chosen:
        return None
    kind, value = chosen[0]
    try:
        period = feeds.parse_period(kind, value.strip())
        period.utc_range(tz)  # the calendar's last days have no following midnight
    except feeds.PeriodError as exc:
        raise HTTPException(400, f"Bad {kind}: {exc}") from None
    except OverflowError:
        raise HTTPException(400, f"Bad {kind}: {value[:20]!r} is out of range.") from None
    return period


def _submitter_id(session: Session, name: str | None) -> int | None:
    if name is None:
        return None
    user_id = session.execute(
        select(User.id).where(func.lower(User.username) == name.strip().lower())
    ).scalar_one_or_none()
    return user_id if user_id is not None else -1  # an unknown submitter has no papers


def select_papers(
    session: Session,
    settings: Settings,
    now: datetime,
    period: feeds.Period | None,
    submitter_id: int | None,
    sort: str,
    limit: int,
    offset: int,
    topics: TopicFilter | None = None,
) -> tuple[list[Paper], dict[int, float] | None]:
    """One page of the feed (of any of `topics`), and the trending scores when sorted by
    them."""
    if sort == "trending" and period is None and submitter_id is None:
        result = trending(session, now, Formula.from_settings(settings), limit, offset, topics)
        return result.papers, result.scores
    conditions = [Paper.hidden_at.is_(None), Paper.feed_at.is_not(None), Paper.feed_at <= now]
    as_of = now
    if period is not None:
        start, end = period.utc_range(settings.tz)
        conditions += [Paper.feed_at >= start, Paper.feed_at < end]
        as_of = min(now, end)
    if submitter_id is not None:
        conditions.append(Paper.submitted_by_id == submitter_id)
    if topics is not None:  # an EXISTS-style semi-join on paper_categories' indexes
        conditions.append(Paper.id.in_(topics.paper_ids()))
    if sort == "trending":
        return _scored(session, settings, conditions, as_of, period is None, limit, offset)
    order = (
        (Paper.upvotes.desc(), Paper.feed_at.desc(), Paper.id.desc())
        if sort == "upvotes"
        else (Paper.feed_at.desc(), Paper.id.desc())
    )
    page_ids = select(Paper.id).where(*conditions).order_by(*order).limit(limit).offset(offset)
    papers = session.execute(select(Paper).where(Paper.id.in_(page_ids)).order_by(*order))
    return list(papers.scalars()), None


def _scored(
    session: Session,
    settings: Settings,
    conditions: list[ColumnElement[bool]],
    as_of: datetime,
    in_window: bool,
    limit: int,
    offset: int,
) -> tuple[list[Paper], dict[int, float]]:
    """Trending order over a filtered set, with the site's formula."""
    if in_window:
        window = timedelta(days=settings.trending_window_days)
        conditions = [*conditions, Paper.feed_at > as_of - window]
    rows = session.execute(
        select(Paper.id, Paper.upvotes, Paper.comment_count, Paper.feed_at).where(*conditions)
    ).all()
    scored = Formula.from_settings(settings).rank(session, rows, as_of)[offset : offset + limit]
    by_id = {
        p.id: p
        for p in session.execute(
            select(Paper).where(Paper.id.in_([pid for _, pid in scored]))
        ).scalars()
    }
    return [by_id[pid] for _, pid in scored], {pid: score for score, pid in scored}


@router.get(
    "/daily_papers",
    summary="Daily papers (HF's list_daily_papers)",
    response_model=list[DailyEntryOut],
    responses=errors(304, 400),
)
def daily_papers(
    request: Request,
    session: ReaderDep,
    settings: SettingsDep,
    p: Annotated[int, Query(ge=0, le=MAX_PAGE, description="Page number, from 0")] = 0,
    limit: Annotated[int, Query(ge=1, le=100, description="Papers per page")] = 50,
    date: Annotated[str | None, Query(max_length=40, description="A day: YYYY-MM-DD")] = None,
    week: Annotated[str | None, Query(max_length=40, description="An ISO week: YYYY-Www")] = None,
    month: Annotated[str | None, Query(max_length=40, description="A month: YYYY-MM")] = None,
    submitter: Annotated[
        str | None, Query(max_length=40, description="Only papers this username submitted")
    ] = None,
    sort: Annotated[
        DailySort,
        Query(description="publishedAt (newest first), trending, or upvotes"),
    ] = "publishedAt",
    category: Annotated[list[str] | None, Query(max_length=200, description=CATEGORY_HELP)] = None,
) -> Response:
    period = _period(settings.tz, date, week, month)
    topics = category_filter(category or [])
    now = clock.now()

    def build() -> list[Json]:
        submitter_id = _submitter_id(session, submitter)
        papers, scores = select_papers(
            session, settings, now, period, submitter_id, sort, limit, p * limit, topics
        )
        related = load_related(
            session, papers, keywords=True, code=True, summaries=True, thumbnails=settings.site_url
        )
        return [
            daily_entry_json(paper, related, scores.get(paper.id) if scores else None)
            for paper in papers
        ]

    # Scores decay, and "the latest papers" move with the clock: validators change with both.
    extra = str(int(now.timestamp()) // 600) if sort == "trending" or period is None else ""
    return cached_json(request, session, build, extra)
