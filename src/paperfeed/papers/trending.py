"""The trending score: transparent, documented, the same on the page and in the API.

    score = 100 * (upvotes + 2 * comments) / (hours_since_feed + 2) ** gravity

`upvotes` is the displayed count (imported baseline + votes cast here), `comments` the
visible comments, `hours_since_feed` the time since the paper entered the feed, and
`gravity` 1.5 by default (`PAPERFEED_TRENDING_GRAVITY`). Only papers that entered the feed
in the last 14 days (`PAPERFEED_TRENDING_WINDOW_DAYS`) compete. A quiet site with nothing
in the window shows trending as of its latest feed day, and says so. A topic (an arXiv
category or archive) ranks only its own papers, by the same formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paperfeed.models import Paper, PaperCategory
from paperfeed.papers.topics import Topic

COMMENT_WEIGHT = 2
AGE_OFFSET_HOURS = 2


def trending_score(upvotes: int, comments: int, hours: float, gravity: float = 1.5) -> float:
    hours = max(hours, 0.0)
    return 100 * (upvotes + COMMENT_WEIGHT * comments) / (hours + AGE_OFFSET_HOURS) ** gravity


@dataclass
class Trending:
    papers: list[Paper]
    scores: dict[int, float]
    as_of: datetime
    total: int
    stale: bool  # True when the window was empty and we fell back to the latest activity


def trending(
    session: Session,
    now: datetime,
    window_days: int = 14,
    gravity: float = 1.5,
    limit: int = 50,
    offset: int = 0,
    topic: Topic | None = None,
) -> Trending:
    as_of, stale = now, False
    rows = _window(session, now, window_days, topic)
    if not rows:
        if topic is not None:
            latest = topic.instant(session, True, PaperCategory.feed_at <= now)
        else:
            latest = session.execute(
                select(func.max(Paper.feed_at)).where(
                    Paper.feed_at <= now, Paper.hidden_at.is_(None)
                )
            ).scalar_one()
        if latest is not None:
            as_of, stale = _aware(latest) + timedelta(hours=1), True
            rows = _window(session, as_of, window_days, topic)
    scored = sorted(
        (
            (
                trending_score(up, comments, (as_of - _aware(at)).total_seconds() / 3600, gravity),
                pid,
            )
            for pid, up, comments, at in rows
        ),
        key=lambda pair: (-pair[0], -pair[1]),
    )
    page = scored[offset : offset + limit]
    ids = [pid for _, pid in page]
    by_id = {p.id: p for p in session.execute(select(Paper).where(Paper.id.in_(ids))).scalars()}
    return Trending(
        papers=[by_id[pid] for pid in ids],
        scores={pid: score for score, pid in page},
        as_of=as_of,
        total=len(scored),
        stale=stale,
    )


def _window(
    session: Session, now: datetime, days: int, topic: Topic | None = None
) -> list[tuple[int, int, int, datetime]]:
    since = now - timedelta(days=days)
    query = select(Paper.id, Paper.upvotes, Paper.comment_count, Paper.feed_at).where(
        Paper.feed_at > since, Paper.feed_at <= now, Paper.hidden_at.is_(None)
    )
    if topic is not None:
        ids = topic.paper_ids(PaperCategory.feed_at > since, PaperCategory.feed_at <= now)
        query = query.where(Paper.id.in_(ids))
    rows = session.execute(query).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]  # tuple() loses the Row's types; no NULL feed_at by the WHERE


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
