"""What a list of papers shows beside the rows: its authors, organizations, people and
arXiv categories, keywords and code links.

One loader serves every list (feed cards, RSS/Atom and exports, the JSON API), in at most
six queries however long the list is: never one per paper. Each caller says how much it
needs: a card names its first few authors, a feed leaves out hidden authors and names no
accounts, the API wants everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed.models import Organization, Paper, PaperAuthor, PaperCategory, PaperKeyword, User
from paperfeed.papers import taxonomy
from paperfeed.papers.code_links import PaperCode, load_code
from paperfeed.papers.summaries import load_summaries
from paperfeed.papers.thumbnails import Thumbnail, load_thumbnails


@dataclass(frozen=True)
class Byline:
    """One author of one paper."""

    position: int
    name: str
    hidden: bool
    user_id: int | None  # the account whose claim of this author was approved


@dataclass(frozen=True)
class CategoryTag:
    """One arXiv category of one paper: its code, and whether it is the primary one."""

    code: str
    primary: bool

    @property
    def name(self) -> str | None:
        return taxonomy.name(self.code)

    @property
    def label(self) -> str:
        return taxonomy.label(self.code)


@dataclass
class Related:
    authors: dict[int, list[Byline]]  # every paper id of the list -> its authors, in order
    organizations: dict[int, Organization]  # by id
    users: dict[int, User]  # by id: the submitters and the accounts that claimed an author
    # With `categories`: every paper id -> its categories in arXiv's order, the primary first.
    categories: dict[int, list[CategoryTag]] = field(default_factory=dict)
    # With `keywords`: every paper id -> its extracted keywords, best first (may be empty).
    keywords: dict[int, list[str]] = field(default_factory=dict)
    # With `code`: the paper ids that have a code link -> it, with its stars if known.
    code: dict[int, PaperCode] = field(default_factory=dict)
    # With `summaries`: the paper ids that have a machine-written summary -> its text.
    summaries: dict[int, str] = field(default_factory=dict)
    # With `thumbnails` (the site URL): the paper ids that have a first-page image -> it.
    thumbnails: dict[int, Thumbnail] = field(default_factory=dict)
    site_url: str = ""  # the absolute base of `thumbnail_url`

    def author_names(self) -> dict[int, list[str]]:
        return {pid: [a.name for a in bylines] for pid, bylines in self.authors.items()}

    def thumbnail_url(self, paper_id: int) -> str | None:
        """The page-size JPEG (every client reads JPEG), absolute, or None without one."""
        found = self.thumbnails.get(paper_id)
        return f"{self.site_url.rstrip('/')}{found.path('page', 'jpg')}" if found else None


def load_related(
    session: Session,
    papers: Sequence[Paper],
    *,
    first_authors: int | None = None,
    hidden_authors: bool = True,
    people: bool = True,
    categories: bool = False,
    keywords: bool = False,
    code: bool = False,
    summaries: bool = False,
    thumbnails: str | None = None,
) -> Related:
    """The authors, organizations and (with `people`) users of `papers`.

    `first_authors` keeps the authors below that position (a card shows a few names of a
    thousand-author paper); `hidden_authors=False` leaves out the authors marked hidden.
    `thumbnails`, the site URL, loads the papers' first-page images to link from it.
    """
    ids = [p.id for p in papers]
    authors: dict[int, list[Byline]] = {pid: [] for pid in ids}
    if ids:
        query = select(
            PaperAuthor.paper_id,
            PaperAuthor.position,
            PaperAuthor.name,
            PaperAuthor.hidden,
            PaperAuthor.user_id,
        ).where(PaperAuthor.paper_id.in_(ids))
        if first_authors is not None:
            query = query.where(PaperAuthor.position < first_authors)
        if not hidden_authors:
            query = query.where(PaperAuthor.hidden.is_(False))
        rows = session.execute(query.order_by(PaperAuthor.paper_id, PaperAuthor.position))
        for paper_id, position, name, hidden, user_id in rows:
            authors[paper_id].append(Byline(position, name, hidden, user_id))
    org_ids = {p.organization_id for p in papers if p.organization_id}
    organizations = (
        {
            o.id: o
            for o in session.execute(
                select(Organization).where(Organization.id.in_(org_ids))
            ).scalars()
        }
        if org_ids
        else {}
    )
    user_ids: set[int] = set()
    if people:
        user_ids = {p.submitted_by_id for p in papers if p.submitted_by_id}
        user_ids |= {a.user_id for bylines in authors.values() for a in bylines if a.user_id}
    users = (
        {u.id: u for u in session.execute(select(User).where(User.id.in_(user_ids))).scalars()}
        if user_ids
        else {}
    )
    tags = load_categories(session, ids) if categories else {}
    words = load_keywords(session, ids) if keywords else {}
    links = load_code(session, papers) if code else {}
    written = {pid: s.text for pid, s in load_summaries(session, ids).items()} if summaries else {}
    images = load_thumbnails(session, papers) if thumbnails is not None else {}
    return Related(
        authors, organizations, users, tags, words, links, written, images, thumbnails or ""
    )


def load_categories(session: Session, paper_ids: Sequence[int]) -> dict[int, list[CategoryTag]]:
    """The papers' arXiv categories (papers without any map to an empty list), one query."""
    tags: dict[int, list[CategoryTag]] = {pid: [] for pid in paper_ids}
    if paper_ids:
        rows = session.execute(
            select(PaperCategory.paper_id, PaperCategory.category, PaperCategory.is_primary)
            .where(PaperCategory.paper_id.in_(paper_ids))
            .order_by(PaperCategory.paper_id, PaperCategory.position)
        )
        for paper_id, code, primary in rows:
            tags[paper_id].append(CategoryTag(code, primary))
    return tags


def load_keywords(session: Session, paper_ids: Sequence[int]) -> dict[int, list[str]]:
    """Every paper id -> its keywords (search/keywords.py), best first: one query."""
    found: dict[int, list[str]] = {pid: [] for pid in paper_ids}
    if paper_ids:
        rows = session.execute(
            select(PaperKeyword.paper_id, PaperKeyword.keyword)
            .where(PaperKeyword.paper_id.in_(list(paper_ids)))
            .order_by(PaperKeyword.paper_id, PaperKeyword.position)
        )
        for pid, keyword in rows:
            found[pid].append(keyword)
    return found
