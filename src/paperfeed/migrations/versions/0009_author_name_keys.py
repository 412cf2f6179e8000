"""author name keys

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 14:00:00.000000

`paper_authors.name_key` holds the folded surname and first initial of each author name
("berger|e"), indexed: the names that may be variants of one author ("Edmond L. Berger",
"E. L. Berger", "Berger, E.L.") share it, so an author page finds them in one lookup
(papers/authors.py groups them). The upgrade adds the column and fills it in batches;
the downgrade drops it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paperfeed.papers.names import name_key

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 10_000

authors = sa.table(
    "paper_authors",
    sa.column("paper_id", sa.Integer()),
    sa.column("position", sa.Integer()),
    sa.column("name", sa.String()),
    sa.column("name_key", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("paper_authors") as batch:
        batch.add_column(
            sa.Column("name_key", sa.String(length=130), server_default="", nullable=False)
        )
    backfill(op.get_bind())
    op.create_index(op.f("ix_paper_authors_name_key"), "paper_authors", ["name_key"])


def backfill(connection: sa.Connection) -> None:
    """Key every stored name, a batch of rows at a time in primary-key order."""
    last = (0, -1)
    while True:
        batch = connection.execute(
            sa.select(authors.c.paper_id, authors.c.position, authors.c.name)
            .where(sa.tuple_(authors.c.paper_id, authors.c.position) > sa.tuple_(*last))
            .order_by(authors.c.paper_id, authors.c.position)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        connection.execute(
            authors.update()
            .where(
                authors.c.paper_id == sa.bindparam("pid"),
                authors.c.position == sa.bindparam("pos"),
            )
            .values(name_key=sa.bindparam("key")),
            [{"pid": p, "pos": i, "key": name_key(n)} for p, i, n in batch],
        )
        last = (batch[-1][0], batch[-1][1])


def downgrade() -> None:
    op.drop_index(op.f("ix_paper_authors_name_key"), table_name="paper_authors")
    with op.batch_alter_table("paper_authors") as batch:
        batch.drop_column("name_key")
