"""`PaperRecord`: the one shape every source is parsed into before it reaches the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


class RecordError(ValueError):
    """A record that cannot be imported; the message says why, for the user."""


@dataclass
class Version:
    version: int
    submitted_at: datetime
    size: str | None = None


@dataclass
class OrganizationRef:
    name: str
    fullname: str = ""


@dataclass
class PaperRecord:
    title: str
    abstract: str
    arxiv_id: str | None = None
    authors: list[str] = field(default_factory=list)
    # Only known as a number for some sources (the sample corpus has counts, not names).
    author_count: int | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    versions: list[Version] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    doi: str | None = None
    journal_ref: str | None = None
    arxiv_comments: str | None = None
    report_no: str | None = None
    license: str | None = None
    github_url: str | None = None
    project_url: str | None = None
    upvotes: int | None = None
    organization: OrganizationRef | None = None
    feed_at: datetime | None = None
    source: str = "import"
