"""The migrations and the models describe the same schema, on both backends, and each data
migration does what its docstring says."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select, text

from paperfeed.community import accounts, organizations
from paperfeed.community.votes import set_vote
from paperfeed.db import Database, alembic_config, current_revision, upgrade
from paperfeed.models import Base, Organization, OrgMembership, Paper, Upvote, User
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from tests.conftest import own_database_url


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_is_repeatable(db: Database) -> None:
    db.upgrade()
    db.upgrade()
    assert current_revision(db.engine) is not None


# --- 0006: upvotes private by default ----------------------------------------------------


@pytest.fixture
def at_0005(backend: str, tmp_path: Path) -> Iterator[Database]:
    """A database of its own, migrated only up to 0005."""
    url = own_database_url(backend, tmp_path, "0006")
    database = Database(url)
    upgrade(database.engine, "0005")
    yield database
    database.dispose()


def test_0006_makes_every_account_private_and_keeps_what_references_accounts(
    at_0005: Database,
) -> None:
    db = at_0005
    with db.transaction() as session:
        upsert_papers(session, [PaperRecord(title="Liked", abstract="x", arxiv_id="2411.00001")])
        paper_id = session.execute(select(Paper.id)).scalar_one()
        ada = accounts.create_user(session, "ada", "ada@example.org", "long enough password")
        org = organizations.create(session, ada, "acme", "Acme")
        cookie = accounts.start_session(session, ada, "test").cookie
        set_vote(session, ada.id, paper_id, True)
        ada_id, org_id = ada.id, org.id
        # What every account looked like before: public, never by choice.
        session.execute(text("UPDATE users SET upvotes_public = :yes"), {"yes": True})
    upgrade(db.engine, "0006")
    assert current_revision(db.engine) == "0006"
    with db.reader() as session:
        assert session.execute(select(User.upvotes_public)).scalars().all() == [False]
        # On SQLite the table was rebuilt: rows that reference it must all still be there.
        assert session.execute(select(Upvote.user_id)).scalars().all() == [ada_id]
        assert accounts.session_user(session, cookie) is not None
        member = session.execute(select(OrgMembership.user_id)).scalar_one()
        assert member == ada_id and session.get(Organization, org_id) is not None
    with db.engine.begin() as connection:
        # The database's own default: an insert that names no value is private too.
        connection.execute(
            text(
                "INSERT INTO users (username, email, password_hash, fullname, role, created_at)"
                " VALUES ('bob', 'bob@example.org', 'x', '', 'user', :now)"
            ),
            {"now": datetime(2026, 12, 1)},
        )
        bob = connection.execute(
            text("SELECT upvotes_public FROM users WHERE username = 'bob'")
        ).scalar_one()
        assert bob in (False, 0)
        if db.engine.dialect.name == "sqlite":  # foreign keys are back on for the pool
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    downgrade(db.engine, "0005")
    upgrade(db.engine, "0006")
    with db.reader() as session:
        assert session.execute(select(Upvote.user_id)).scalars().all() == [ada_id]
