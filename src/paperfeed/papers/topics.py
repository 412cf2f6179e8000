"""Topics: an arXiv category or a whole archive, as a filter over `paper_categories`.

`cs.CL` means the papers filed under cs.CL or its aliases (the defunct `cmp-lg`); `cs`
means every paper listed in the cs archive. An alias names the same topic as its
canonical code (`math.IT` is `cs.IT`), so each topic has one address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from paperfeed.errors import NotFound
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

    def paper_ids(self, *where: ColumnElement[bool]) -> Select[int]:
        """The ids of the topic's papers (each once) whose rows also meet `where`."""
        return select(PaperCategory.paper_id).where(self.rows(), *where)

    def instant(
        self, session: Session, latest: bool, *where: ColumnElement[bool]
    ) -> datetime | None:
        """The latest (or earliest) feed instant of a visible paper of the topic meeting
        `where`: the first row of an index scan, not an aggregate over the topic."""
        order = PaperCategory.feed_at.desc() if latest else PaperCategory.feed_at
        return session.execute(
            select(PaperCategory.feed_at)
            .join(Paper, Paper.id == PaperCategory.paper_id)
            .where(self.rows(), PaperCategory.feed_at.is_not(None), Paper.hidden_at.is_(None))
            .where(*where)
            .order_by(order)
            .limit(1)
        ).scalar_one_or_none()


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
