"""The trending score: transparent, documented, the same on the page and in the API.

    score = 100 * (upvotes + 2 * comments [+ w * stars]) / (hours_since_feed + 2) ** gravity

`upvotes` is the displayed count (imported baseline + votes cast here), `comments` the
visible comments, `hours_since_feed` the time since the paper entered the feed, and
`gravity` 1.5 by default (`PAPERFEED_TRENDING_GRAVITY`). Only papers that entered the feed
in the last 14 days (`PAPERFEED_TRENDING_WINDOW_DAYS`) compete. A quiet site with nothing
in the window shows trending as of its latest feed day, and says so. A topic (an arXiv
category or archive) ranks only its own papers, by the same formula.

The star term is off unless `PAPERFEED_TRENDING_STAR_WEIGHT` (`w`) is above 0: `stars` is
what the paper's GitHub repository (its primary code link) gained in the last
`STAR_DAYS` days by the `github` job's star history, so a repository the community is
starring lifts its paper as votes do. Gains are counted from the last count on or before
the week's start, or from the first count inside it (a repository seen for the first time
gains nothing: its stars came before), never below 0. A repository that is the code link
of several papers (a library many papers use) shares its gain among them, so a paper does
not trend on a famous project's stars for naming it; a link set by hand to one is in the
moderation log, and moderators correct it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from paperfeed.config import Settings
from paperfeed.models import GithubStarCount, Paper, PaperCategory, PaperCodeLink
from paperfeed.papers.topics import Topic

COMMENT_WEIGHT = 2
AGE_OFFSET_HOURS = 2
STAR_DAYS = 7
CHUNK = 5000  # ids per IN list


def trending_score(
    upvotes: int,
    comments: int,
    hours: float,
    gravity: float = 1.5,
    stars: int = 0,
    star_weight: float = 0.0,
) -> float:
    hours = max(hours, 0.0)
    votes = upvotes + COMMENT_WEIGHT * comments + star_weight * max(stars, 0)
    return 100 * votes / (hours + AGE_OFFSET_HOURS) ** gravity


@dataclass(frozen=True)
class Formula:
    """The formula's settings, as the pages show them and every ranking applies them."""

    gravity: float = 1.5
    window_days: int = 14
    star_weight: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Formula:
        return cls(
            settings.trending_gravity,
            settings.trending_window_days,
            settings.trending_star_weight,
        )

    @property
    def stars(self) -> bool:
        return self.star_weight > 0

    def text(self) -> str:
        """The formula in words, for descriptions and feeds."""
        stars = (
            f" + {self.star_weight:g} × GitHub stars gained in the last {STAR_DAYS} days"
            if self.stars
            else ""
        )
        return (
            f"100 × (upvotes + {COMMENT_WEIGHT} × comments{stars}) / "
            f"(hours since entering the feed + {AGE_OFFSET_HOURS})^{self.gravity:g}"
        )

    def rank(
        self, session: Session, rows: Iterable[Sequence[Any]], as_of: datetime
    ) -> list[tuple[float, int]]:
        """(score, paper id) of `rows` of (id, upvotes, comments, feed_at), best first (ties:
        the newer id)."""
        rows = list(rows)
        gains = star_gains(session, [r[0] for r in rows], as_of) if self.stars else {}
        return sorted(
            (
                (
                    trending_score(
                        up,
                        comments,
                        (as_of - _aware(at)).total_seconds() / 3600,
                        self.gravity,
                        gains.get(pid, 0),
                        self.star_weight,
                    ),
                    pid,
                )
                for pid, up, comments, at in rows
            ),
            key=lambda pair: (-pair[0], -pair[1]),
        )


def star_gains(session: Session, paper_ids: list[int], as_of: datetime) -> dict[int, int]:
    """Stars each paper's primary GitHub repository gained in the `STAR_DAYS` days up to
    `as_of` (papers without one, or without a gain, are left out)."""
    end = _aware(as_of).date()
    start = end - timedelta(days=STAR_DAYS)
    repos: dict[str, list[int]] = {}
    for chunk in _chunks(paper_ids):
        for pid, repo in session.execute(
            select(PaperCodeLink.paper_id, PaperCodeLink.repo_key).where(
                PaperCodeLink.paper_id.in_(chunk),
                PaperCodeLink.kind == "github",
                PaperCodeLink.is_primary.is_(True),
            )
        ):
            repos.setdefault(repo, []).append(pid)
    gains: dict[int, int] = {}
    for chunk in _chunks(list(repos)):
        sharing: dict[str, int] = {  # papers (any, not only these) whose primary link it is
            repo: n
            for repo, n in session.execute(
                select(PaperCodeLink.repo_key, func.count())
                .where(
                    PaperCodeLink.repo_key.in_(chunk),
                    PaperCodeLink.kind == "github",
                    PaperCodeLink.is_primary.is_(True),
                )
                .group_by(PaperCodeLink.repo_key)
            )
        }
        last = _counts(session, chunk, func.max, GithubStarCount.day <= end)
        before = _counts(session, chunk, func.max, GithubStarCount.day <= start)
        first = _counts(
            session, chunk, func.min, GithubStarCount.day > start, GithubStarCount.day <= end
        )
        for repo, now in last.items():
            base = before.get(repo, first.get(repo))
            share = (now - base) // max(sharing.get(repo, 1), 1) if base is not None else 0
            if share > 0:
                for pid in repos[repo]:
                    gains[pid] = share
    return gains


def _counts(session: Session, repos: list[str], pick: Any, *where: Any) -> dict[str, int]:
    """Each repository's star count on the day `pick` (max or min) chooses within `where`."""
    day = (
        select(GithubStarCount.repo, pick(GithubStarCount.day).label("day"))
        .where(GithubStarCount.repo.in_(repos), *where)
        .group_by(GithubStarCount.repo)
        .subquery()
    )
    rows = session.execute(
        select(GithubStarCount.repo, GithubStarCount.stars).join(
            day, and_(GithubStarCount.repo == day.c.repo, GithubStarCount.day == day.c.day)
        )
    )
    return {repo: stars for repo, stars in rows}


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


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
    formula: Formula = Formula(),
    limit: int = 50,
    offset: int = 0,
    topic: Topic | None = None,
) -> Trending:
    as_of, stale = now, False
    window_days = formula.window_days
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
    scored = formula.rank(session, rows, as_of)
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
