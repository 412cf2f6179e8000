"""The migrations and the models describe the same schema, on both backends."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from paperfeed.db import Database, current_revision
from paperfeed.models import Base


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_is_repeatable(db: Database) -> None:
    db.upgrade()
    db.upgrade()
    assert current_revision(db.engine) is not None
