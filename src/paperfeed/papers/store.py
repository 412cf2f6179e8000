"""Writing papers: idempotent upserts that merge local and arXiv records.

Rules, so that importing the same data twice changes nothing:
- a field a record leaves unset (None, empty list) keeps what the database has;
- a paper is found by arXiv id, then by public id, then by normalized title; an arXiv
  record that finds a local paper (no arXiv id yet) by title merges into it, and the old
  local id stays resolvable through `paper_aliases`;
- versions are only ever added or corrected, never dropped, so history survives;
- the displayed upvote count is baseline + vote rows: a new imported baseline replaces the
  old one without losing the votes cast here;
- only a real change bumps `change_seq` and `modified_at`;
- a paper's categories are written twice in the same transaction: as the string
  `papers.categories` and as `paper_categories` rows (one per category, the first primary,
  each carrying the paper's `feed_at` for range scans by category and date).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from paperfeed import clock
from paperfeed.models import (
    Counter,
    ModerationLog,
    Organization,
    Paper,
    PaperAlias,
    PaperAuthor,
    PaperCategory,
    PaperVersion,
)
from paperfeed.papers import taxonomy
from paperfeed.papers.ids import local_id_for, title_key
from paperfeed.papers.names import name_key
from paperfeed.papers.records import PaperRecord

Outcome = Literal["added", "updated", "unchanged"]
PAPER_CHANGE = "paper_change"
EMBEDDING_CHANGE = "embedding_change"
# Enrichment shown on pages but not searched (keywords, stars, thumbnails): a new value
# changes the pages' validators without re-indexing anything (migration 0010).
ENRICHMENT_CHANGE = "enrichment_change"

SCALAR_FIELDS = (
    "title",
    "abstract",
    "doi",
    "journal_ref",
    "arxiv_comments",
    "report_no",
    "license",
    "github_url",
    "project_url",
    "feed_at",
)


@dataclass
class UpsertStats:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    ids: list[str] = field(default_factory=list)

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def merge(self, other: UpsertStats) -> None:
        for name in ("added", "updated", "unchanged", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.ids.extend(other.ids)


def lock_changes(session: Session, counter: str = PAPER_CHANGE) -> None:
    """Take the change counter's row lock now, before touching any paper row.

    Every transaction that writes papers (or rows that reference them) takes this lock
    first, so they all queue in one order and cannot deadlock: on PostgreSQL an insert that
    references a paper share-locks it, and bumping the paper's unique change_seq needs an
    exclusive lock on it. On SQLite, BEGIN IMMEDIATE already serializes writers.
    """
    session.execute(select(Counter.value).where(Counter.name == counter).with_for_update())


def next_change_seqs(session: Session, n: int = 1, counter: str = PAPER_CHANGE) -> range:
    """Reserve `n` consecutive sequence numbers (locks the counter row until commit)."""
    new_value = session.execute(
        update(Counter)
        .where(Counter.name == counter)
        .values(value=Counter.value + n, updated_at=clock.now())
        .returning(Counter.value)
    ).scalar_one()
    return range(new_value - n + 1, new_value + 1)


def current_change_seq(
    session: Session, counter: str = PAPER_CHANGE
) -> tuple[int, datetime | None]:
    row = session.execute(
        select(Counter.value, Counter.updated_at).where(Counter.name == counter)
    ).one_or_none()
    return (row[0], row[1]) if row else (0, None)


def content_version(session: Session) -> tuple[str, datetime | None]:
    """What a public page's validator names: the paper and enrichment changes so far
    ("1234.56"), and when the latest of them happened. One indexed read."""
    rows = {
        name: (value, updated_at)
        for name, value, updated_at in session.execute(
            select(Counter.name, Counter.value, Counter.updated_at).where(
                Counter.name.in_((PAPER_CHANGE, ENRICHMENT_CHANGE))
            )
        )
    }
    paper_seq, paper_time = rows.get(PAPER_CHANGE, (0, None))
    enriched, enriched_time = rows.get(ENRICHMENT_CHANGE, (0, None))
    times = [paper_time] if paper_time else []
    if enriched and enriched_time:  # born at migration: its time counts once it moves
        times.append(enriched_time)
    return f"{paper_seq}.{enriched}", max(times) if times else None


def touch_enrichment(session: Session) -> None:
    """Mark enrichment changed, in the transaction that writes it (pages revalidate)."""
    next_change_seqs(session, 1, ENRICHMENT_CHANGE)


def touch_paper(session: Session, paper: Paper) -> None:
    """Mark a paper changed (for vote/comment count updates and moderation)."""
    paper.change_seq = next_change_seqs(session)[0]
    paper.modified_at = clock.now()


def upsert_papers(session: Session, records: Sequence[PaperRecord]) -> UpsertStats:
    """Insert or update a batch of records in the caller's transaction."""
    stats = UpsertStats()
    if not records:
        return stats
    lock_changes(session)
    existing = _prefetch(session, records)
    orgs = _organizations(session, records)
    now = clock.now()
    for record in records:
        paper = _find(existing, record)
        if paper is None:
            paper = _insert(session, record, orgs, now)
            existing.remember(paper)
            stats.count("added")
        elif _apply(session, paper, record, orgs):
            existing.remember(paper)
            touch_paper(session, paper)
            stats.count("updated")
        else:
            stats.count("unchanged")
        stats.ids.append(paper.public_id)
        session.flush()
    return stats


class _Index:
    """The papers a batch may touch, keyed every way a record can find them."""

    def __init__(self, papers: Sequence[Paper]) -> None:
        self.by_arxiv: dict[str, Paper] = {}
        self.by_public: dict[str, Paper] = {}
        self.by_title: dict[str, list[Paper]] = {}
        for paper in papers:
            self.remember(paper)

    def remember(self, paper: Paper) -> None:
        if paper.arxiv_id:
            self.by_arxiv[paper.arxiv_id] = paper
        self.by_public[paper.public_id] = paper
        bucket = self.by_title.setdefault(paper.title_key, [])
        if paper not in bucket:
            bucket.append(paper)


def _prefetch(session: Session, records: Sequence[PaperRecord]) -> _Index:
    arxiv_ids = {r.arxiv_id for r in records if r.arxiv_id}
    keys = {title_key(r.title) for r in records}
    aliases = dict(
        session.execute(
            select(PaperAlias.alias, PaperAlias.paper_id).where(
                PaperAlias.alias.in_({local_id_for(r.title) for r in records})
            )
        ).all()
    )
    conditions = [Paper.title_key.in_(keys)]
    if arxiv_ids:
        conditions.append(Paper.arxiv_id.in_(arxiv_ids))
    if aliases:
        conditions.append(Paper.id.in_(set(aliases.values())))
    papers = (
        session.execute(
            select(Paper)
            .where(or_(*conditions))
            .options(
                selectinload(Paper.authors),
                selectinload(Paper.versions),
                selectinload(Paper.category_rows),
            )
            .order_by(Paper.id)
        )
        .scalars()
        .all()
    )
    index = _Index(papers)
    by_id = {p.id: p for p in papers}
    for alias, paper_id in aliases.items():
        if paper_id in by_id:
            index.by_public.setdefault(alias, by_id[paper_id])
    return index


def _find(index: _Index, record: PaperRecord) -> Paper | None:
    if record.arxiv_id:
        paper = index.by_arxiv.get(record.arxiv_id)
        if paper is not None:
            return paper
        # An arXiv record merges into a local paper of the same title, never into another
        # arXiv paper (distinct arXiv papers may share a title).
        for candidate in index.by_title.get(title_key(record.title), []):
            if candidate.arxiv_id is None:
                return candidate
        return None
    paper = index.by_public.get(local_id_for(record.title))
    if paper is not None:
        return paper
    candidates = index.by_title.get(title_key(record.title), [])
    return candidates[0] if candidates else None


def _organizations(session: Session, records: Sequence[PaperRecord]) -> dict[str, Organization]:
    wanted = {r.organization.name: r.organization for r in records if r.organization}
    if not wanted:
        return {}
    found = {
        org.name: org
        for org in session.execute(
            select(Organization).where(Organization.name.in_(wanted))
        ).scalars()
    }
    for name, ref in wanted.items():
        org = found.get(name)
        if org is None:
            org = Organization(name=name, fullname=ref.fullname or name, created_at=clock.now())
            session.add(org)
            found[name] = org
        elif ref.fullname and not org.fullname:
            org.fullname = ref.fullname
    session.flush()
    return found


def _insert(
    session: Session, record: PaperRecord, orgs: dict[str, Organization], now: datetime
) -> Paper:
    public_id = record.arxiv_id or local_id_for(record.title)
    baseline = record.upvotes or 0
    paper = Paper(
        public_id=public_id,
        arxiv_id=record.arxiv_id,
        title_key=title_key(record.title),
        author_count=len(record.authors) or record.author_count or 0,
        primary_category=record.categories[0] if record.categories else None,
        categories=" ".join(record.categories),
        upvote_baseline=baseline,
        upvotes=baseline,
        comment_count=0,
        source=record.source,
        change_seq=next_change_seqs(session)[0],
        created_at=now,
        modified_at=now,
        latest_version=1,
    )
    for name in SCALAR_FIELDS:
        setattr(paper, name, getattr(record, name))
    paper.abstract = record.abstract or ""
    if record.organization:
        paper.organization = orgs[record.organization.name]
    paper.authors = [
        PaperAuthor(position=i, name=n, name_key=name_key(n)) for i, n in enumerate(record.authors)
    ]
    paper.versions = [
        PaperVersion(version=v.version, submitted_at=v.submitted_at, size=v.size)
        for v in sorted(record.versions, key=lambda v: v.version)
    ]
    _set_dates(paper, record)
    paper.category_rows = [
        PaperCategory(**row) for row in category_rows(record.categories, paper.feed_at)
    ]
    session.add(paper)
    return paper


MAX_CATEGORY = 32  # paper_categories.category; arXiv's longest code has 18 characters


def category_rows(categories: Sequence[str], feed_at: datetime | None) -> list[dict[str, Any]]:
    """A paper's `paper_categories` rows (without the paper id), arXiv's first as primary.

    A token too long to be any category (a stray word in a record) gets no row, rather than
    failing the paper's import on PostgreSQL; `papers.categories` still keeps it as given.
    """
    usable = [c for c in dict.fromkeys(categories) if len(c) <= MAX_CATEGORY]
    return [
        {
            "category": category,
            "position": i,
            "archive": taxonomy.listing_archive(category),
            "is_primary": i == 0,
            "feed_at": feed_at,
        }
        for i, category in enumerate(usable)
    ]


def _sync_categories(paper: Paper, categories: Sequence[str]) -> None:
    """Make the paper's category rows say `categories` (unchanged rows stay as they are).

    The rows are derived from `papers.categories` and `feed_at`, so a change here is never
    a change of its own: the caller has already counted the column that caused it.
    """
    wanted = {row["category"]: row for row in category_rows(categories, paper.feed_at)}
    have = {row.category: row for row in paper.category_rows}
    for category, row in have.items():
        if category not in wanted:
            paper.category_rows.remove(row)
    for category, values in wanted.items():
        current = have.get(category)
        if current is None:
            paper.category_rows.append(PaperCategory(**values))
            continue
        for name, value in values.items():
            if getattr(current, name) != value:
                setattr(current, name, value)
    paper.category_rows.sort(key=lambda row: row.position)


def _apply(
    session: Session, paper: Paper, record: PaperRecord, orgs: dict[str, Organization]
) -> bool:
    """Copy what the record knows onto the paper; report whether anything changed."""
    changed = False

    def put(name: str, value: Any) -> None:
        nonlocal changed
        if value is not None and getattr(paper, name) != value:
            setattr(paper, name, value)
            changed = True

    if record.arxiv_id and paper.arxiv_id is None:
        session.add(PaperAlias(alias=paper.public_id, paper_id=paper.id))
        put("arxiv_id", record.arxiv_id)
        put("public_id", record.arxiv_id)
    kept = _links_set_by_people(session, paper, record)
    for name in SCALAR_FIELDS:
        if name in kept:
            continue
        value = getattr(record, name)
        put(name, value if value != "" else None)
    put("title_key", title_key(paper.title))
    if record.categories:
        put("categories", " ".join(record.categories))
        put("primary_category", record.categories[0])
    if record.upvotes is not None and record.upvotes != paper.upvote_baseline:
        put("upvotes", paper.upvotes - paper.upvote_baseline + record.upvotes)
        put("upvote_baseline", record.upvotes)
    if record.organization:
        org = orgs[record.organization.name]
        if paper.organization_id != org.id:
            paper.organization = org
            changed = True
    if record.authors and [a.name for a in paper.authors] != record.authors:
        _replace_authors(session, paper, record.authors)
        changed = True
    put("author_count", len(record.authors) or record.author_count)
    changed |= _merge_versions(paper, record)
    changed |= _set_dates(paper, record)
    _sync_categories(paper, paper.category_list)
    return changed


# The moderation log's action for a link set by the submitter, a claimed author or a
# moderator (community/paper_links.py): such a link wins over what an import brings.
SET_LINKS_ACTION = "set_paper_links"
LINK_FIELDS = ("github_url", "project_url")


def _links_set_by_people(session: Session, paper: Paper, record: PaperRecord) -> set[str]:
    """The link fields an import must leave alone: a person set this paper's links (the
    log says so) and the record would change them. Asked only when it would."""
    differs = [
        name
        for name in LINK_FIELDS
        if getattr(record, name) not in (None, "", getattr(paper, name))
    ]
    if not differs or paper.id is None:
        return set()
    set_by_people = session.scalar(
        select(ModerationLog.id)
        .where(
            ModerationLog.action == SET_LINKS_ACTION,
            ModerationLog.target_type == "paper",
            ModerationLog.target_id == paper.public_id,
        )
        .limit(1)
    )
    return set(differs) if set_by_people is not None else set()


def _replace_authors(session: Session, paper: Paper, names: list[str]) -> None:
    claimed = {a.position: a.user_id for a in paper.authors if a.name in names and a.user_id}
    paper.authors.clear()
    session.flush()
    paper.authors.extend(
        PaperAuthor(position=i, name=name, name_key=name_key(name), user_id=claimed.get(i))
        for i, name in enumerate(names)
    )


def _merge_versions(paper: Paper, record: PaperRecord) -> bool:
    changed = False
    have = {v.version: v for v in paper.versions}
    for version in record.versions:
        current = have.get(version.version)
        if current is None:
            paper.versions.append(
                PaperVersion(
                    version=version.version, submitted_at=version.submitted_at, size=version.size
                )
            )
            changed = True
        elif current.submitted_at != version.submitted_at or (
            version.size and current.size != version.size
        ):
            current.submitted_at = version.submitted_at
            current.size = version.size or current.size
            changed = True
    return changed


def _set_dates(paper: Paper, record: PaperRecord) -> bool:
    before = (paper.published_at, paper.updated_at, paper.latest_version)
    if paper.versions:
        ordered = sorted(paper.versions, key=lambda v: v.version)
        paper.published_at = ordered[0].submitted_at
        paper.updated_at = ordered[-1].submitted_at
        paper.latest_version = ordered[-1].version
    else:
        if record.published_at is not None:
            paper.published_at = record.published_at
        if record.updated_at is not None:
            paper.updated_at = record.updated_at
    return before != (paper.published_at, paper.updated_at, paper.latest_version)


def count_paper_rows(session: Session) -> int:
    return session.execute(select(func.count()).select_from(Paper)).scalar_one()
