"""What goes into one subscriber's digest: papers that entered the feed in their window.

Sections, in order: each followed topic (a saved search, ranked exactly as on the search
page), each author, organization and arXiv category (or whole archive) a linked account
follows, in the order followed, then trending. A paper shows up once, in its first
section. Most subscribers share a window and many share topics, so a `ContentSource`
answers each (question, window) once per run.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed.config import Settings
from paperfeed.latex import plain_text
from paperfeed.models import (
    Follow,
    Organization,
    Paper,
    PaperAuthor,
    PaperCategory,
    SavedSearch,
    Subscription,
)
from paperfeed.papers.authors import find_author
from paperfeed.papers.topics import Topic, TopicFilter, UnknownCategory, category_filter
from paperfeed.papers.trending import Formula
from paperfeed.plurals import plural
from paperfeed.search.lexical import Filters

TRENDING_PAPERS = 10
TOPIC_PAPERS = 5
ABSTRACT_CHARS = 300
CARD_AUTHORS = 5
# Search results are ranked over the whole archive; asking for papers published not long
# before the window keeps the new ones among the candidates (submissions may be older).
SEARCH_CANDIDATES = 200

# (query, filters) -> paper ids in rank order; the search page's engine, or None.
Searcher = Callable[[str, Filters], list[int]]


@dataclass(frozen=True)
class PaperView:
    """A paper as an email shows it: plain values, no database session needed."""

    id: int
    public_id: str
    title: str
    authors: tuple[str, ...]
    author_count: int
    organization: str | None
    upvotes: int
    comments: int
    abstract: str
    abstract_lines: str  # wrapped for the text part once per paper, not once per email

    @property
    def byline(self) -> str:
        """Authors as cards show them: "A, B and 3 more", or "5 authors" if only counted."""
        more = self.author_count - len(self.authors)
        if not self.authors:
            if not self.author_count:
                return ""
            return plural(self.author_count, "author")
        return ", ".join(self.authors) + (f" and {more} more" if more > 0 else "")

    @property
    def stats(self) -> str:
        text = f"▲ {plural(self.upvotes, 'upvote')}"
        if self.comments:
            text += f" · {plural(self.comments, 'comment')}"
        return text


@dataclass
class Section:
    title: str
    kind: str  # topic | author | organization | category | trending
    papers: list[PaperView]
    path: str  # where the site shows more of the same


@dataclass
class DigestContent:
    sections: list[Section] = field(default_factory=list)

    @property
    def paper_count(self) -> int:
        return sum(len(s.papers) for s in self.sections)

    @property
    def empty(self) -> bool:
        return self.paper_count == 0


def abstract_start(text: str, limit: int = ABSTRACT_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(" ,.;:") + "…"


class ContentSource:
    """Answers "which papers" for digests, caching per run (one session, read-only)."""

    def __init__(
        self, settings: Settings, session: Session, searcher: Searcher | None = None
    ) -> None:
        self.settings = settings
        self.session = session
        self.searcher = searcher
        self._ranked: dict[Any, list[int]] = {}
        self._views: dict[int, PaperView] = {}
        self._org_ids: dict[str, int | None] = {}

    # --- the questions ------------------------------------------------------------------

    def trending(self, start: datetime, end: datetime) -> list[int]:
        """Papers of the window by trending score as of the window's end."""
        key = ("trending", start, end)
        if key not in self._ranked:
            rows = self.session.execute(
                select(Paper.id, Paper.upvotes, Paper.comment_count, Paper.feed_at).where(
                    Paper.feed_at > start, Paper.feed_at <= end, Paper.hidden_at.is_(None)
                )
            ).all()
            formula = Formula.from_settings(self.settings)
            self._ranked[key] = [pid for _, pid in formula.rank(self.session, rows, end)]
        return self._ranked[key]

    def topic(
        self, query: str, filters: dict[str, Any] | None, start: datetime, end: datetime
    ) -> list[int]:
        """A saved search: the search page's ranking, kept to papers of the window."""
        filters = filters or {}
        key = ("topic", query, tuple(sorted(filters.items())), start, end)
        if key not in self._ranked:
            ranked = self._search(query, filters, start) if query else self._by_filters(filters)
            self._ranked[key] = self._in_window(ranked, start, end)
        return self._ranked[key]

    def _search(self, query: str, filters: dict[str, Any], start: datetime) -> list[int]:
        if self.searcher is None:
            return []
        org_id = self._org_id(filters.get("org"))
        if filters.get("org") and org_id is None:
            return []
        earliest = start - timedelta(days=self.settings.submission_window_days)
        search_filters = Filters(
            date_from=earliest.astimezone(self.settings.tz).date(),
            organization_id=org_id,
            author=filters.get("author"),
        )
        return self.searcher(query, search_filters)

    def _by_filters(self, filters: dict[str, Any]) -> list[int]:
        """Follow an author (under any of their names, papers/authors.py) or an
        organization: most upvoted first (the window trims it)."""
        statement = select(Paper.id).where(Paper.hidden_at.is_(None))
        if filters.get("author"):
            author = find_author(self.session, str(filters["author"]))
            if author is None:
                return []
            authored = select(PaperAuthor.paper_id).where(PaperAuthor.name.in_(author.names))
            statement = statement.where(Paper.id.in_(authored))
        if filters.get("org"):
            statement = statement.where(Paper.organization_id == self._org_id(filters["org"]))
        statement = statement.order_by(Paper.upvotes.desc(), Paper.id.desc())
        return list(self.session.execute(statement.limit(5000)).scalars())

    def category(self, code: str, start: datetime, end: datetime) -> list[int]:
        """A followed category or archive: the window's papers listed in it, as primary or
        cross-list, ranked as followed authors and organizations are (most upvoted first)."""
        key = ("category", code, start, end)
        if key not in self._ranked:
            topics = _followed_topic(code)
            if topics is None:
                self._ranked[key] = []
                return []
            # The category rows carry the paper's feed date: the window is a range scan of
            # the topic's index, not a pass over all its papers.
            listed = topics.paper_ids(PaperCategory.feed_at > start, PaperCategory.feed_at <= end)
            statement = (
                select(Paper.id)
                .where(
                    Paper.id.in_(listed),
                    Paper.feed_at > start,
                    Paper.feed_at <= end,
                    Paper.hidden_at.is_(None),
                )
                .order_by(Paper.upvotes.desc(), Paper.id.desc())
            )
            self._ranked[key] = list(self.session.execute(statement.limit(5000)).scalars())
        return self._ranked[key]

    def _in_window(self, ranked: list[int], start: datetime, end: datetime) -> list[int]:
        if not ranked:
            return []
        inside: set[int] = set()
        for chunk in _chunks(ranked, 500):
            inside.update(
                self.session.execute(
                    select(Paper.id).where(
                        Paper.id.in_(chunk),
                        Paper.feed_at > start,
                        Paper.feed_at <= end,
                        Paper.hidden_at.is_(None),
                    )
                ).scalars()
            )
        return [pid for pid in ranked if pid in inside]

    def _org_id(self, name: str | None) -> int | None:
        if not name:
            return None
        if name not in self._org_ids:
            self._org_ids[name] = self.session.execute(
                select(Organization.id).where(Organization.name == name)
            ).scalar_one_or_none()
        return self._org_ids[name]

    # --- one subscriber -----------------------------------------------------------------

    def for_subscription(
        self,
        subscription: Subscription,
        topics: Iterable[SavedSearch],
        follows: Iterable[tuple[str, str]],
        start: datetime,
        end: datetime,
    ) -> DigestContent:
        plan: list[tuple[str, str, str, list[int], int]] = []
        for saved in topics:
            ids = self.topic(saved.query, saved.filters, start, end)
            plan.append((saved.name, "topic", _topic_path(saved), ids, TOPIC_PAPERS))
        for kind, target in follows:
            if kind == "category":
                topic = _category_page(target)
                if topic is not None:
                    ids = self.category(target, start, end)
                    plan.append((topic.label, kind, topic.path, ids, TOPIC_PAPERS))
                continue
            filters = {"author": target} if kind == "author" else {"org": target}
            ids = self.topic("", filters, start, end)
            path = (
                f"/orgs/{quote(target)}"
                if kind == "organization"
                else "/papers?" + urlencode({"q": target})
            )
            label = f"Papers by {target}" if kind == "author" else f"From {target}"
            plan.append((label, kind, path, ids, TOPIC_PAPERS))
        if subscription.include_trending:
            plan.append(
                (
                    "Trending",
                    "trending",
                    "/papers/trending",
                    self.trending(start, end),
                    TRENDING_PAPERS,
                )
            )
        shown: set[int] = set()
        picked: list[tuple[str, str, str, list[int]]] = []
        for title, kind, path, ids, limit in plan:
            fresh = [pid for pid in ids if pid not in shown][:limit]
            shown.update(fresh)
            if fresh:
                picked.append((title, kind, path, fresh))
        self._load(shown)
        return DigestContent(
            [
                Section(title, kind, [self._views[pid] for pid in ids], path)
                for title, kind, path, ids in picked
            ]
        )

    def _load(self, ids: set[int]) -> None:
        missing = [pid for pid in ids if pid not in self._views]
        for chunk in _chunks(missing, 500):
            authors: dict[int, list[str]] = {pid: [] for pid in chunk}
            for paper_id, name in self.session.execute(
                select(PaperAuthor.paper_id, PaperAuthor.name)
                .where(PaperAuthor.paper_id.in_(chunk), PaperAuthor.position < CARD_AUTHORS)
                .order_by(PaperAuthor.paper_id, PaperAuthor.position)
            ):
                authors[paper_id].append(name)
            rows = self.session.execute(
                select(Paper, Organization.fullname, Organization.name)
                .outerjoin(Organization, Organization.id == Paper.organization_id)
                .where(Paper.id.in_(chunk))
            ).all()
            for paper, org_fullname, org_name in rows:
                abstract = abstract_start(paper.abstract)
                self._views[paper.id] = PaperView(
                    id=paper.id,
                    public_id=paper.public_id,
                    title=plain_text(paper.title),  # mail clients show no MathML
                    authors=tuple(authors[paper.id]),
                    author_count=max(paper.author_count, len(authors[paper.id])),
                    organization=org_fullname or org_name,
                    upvotes=paper.upvotes,
                    comments=paper.comment_count,
                    abstract=abstract,
                    abstract_lines="\n  ".join(textwrap.wrap(abstract, 76)),
                )


def follows_of(session: Session, user_id: int | None) -> list[tuple[str, str]]:
    """The authors, organizations and categories an account follows, in the order followed."""
    if user_id is None:
        return []
    rows = session.execute(
        select(Follow.kind, Follow.target)
        .where(Follow.user_id == user_id, Follow.kind.in_(("author", "organization", "category")))
        .order_by(Follow.id)
    ).all()
    return [(kind, target) for kind, target in rows]


def _followed_topic(code: str) -> TopicFilter | None:
    """The topic filter a category follow selects papers with, or None for a code arXiv
    no longer defines (the follow stays, but has no papers to show)."""
    try:
        return category_filter([code])
    except UnknownCategory:
        return None


def _category_page(code: str) -> Topic | None:
    """The followed category or archive itself: its name and its page on the site."""
    topics = _followed_topic(code)
    return topics.topics[0] if topics is not None else None


def _topic_path(saved: SavedSearch) -> str:
    params = {"q": saved.query}
    filters = saved.filters or {}
    for key in ("author", "org"):
        if filters.get(key):
            params[key] = str(filters[key])
    return "/papers?" + urlencode(params)


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
