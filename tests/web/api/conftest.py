"""A small, fully known world for the API tests: users, an organization, papers on known
feed days with authors, links, a submitter, a claimed author, votes and comments.

Built on the per-test `db` (both backends) through the real write paths (`upsert_papers`,
`set_vote`, `add_comment`, `create_token`), so what the API reads is what the site wrote.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.community import accounts, api_tokens, comments
from paperfeed.community.votes import set_vote
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.models import Organization, OrgMembership, Paper, PaperAuthor, User
from paperfeed.papers.records import OrganizationRef, PaperRecord, Version
from paperfeed.papers.store import lock_changes, upsert_papers
from paperfeed.web.app import create_app
from tests.conftest import make_settings

PASSWORD = "long enough password"
JSON = {"accept": "application/json"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# Feed instants in UTC; the feed's zone is America/New_York (UTC-5 in November).
PAPERS = [
    PaperRecord(
        title="Attention Is Still All You Need",
        abstract="We revisit attention with $O(n)$ memory.",
        arxiv_id="2611.00001",
        authors=["Ada Lovelace", "Alan Turing", "Grace Hopper"],
        published_at=at("2026-11-18T17:00:00"),
        versions=[Version(1, at("2026-11-18T17:00:00")), Version(2, at("2026-11-19T09:00:00"))],
        categories=["cs.CL", "cs.LG"],
        github_url="https://github.com/acme/attention",
        project_url="https://acme.example/attention",
        upvotes=5,
        organization=OrganizationRef("acme", "Acme Research"),
        feed_at=at("2026-11-19T15:00:00"),  # Thursday 10:00 in New York
    ),
    PaperRecord(
        title="Sparse Mixtures of Small Experts",
        abstract="Many small experts beat few large ones.",
        arxiv_id="2611.00002",
        authors=["Edsger Dijkstra"],
        published_at=at("2026-11-18T12:00:00"),
        categories=["cs.LG"],
        upvotes=9,
        feed_at=at("2026-11-19T14:00:00"),  # the same Thursday, earlier
    ),
    PaperRecord(
        title="A Local Paper Without an arXiv Id",
        abstract="Imported from a list; it has a local id.",
        authors=["Barbara Liskov"],
        upvotes=2,
        feed_at=at("2026-11-12T16:00:00"),  # the week before
    ),
    PaperRecord(
        title="October Results on Graph Learning",
        abstract="A paper from the previous month.",
        arxiv_id="2610.00003",
        authors=["Donald Knuth"],
        published_at=at("2026-10-20T12:00:00"),
        upvotes=30,
        feed_at=at("2026-10-21T15:00:00"),
    ),
    PaperRecord(
        title="A Paper a Moderator Removed",
        abstract="Nobody should see this.",
        arxiv_id="2611.00005",
        upvotes=100,
        feed_at=at("2026-11-19T16:00:00"),
    ),
]


@dataclass
class World:
    db: Database
    settings: Settings
    token: str  # ada's API token
    grace_token: str

    def client(self, **headers: str) -> TestClient:
        app = create_app(self.settings, self.db)
        return TestClient(app, follow_redirects=False, headers={**JSON, **headers})


@functools.cache
def password_hash() -> str:
    """argon2 is slow on purpose; the world's users share one hash of PASSWORD."""
    return accounts.hash_password(PASSWORD)


def make_user(session: Session, name: str, role: str = "user", fullname: str = "") -> User:
    user = User(
        username=name,
        email=f"{name}@example.org",
        password_hash=password_hash(),
        role=role,
        fullname=fullname,
        created_at=clock.now(),
        email_verified_at=clock.now(),
    )
    session.add(user)
    session.flush()
    return user


def build_world(db: Database, settings: Settings) -> World:
    with db.transaction() as session:
        ada = make_user(session, "ada", fullname="Ada Lovelace")
        ada.avatar_url = "https://avatars.example/ada.png"
        grace = make_user(session, "grace")
        make_user(session, "root", role="admin")
        lock_changes(session)
        upsert_papers(session, PAPERS)
        session.flush()
        by_id = {p.public_id: p for p in session.execute(select(Paper)).scalars()}
        org = session.execute(select(Organization).where(Organization.name == "acme")).scalar_one()
        session.add(
            OrgMembership(
                organization_id=org.id, user_id=ada.id, status="active", created_at=clock.now()
            )
        )
        first = by_id["2611.00001"]
        first.submitted_by_id = ada.id
        author = session.execute(
            select(PaperAuthor).where(PaperAuthor.paper_id == first.id, PaperAuthor.position == 0)
        ).scalar_one()
        author.user_id = ada.id
        by_id["2611.00005"].hidden_at = clock.now()
        session.flush()
        set_vote(session, grace.id, first.id, True)
        set_vote(session, ada.id, first.id, True)
        top = comments.add_comment(session, grace, first.id, "Great **results**.")
        comments.add_comment(session, ada, first.id, "Thank you!", parent_id=top.id)
        gone = comments.add_comment(session, grace, by_id["2611.00002"].id, "typo")
        comments.delete_comment(session, grace, gone.id)
        token = api_tokens.create_token(session, ada, "laptop").token
        grace_token = api_tokens.create_token(session, grace, "script").token
    return World(db, settings, token, grace_token)


@pytest.fixture
def world(db: Database, tmp_path: Path) -> World:
    return build_world(db, make_settings(tmp_path, db.url))


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    with world.client() as client:
        yield client


@pytest.fixture
def sample_api(sample_db: Database, tmp_path: Path) -> Iterator[TestClient]:
    """A client on the shared sample corpus (read-only)."""
    app = create_app(make_settings(tmp_path, sample_db.url), sample_db)
    with TestClient(app, follow_redirects=False, headers=JSON) as client:
        yield client


def user_named(db: Database, name: str) -> User:
    with db.reader() as session:
        return session.execute(select(User).where(User.username == name)).scalar_one()
