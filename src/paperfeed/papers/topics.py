"""Topics: an arXiv category or a whole archive, as a filter over `paper_categories`.

`cs.CL` means the papers filed under cs.CL or its aliases (the defunct `cmp-lg`); `cs`
means every paper listed in the cs archive. An alias names the same topic as its
canonical code (`math.IT` is `cs.IT`), so each topic has one address.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from paperfeed.errors import NotFound, UserError
from paperfeed.models import Paper, PaperCategory
from paperfeed.papers import taxonomy


class UnknownTopic(NotFound):
    """A category or archive arXiv does not define."""


@dataclass(frozen=True)
class Topic:
    code: str  # canonical: a category (`cs.CL`) or an archive (`cs`, `hep-th`)
    is_archive: bool

    @property
    def name(self) -> str:
        return taxonomy.name(self.code) or self.code

    @property
    def label(self) -> str:
        return taxonomy.label(self.code)

    @property
    def path(self) -> str:
        return f"/papers/category/{self.code}"

    def rows(self) -> ColumnElement[bool]:
        """The `paper_categories` rows that put a paper in this topic."""
        if self.is_archive:
            return PaperCategory.archive == self.code
        return PaperCategory.category.in_(taxonomy.equivalents(self.code))

    def ranges(self) -> list[ColumnElement[bool]]:
        """The topic's rows as ranges of one index each (the same rows as `rows()`): its
        archive, or each code that means the category (`cs.CL`, `cmp-lg`)."""
        if self.is_archive:
            return [PaperCategory.archive == self.code]
        return [PaperCategory.category == code for code in taxonomy.equivalents(self.code)]

    def paper_ids(self, *where: ColumnElement[bool]) -> Select[int]:
        """The ids of the topic's papers (each once) whose rows also meet `where`."""
        return select(PaperCategory.paper_id).where(self.rows(), *where)

    def instant(
        self, session: Session, latest: bool, *where: ColumnElement[bool]
    ) -> datetime | None:
        """The latest (or earliest) feed instant of a visible paper of the topic meeting
        `where`: the first row of an index scan, not an aggregate over the topic.

        One scan per range: ordered by `feed_at` over an IN list (a category and its
        alias), the database reads and sorts every row of the topic before the instant,
        a cost that grows with the archive.
        """
        order = PaperCategory.feed_at.desc() if latest else PaperCategory.feed_at
        found: list[datetime] = []
        for key in self.ranges():
            instant = session.execute(
                select(PaperCategory.feed_at)
                .join(Paper, Paper.id == PaperCategory.paper_id)
                .where(key, PaperCategory.feed_at.is_not(None), Paper.hidden_at.is_(None))
                .where(*where)
                .order_by(order)
                .limit(1)
            ).scalar_one_or_none()
            if instant is not None:
                found.append(instant)
        if not found:
            return None
        return max(found) if latest else min(found)


def find_topic(code: str) -> Topic:
    """The topic a URL names; an alias gives its canonical topic (the caller redirects)."""
    main = taxonomy.canonical(code)
    if taxonomy.is_archive(main):
        return Topic(main, True)
    if taxonomy.is_category(main):
        return Topic(main, False)
    raise UnknownTopic(
        f"There is no arXiv category or archive “{code[:40]}”. "
        "See /papers/categories for the ones papers here are filed under."
    )


@dataclass(frozen=True)
class TopicCount:
    code: str
    papers: int

    @property
    def name(self) -> str:
        return taxonomy.name(self.code) or self.code


@dataclass(frozen=True)
class ArchiveCounts:
    code: str
    name: str
    papers: int  # papers listed in the archive (a paper cross-listed within it counts once)
    categories: list[TopicCount]


def topic_counts(session: Session) -> list[ArchiveCounts]:
    """Every archive and category that has visible papers in the feed, with their counts."""
    visible = (PaperCategory.feed_at.is_not(None), Paper.hidden_at.is_(None))
    joined = select().select_from(PaperCategory).join(Paper, Paper.id == PaperCategory.paper_id)
    by_category: dict[str, int] = dict(
        session.execute(
            joined.add_columns(PaperCategory.category, func.count())
            .where(*visible)
            .group_by(PaperCategory.category)
        ).all()
    )
    by_archive: dict[str, int] = dict(
        session.execute(
            joined.add_columns(PaperCategory.archive, func.count(PaperCategory.paper_id.distinct()))
            .where(*visible)
            .group_by(PaperCategory.archive)
        ).all()
    )
    # A code arXiv does not define (`xx.YY`) has no page to link to: it is left out here
    # (its papers still count in a known archive it is listed under).
    by_archive = {code: n for code, n in by_archive.items() if taxonomy.is_archive(code)}
    grouped: dict[str, dict[str, int]] = {archive: {} for archive in by_archive}
    for code, count in by_category.items():
        archive = taxonomy.listing_archive(code)
        # An archive that is its own only category (hep-th) lists none.
        if code != archive and archive in grouped and taxonomy.is_category(code):
            grouped[archive][code] = count
    return [
        ArchiveCounts(
            code=archive,
            name=taxonomy.name(archive) or archive,
            papers=by_archive[archive],
            categories=[TopicCount(code, n) for code, n in sorted(grouped[archive].items())],
        )
        for archive in sorted(by_archive, key=lambda a: (taxonomy.name(a) or a).lower())
    ]


# --- a filter of several topics (`?category=cs.CL&category=hep-ph`) -----------------------

MAX_FILTER_TOPICS = 20


class UnknownCategory(UserError):
    """A category filter names a code arXiv does not define (400: the request is wrong)."""


@dataclass(frozen=True)
class TopicFilter(Topic):
    """Papers in any of several topics: a category filter on a list that is not a topic's.

    It answers the same questions as one topic (`rows`, `paper_ids`, `instant`), so every
    feed query that takes a topic takes a filter, on the same indexes of `paper_categories`.
    """

    topics: tuple[Topic, ...] = ()

    @property
    def codes(self) -> list[str]:
        return [t.code for t in self.topics]

    @property
    def name(self) -> str:
        return ", ".join(t.code for t in self.topics)

    @property
    def label(self) -> str:
        return " or ".join(t.label for t in self.topics)

    @property
    def path(self) -> str:
        return "/papers"  # the site's own feeds, filtered by their `?category=` query

    @property
    def query(self) -> str:
        """`category=cs.CL&category=hep-ph`, for links that keep the filter."""
        return "&".join(f"category={quote(code, safe='.')}" for code in self.codes)

    def rows(self) -> ColumnElement[bool]:
        return or_(*(t.rows() for t in self.topics))

    def ranges(self) -> list[ColumnElement[bool]]:
        return [key for t in self.topics for key in t.ranges()]

    def categories(self) -> set[str]:
        """Every category code (aliases included) a paper may carry to match the filter."""
        found: set[str] = set()
        for t in self.topics:
            members = taxonomy.archive_categories(t.code) if t.is_archive else [t.code]
            for code in members:
                found.update(taxonomy.equivalents(code))
            found.add(t.code)
        return found


def category_filter(values: Iterable[str]) -> TopicFilter | None:
    """The filter `category` values ask for (each may list several, comma-separated), or
    None when none is given. An alias means its canonical topic (`math.IT` is `cs.IT`),
    an archive all its categories; an unknown code is refused, by name."""
    topics: list[Topic] = []
    for value in values:
        for raw in value.split(","):
            code = raw.strip()
            if not code:
                continue
            try:
                topic = find_topic(code)
            except UnknownTopic:
                raise UnknownCategory(
                    f"Unknown category “{code[:40]}”: category takes arXiv categories "
                    "(cs.CL) or archives (cs, hep-ph); see /papers/categories."
                ) from None
            if topic not in topics:
                topics.append(topic)
    if not topics:
        return None
    if len(topics) > MAX_FILTER_TOPICS:
        raise UnknownCategory(f"At most {MAX_FILTER_TOPICS} categories in one filter.")
    first = topics[0]
    return TopicFilter(
        code="+".join(t.code for t in topics), is_archive=first.is_archive, topics=tuple(topics)
    )
