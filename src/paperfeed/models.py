"""The tables of the whole product.

Designed up front so that later features add behaviour, not rewrites. Conventions:
- timestamps are stored as naive UTC and read back timezone-aware (`UTCDateTime`);
- a paper's public id is its arXiv id without version, or a stable local id for papers
  that have none; the integer primary key never leaves the database;
- displayed counts (`papers.upvotes`, `papers.comment_count`) are denormalized for fast
  feeds and are only ever changed in the same transaction as the rows behind them;
- `papers.change_seq` grows on every insert or update so that derived indexes, digests
  and other nodes can follow changes and resume.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Naive UTC in the database, aware UTC in Python, identical on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}  # noqa: RUF012


# --- papers -----------------------------------------------------------------------------


class Paper(Base):
    __tablename__ = "papers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    arxiv_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    title_key: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, default="")
    author_count: Mapped[int] = mapped_column(Integer, default=0)
    primary_category: Mapped[str | None] = mapped_column(String(32), index=True)
    categories: Mapped[str] = mapped_column(String(400), default="")
    doi: Mapped[str | None] = mapped_column(String(200))
    journal_ref: Mapped[str | None] = mapped_column(Text)
    arxiv_comments: Mapped[str | None] = mapped_column(Text)
    report_no: Mapped[str | None] = mapped_column(String(400))
    license: Mapped[str | None] = mapped_column(String(200))
    github_url: Mapped[str | None] = mapped_column(String(500))
    project_url: Mapped[str | None] = mapped_column(String(500))
    published_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    latest_version: Mapped[int] = mapped_column(Integer, default=1)
    # The instant the paper entered the daily feed; its day is computed in the feed's zone.
    feed_at: Mapped[datetime | None] = mapped_column(index=True)
    submitted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    upvote_baseline: Mapped[int] = mapped_column(Integer, default=0)
    upvotes: Mapped[int] = mapped_column(Integer, default=0)
    comment_count: Mapped[int] = mapped_column(Integer, default=0)
    hidden_at: Mapped[datetime | None]
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32), default="import")
    change_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    created_at: Mapped[datetime]
    modified_at: Mapped[datetime]

    authors: Mapped[list[PaperAuthor]] = relationship(
        order_by="PaperAuthor.position",
        cascade="all, delete-orphan",
        back_populates="paper",
    )
    versions: Mapped[list[PaperVersion]] = relationship(
        order_by="PaperVersion.version", cascade="all, delete-orphan", back_populates="paper"
    )
    category_rows: Mapped[list[PaperCategory]] = relationship(
        order_by="PaperCategory.position", cascade="all, delete-orphan"
    )
    organization: Mapped[Organization | None] = relationship()
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])

    __table_args__ = (Index("ix_papers_feed_at_upvotes", "feed_at", "upvotes"),)

    @property
    def category_list(self) -> list[str]:
        return self.categories.split() if self.categories else []


class PaperAuthor(Base):
    __tablename__ = "paper_authors"

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), index=True)
    # papers/names.py `name_key` of `name` ("berger|e"): every possible variant of a name
    # shares it, so the variants of an author are one index lookup. Set by every writer.
    name_key: Mapped[str] = mapped_column(String(130), index=True, server_default="")
    affiliation: Mapped[str | None] = mapped_column(String(500))
    # Set when the author claims the paper and the claim is approved.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)

    paper: Mapped[Paper] = relationship(back_populates="authors")
    user: Mapped[User | None] = relationship()


class PaperVersion(Base):
    __tablename__ = "paper_versions"

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    submitted_at: Mapped[datetime]
    size: Mapped[str | None] = mapped_column(String(32))

    paper: Mapped[Paper] = relationship(back_populates="versions")


class PaperCategory(Base):
    """One arXiv category of a paper, as arXiv lists it; the first is its primary one.

    `papers.categories` keeps the same list as one string for the readers that want it.
    `archive` (the listing the category appears in, see papers/taxonomy.py) and `feed_at`
    (a copy of the paper's) are here so that "the papers of a category or archive by feed
    date" is a range scan of one index. papers/store.py writes these rows with the paper.
    """

    __tablename__ = "paper_categories"

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)  # the order arXiv lists them in
    archive: Mapped[str] = mapped_column(String(32))
    is_primary: Mapped[bool] = mapped_column(Boolean)
    feed_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_paper_categories_category_feed_at", "category", "feed_at", "paper_id"),
        Index("ix_paper_categories_archive_feed_at", "archive", "feed_at", "paper_id"),
    )


class PaperKeyword(Base):
    """One keyword of a paper, extracted from its title and abstract (search/keywords.py).

    Derived data: `text_hash` is the hash of the text it was computed from (the same on
    every row of a paper), so a paper whose text did not change is not recomputed.
    """

    __tablename__ = "paper_keywords"

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0 = best
    keyword: Mapped[str] = mapped_column(String(100))
    score: Mapped[float] = mapped_column(Float)
    text_hash: Mapped[str] = mapped_column(String(40))


class PaperCodeLink(Base):
    """A code link of a paper, normalized (papers/code_links.py): the one set on the paper
    (`source` 'paper', from `github_url`) and those found in its abstract or arXiv comments.

    Derived data, kept apart from `papers.github_url` (which people set and nothing here
    overwrites). `is_primary` marks the link the paper shows: the one set on the paper, else
    the first one found. `repo_key` names the repository case-insensitively
    ("owner/repo" for GitHub, the key of `github_repos`).
    """

    __tablename__ = "paper_code_links"

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0 = primary
    url: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))  # github gitlab hf-model hf-dataset hf-space
    source: Mapped[str] = mapped_column(String(16))  # paper | abstract | comments
    repo_key: Mapped[str] = mapped_column(String(250))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_paper_code_links_kind_repo_key", "kind", "repo_key"),)


class PaperHubCheck(Base):
    """What the Hugging Face Hub last said about an arXiv paper (ingest/hub_links.py): how
    many models, datasets and Spaces carry its `arxiv:` tag (counted up to
    `COUNT_CAP` + 1, so a count over the cap means "more than the cap").

    `status`: 'ok', or 'error' (the Hub failed or refused; `error` says how, the counts and
    `paper_hub_artifacts` keep the last good answer, and the paper is asked again later).
    `checked_at` is the last time it was asked; the refresh takes the oldest first.
    """

    __tablename__ = "paper_hub_checks"

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    num_models: Mapped[int | None] = mapped_column(Integer)
    num_datasets: Mapped[int | None] = mapped_column(Integer)
    num_spaces: Mapped[int | None] = mapped_column(Integer)
    checked_at: Mapped[datetime] = mapped_column(index=True)


class PaperHubArtifact(Base):
    """One of the top models, datasets or Spaces (`kind`) citing a paper, by likes, as the
    Hub listed it: the paper page's "On the Hub" and the API's `linkedModels`..."""

    __tablename__ = "paper_hub_artifacts"

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # model | dataset | space
    position: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0 = most liked
    repo_id: Mapped[str] = mapped_column(String(200))  # "owner/name" as the Hub spells it
    author: Mapped[str | None] = mapped_column(String(100))
    likes: Mapped[int] = mapped_column(BigInteger)
    downloads: Mapped[int | None] = mapped_column(BigInteger)  # Spaces have none
    extra: Mapped[str | None] = mapped_column(String(64))  # a model's pipeline_tag, a Space's sdk
    last_modified: Mapped[datetime | None]


class GithubRepo(Base):
    """What GitHub's REST API last said about a repository (ingest/github_repos.py).

    `status`: 'new' (never asked), 'ok', 'gone' (404: asked again only after a month),
    'error' (GitHub refused it). `checked_at` is the last time it was asked, whatever the
    answer; the refresh takes the oldest first.
    """

    __tablename__ = "github_repos"

    repo: Mapped[str] = mapped_column(String(250), primary_key=True)  # "owner/repo", lower
    full_name: Mapped[str | None] = mapped_column(String(250))  # as GitHub spells it
    description: Mapped[str | None] = mapped_column(Text)
    stars: Mapped[int | None] = mapped_column(Integer)
    pushed_at: Mapped[datetime | None]
    etag: Mapped[str | None] = mapped_column(String(200))  # for the next conditional request
    status: Mapped[str] = mapped_column(String(16), default="new")
    error: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime]


class GithubStarCount(Base):
    """A repository's stars on one day (UTC): the history behind star velocity."""

    __tablename__ = "github_star_history"

    repo: Mapped[str] = mapped_column(
        ForeignKey("github_repos.repo", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    stars: Mapped[int] = mapped_column(Integer)


class PaperThumbnailCheck(Base):
    """What the `thumbnails` job made of a paper's PDF (ingest/thumbnails.py), one row per
    paper it looked at, so no paper is fetched twice by any node.

    `status`: 'rendered' (its images are in `paper_thumbnails`; `digest` names them all and
    goes in their URLs), 'missing' (arXiv has no PDF: 404), 'skipped' (a PDF too big,
    malformed, or that took too long; `reason` says which) or 'error' (arXiv did not answer:
    tried again after a day, three times at most). `version` is the arXiv version whose PDF
    was read.
    """

    __tablename__ = "paper_thumbnail_checks"

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int | None] = mapped_column(Integer)
    digest: Mapped[str | None] = mapped_column(String(32))
    pdf_bytes: Mapped[int | None] = mapped_column(Integer)
    render_ms: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=1)  # errors in a row: 3 -> skipped
    checked_at: Mapped[datetime] = mapped_column(index=True)


class PaperThumbnail(Base):
    """One image of a paper's first page: a size ('card', 'page') in a format ('webp',
    'jpeg'). Kept in the database so every web node serves the same bytes."""

    __tablename__ = "paper_thumbnails"

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    size: Mapped[str] = mapped_column(String(8), primary_key=True)
    format: Mapped[str] = mapped_column(String(8), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[str] = mapped_column(String(32))  # of `data`: the response's ETag
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class PaperAlias(Base):
    """Old public ids (a local id merged into an arXiv id) that still resolve."""

    __tablename__ = "paper_aliases"

    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))


class Counter(Base):
    """Named monotonic counters; `paper_change` hands out `papers.change_seq` values.

    Taking a value locks the row until commit, so sequence order is commit order and a
    follower reading `change_seq > last_seen` never misses a row.
    """

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]


class SiteMeta(Base):
    """Small facts about this installation (the demo's anchor day, data fingerprints)."""

    __tablename__ = "site_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class PaperEmbedding(Base):
    """A paper's embedding, computed once and shared by every node's vector index.

    Embedding all of arXiv takes hours, so vectors are stored like data (float16, L2
    normalized) rather than recomputed by each node. `seq` comes from the
    `embedding_change` counter so indexes can follow new vectors incrementally.
    """

    __tablename__ = "paper_embeddings"

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(100))
    text_hash: Mapped[str] = mapped_column(String(40))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    created_at: Mapped[datetime]


class PaperSummary(Base):
    """A paper's one- or two-sentence summary, machine-written by the `summaries` job
    (ingest/summarize.py) from its title and abstract through a chat-completions endpoint.

    `model` and `prompt_version` say who wrote it and how (pages name both); `text_hash`
    is the hash of the title and abstract it was written from, and `stale` marks a paper
    whose text changed since, to be written again (the old summary shows meanwhile).
    `summary` is None while the paper waits for its first (`stale`, queued by the job's
    walk of the change sequence) and when the answer was refused as junk (`error` says
    why), so the same text is not asked about again.
    """

    __tablename__ = "paper_summaries"

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    summary: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(300))
    model: Mapped[str] = mapped_column(String(200))
    prompt_version: Mapped[str] = mapped_column(String(20))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    text_hash: Mapped[str] = mapped_column(String(40))
    stale: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[datetime]


class SummaryUsage(Base):
    """Requests and tokens spent on summaries on one UTC day: the ledger the daily caps
    are checked against by every worker. A request's tokens are reserved (an upper bound)
    before it is made and corrected to what the endpoint reported after, so a crash in
    between can only overcount."""

    __tablename__ = "summary_usage"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


# --- people and organizations -------------------------------------------------------------


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    email_verified_at: Mapped[datetime | None]
    password_hash: Mapped[str] = mapped_column(String(300))
    fullname: Mapped[str] = mapped_column(String(200), default="")
    avatar_url: Mapped[str | None] = mapped_column(String(500))
    role: Mapped[str] = mapped_column(String(16), default="user")  # user | moderator | admin
    # Who may see this member's upvotes: private unless they choose otherwise on /account
    # (migration 0006 says why existing accounts became private too).
    upvotes_public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    banned_at: Mapped[datetime | None]
    ban_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    fullname: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    avatar_url: Mapped[str | None] = mapped_column(String(500))
    website: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class OrgMembership(Base):
    __tablename__ = "org_memberships"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16), default="member")  # member | admin
    status: Mapped[str] = mapped_column(String(16), default="invited")  # invited | active
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]


class Follow(Base):
    """A user following an author name, an organization, a user or a category."""

    __tablename__ = "follows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # author | organization | user | category
    target: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("user_id", "kind", "target"),)


class Collection(Base):
    """A member's named, ordered list of papers (community/collections.py): private or public,
    with its own feed at a secret, revocable address when private. `slug` is the title's
    slug, unique per owner; `key` is the 24-hex id the Hub's slugs end with (random, so a
    private collection's address is not guessed from another's). One "Saved" collection per
    member (`saved`), made on first use."""

    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(24), unique=True)
    title: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    private: Mapped[bool] = mapped_column(Boolean, default=True)
    saved: Mapped[bool] = mapped_column(Boolean, default=False)
    theme: Mapped[str] = mapped_column(String(16), default="orange")
    position: Mapped[int] = mapped_column(Integer, default=0)
    feed_secret: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("owner_id", "slug"),)


class CollectionItem(Base):
    """A paper in a collection, at a position, with the owner's optional note."""

    __tablename__ = "collection_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(24), unique=True)
    note: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)
    added_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("collection_id", "paper_id"),)


# --- community actions -------------------------------------------------------------------


class Upvote(Base):
    __tablename__ = "upvotes"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime]


class Comment(Base):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    # None once the author deleted their account and chose to keep their comments: shown as
    # "deleted user" (migration 0016).
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # Replies are one level deep: a reply's parent is always a top-level comment.
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    hidden_at: Mapped[datetime | None]
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    hidden_reason: Mapped[str | None] = mapped_column(Text)


class Report(Base):
    """A user's report of a comment or a paper, handled by a moderator."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), index=True
    )
    paper_id: Mapped[int | None] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution: Mapped[str | None] = mapped_column(String(32))


class Submission(Base):
    """A request to put a paper on the daily feed, and what became of it."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    arxiv_id: Mapped[str] = mapped_column(String(64))
    paper_id: Mapped[int | None] = mapped_column(ForeignKey("papers.id", ondelete="SET NULL"))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(16))  # accepted | duplicate | rejected
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)


class AuthorClaim(Base):
    __tablename__ = "author_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    author_position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (UniqueConstraint("paper_id", "author_position", "user_id"),)


class ModerationLog(Base):
    """An append-only audit trail of every moderator and admin action."""

    __tablename__ = "moderation_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(index=True)


# --- security state shared by every web node -----------------------------------------------


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser; the cookie holds a secret whose hash is the key."""

    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    user_agent: Mapped[str | None] = mapped_column(String(300))


class RateLimitCounter(Base):
    """Fixed-window counters, kept in the database so limits hold across processes."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


# --- digests ----------------------------------------------------------------------------


class SavedSearch(Base):
    __tablename__ = "saved_searches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # A digest topic belongs to a subscription (anonymous subscribers have no user).
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    query: Mapped[str] = mapped_column(Text)
    filters: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]


class Subscription(Base):
    """One email address that asked for digests: double opt-in, one-click unsubscribe.

    Confirm and unsubscribe links are signed tokens bound to the address (no stored
    secrets). Content: trending (if chosen), its saved searches, and, when linked to an
    account, the account's followed authors and organizations.
    """

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    frequency: Mapped[str] = mapped_column(String(16))  # daily | weekly
    include_trending: Mapped[bool] = mapped_column(Boolean, default=True)
    skip_weekends: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(
        String(16), default="pending"
    )  # pending|active|paused|unsubscribed
    bounce_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]


class DigestDelivery(Base):
    """The ledger: one digest for one subscription and period, claimed before it is sent.

    The unique key means a period is composed once; `claimed_by`/`claimed_until` say which
    run is sending it, so a crashed run's claims can be taken over. `window_start` and
    `window_end` fix which papers it covers, so a retry sends the same digest.
    """

    __tablename__ = "digest_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(32))  # e.g. daily:2026-11-21, weekly:2026-W47
    # claimed | sent | empty | failed (transient, retried) | bounced (permanent)
    status: Mapped[str] = mapped_column(String(16), default="claimed")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    paper_count: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("subscription_id", "period"),
        Index("ix_digest_deliveries_period_status", "period", "status"),
    )


# --- jobs and ingestion -------------------------------------------------------------------


class JobLease(Base):
    """Who runs a job right now; an expired lease may be taken over."""

    __tablename__ = "job_leases"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class JobRun(Base):
    """One run of a scheduled job: when, by whom, how it ended, what it did."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(64), index=True)
    holder: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # running | ok | failed
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    items: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str | None] = mapped_column(Text)
    # What the run did, per kind ({"added": 12, "updated": 3, ...}), and why it failed.
    counts: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)


class IngestCursor(Base):
    """Where a resumable ingest (OAI-PMH harvest, snapshot import) got to."""

    __tablename__ = "ingest_cursors"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    cursor: Mapped[str] = mapped_column(Text)
    state: Mapped[dict[str, Any] | None]
    updated_at: Mapped[datetime]


# --- outgoing mail ------------------------------------------------------------------------


class OutgoingMail(Base):
    """A message waiting for, or past, delivery: the queue every one-off email goes through.

    Written in the same transaction as what caused it (a sign-up, a reset request), so a
    message exists exactly when its cause does; a background sender delivers it. States:
    queued -> sending (claimed by `claimed_by` until `claimed_until`) -> sent | failed
    (permanent, or out of attempts); a transient failure puts it back to queued with a later
    `next_attempt_at`.
    """

    __tablename__ = "outgoing_mail"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # verify | reset | digest-link | ...
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500))
    message: Mapped[str] = mapped_column(Text)  # the whole RFC 5322 message, as sent
    message_id: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_outgoing_mail_status_next", "status", "next_attempt_at"),)


__all__ = [
    "ApiToken",
    "AuthorClaim",
    "Base",
    "Comment",
    "Counter",
    "DigestDelivery",
    "Follow",
    "IngestCursor",
    "JobLease",
    "JobRun",
    "ModerationLog",
    "OrgMembership",
    "Organization",
    "OutgoingMail",
    "Paper",
    "PaperAlias",
    "PaperAuthor",
    "PaperCategory",
    "PaperEmbedding",
    "PaperVersion",
    "RateLimitCounter",
    "Report",
    "SavedSearch",
    "SiteMeta",
    "Submission",
    "Subscription",
    "Upvote",
    "User",
    "WebSession",
]
