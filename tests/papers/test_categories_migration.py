"""Migration 0007 fills `paper_categories` from the papers already stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, select, text

from paperfeed.db import Database, alembic_config
from paperfeed.models import Paper, PaperCategory
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from tests.conftest import own_database_url

DAY = datetime(2024, 1, 3, 14, tzinfo=UTC)


@pytest.fixture
def own_db(backend: str, tmp_path: Path) -> Iterator[Database]:
    """A database of its own: this test migrates down and up again."""
    url = own_database_url(backend, tmp_path, "0007")
    database = Database(url)
    database.upgrade()
    yield database
    database.dispose()


def rows(db: Database) -> list[tuple]:
    with db.reader() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(
                    Paper.public_id,
                    PaperCategory.position,
                    PaperCategory.category,
                    PaperCategory.archive,
                    PaperCategory.is_primary,
                    PaperCategory.feed_at,
                )
                .join(Paper)
                .order_by(Paper.public_id, PaperCategory.position)
            )
        ]


def test_upgrade_backfills_the_rows_the_store_writes(own_db: Database) -> None:
    db = own_db
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Parsing",
                    abstract="x",
                    arxiv_id="cmp-lg/9404001",
                    categories=["cmp-lg"],
                ),
                PaperRecord(
                    title="Codes",
                    abstract="x",
                    arxiv_id="2401.00002",
                    categories=["cs.IT", "math.IT", "cs.LG"],
                    feed_at=DAY,
                ),
                PaperRecord(title="An HF listing", abstract="x", upvotes=2),
            ],
        )
    written = rows(db)
    assert [(p, c, primary) for p, _, c, _, primary, _ in written] == [
        ("2401.00002", "cs.IT", True),
        ("2401.00002", "math.IT", False),
        ("2401.00002", "cs.LG", False),
        ("cmp-lg/9404001", "cmp-lg", True),
    ]
    command.downgrade(alembic_config(db.engine), "0006")
    assert "paper_categories" not in inspect(db.engine).get_table_names()
    with db.engine.connect() as connection:  # the string column kept everything
        assert connection.execute(text("SELECT count(*) FROM papers")).scalar_one() == 3
    db.upgrade()
    assert rows(db) == written
