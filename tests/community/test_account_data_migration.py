"""Migration 0016: a comment can outlive its author (ON DELETE SET NULL), and the downgrade
removes the authorless comments with their replies and counts each paper's comments again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import delete, select

from paperfeed.community import accounts, comments
from paperfeed.db import Database, alembic_config, current_revision, upgrade
from paperfeed.models import Comment, Paper, Report, User
from paperfeed.papers.counts import inconsistent
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from tests.conftest import own_database_url

PASSWORD = "long enough password"


@pytest.fixture
def at_0015(backend: str, tmp_path: Path) -> Iterator[Database]:
    """A database of its own, migrated only up to 0015."""
    database = Database(own_database_url(backend, tmp_path, "0016"))
    upgrade(database.engine, "0015")
    yield database
    database.dispose()


def remove_user(db: Database, name: str) -> None:
    """Delete the row itself, so what happens to the comments is the database's doing."""
    with db.transaction() as session:
        session.execute(delete(User).where(User.username == name))


def test_0016_keeps_comments_of_a_deleted_user_and_the_downgrade_removes_them(
    at_0015: Database,
) -> None:
    db = at_0015
    with db.transaction() as session:
        upsert_papers(session, [PaperRecord(title="Talked", abstract="x", arxiv_id="2411.00001")])
        paper_id = session.execute(select(Paper.id)).scalar_one()
        ada = accounts.create_user(session, "ada", "ada@example.org", PASSWORD)
        bob = accounts.create_user(session, "bob", "bob@example.org", PASSWORD)
        cyd = accounts.create_user(session, "cyd", "cyd@example.org", PASSWORD)
        first = comments.add_comment(session, ada, paper_id, "Ada's point")
        comments.add_comment(session, bob, paper_id, "Bob's reply", parent_id=first.id)
        comments.report_comment(session, bob, first.id, "spam")
        comments.add_comment(session, bob, paper_id, "Bob on his own")
        comments.add_comment(session, cyd, paper_id, "Cyd's note")
    upgrade(db.engine, "0016")
    assert current_revision(db.engine) == "0016"
    remove_user(db, "ada")
    with db.reader() as session:
        rows = session.execute(select(Comment.body, Comment.user_id).order_by(Comment.id)).all()
        assert [body for body, _ in rows] == ["Ada's point", "Bob's reply", "Bob on his own",
                                              "Cyd's note"]  # fmt: skip
        assert rows[0].user_id is None
        assert session.execute(select(Report.reason)).scalars().all() == ["spam"]
        assert inconsistent(session) == []

    command.downgrade(alembic_config(db.engine), "0015")
    with db.reader() as session:
        # Ada's comment had no author to go back to: it went, with Bob's reply to it.
        bodies = session.execute(select(Comment.body).order_by(Comment.id)).scalars().all()
        assert bodies == ["Bob on his own", "Cyd's note"]
        assert session.execute(select(Report.id)).all() == []
        assert session.execute(select(Paper.comment_count)).scalar_one() == 2
    # Back to the old rule: the author's comments go with them.
    remove_user(db, "cyd")
    with db.reader() as session:
        assert session.execute(select(Comment.body)).scalars().all() == ["Bob on his own"]

    upgrade(db.engine, "0016")
    remove_user(db, "bob")
    with db.reader() as session:
        assert session.execute(select(Comment.user_id)).scalars().all() == [None]
