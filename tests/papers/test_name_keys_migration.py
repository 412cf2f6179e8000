"""Migration 0009 keys the author names already stored, as the store keys new ones."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from alembic import command
from sqlalchemy import inspect, select, update

import paperfeed.migrations
from paperfeed.db import Database, alembic_config
from paperfeed.models import PaperAuthor
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from tests.conftest import own_database_url


@pytest.fixture
def own_db(backend: str, tmp_path: Path) -> Iterator[Database]:
    """A database of its own: this test migrates down and up again."""
    url = own_database_url(backend, tmp_path, "0009")
    database = Database(url)
    database.upgrade()
    yield database
    database.dispose()


def keys(db: Database) -> list[tuple[str, str]]:
    with db.reader() as session:
        return [
            (row.name, row.name_key)
            for row in session.execute(
                select(PaperAuthor.name, PaperAuthor.name_key).order_by(
                    PaperAuthor.paper_id, PaperAuthor.position
                )
            )
        ]


def test_upgrade_keys_every_stored_name_as_the_store_does(
    own_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = own_db
    names = ["Edmond L. Berger", "Berger, E.L.", "Jan van der Berg", "Zoë Ångström", "Plato"]
    with db.transaction() as session:
        upsert_papers(
            session,
            [PaperRecord(title=f"Paper {i}", abstract="x", authors=names) for i in range(3)],
        )
    written = keys(db)
    assert written[:5] == [
        ("Edmond L. Berger", "berger|e"),
        ("Berger, E.L.", "berger|e"),
        ("Jan van der Berg", "van der berg|j"),
        ("Zoë Ångström", "angstrom|z"),
        ("Plato", "plato|"),
    ]
    command.downgrade(alembic_config(db.engine), "0008")
    columns = {c["name"] for c in inspect(db.engine).get_columns("paper_authors")}
    assert "name_key" not in columns and "name" in columns
    db.upgrade()
    assert keys(db) == written
    indexes = {i["name"] for i in inspect(db.engine).get_indexes("paper_authors")}
    assert "ix_paper_authors_name_key" in indexes

    # The backfill pages through the rows by primary key: 15 rows in batches of 4.
    migration = _load_migration()
    monkeypatch.setattr(migration, "BATCH", 4)
    with db.engine.begin() as connection:
        connection.execute(update(PaperAuthor).values(name_key=""))
        migration.backfill(connection)
    assert keys(db) == written


def _load_migration() -> ModuleType:
    path = Path(paperfeed.migrations.__file__).parent / "versions" / "0009_author_name_keys.py"
    spec = importlib.util.spec_from_file_location("migration_0009", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
