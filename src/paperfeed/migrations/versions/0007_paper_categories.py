"""paper categories as rows

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 06:00:00.000000

A paper's arXiv categories were only a space-joined string (`papers.categories`), which no
index can answer "the papers of cs.CL by feed date" from. `paper_categories` holds one row
per category (the first, arXiv's primary, marked), with the archive it is listed in and a
copy of the paper's `feed_at`, indexed so that a category's or an archive's papers by date
are one range scan. The string column stays for the readers that use it.

The upgrade fills the table from `papers.categories`, in batches of papers; papers without
categories (Hugging Face listings) get no rows. The downgrade drops the table: the string
column still has everything it held.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paperfeed.models import UTCDateTime
from paperfeed.papers.store import category_rows

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 10_000

# Plain DateTime on both sides: the stored naive UTC value is copied as it is.
papers = sa.table(
    "papers",
    sa.column("id", sa.Integer()),
    sa.column("categories", sa.String()),
    sa.column("feed_at", sa.DateTime()),
)
rows = sa.table(
    "paper_categories",
    sa.column("paper_id", sa.Integer()),
    sa.column("category", sa.String()),
    sa.column("position", sa.Integer()),
    sa.column("archive", sa.String()),
    sa.column("is_primary", sa.Boolean()),
    sa.column("feed_at", sa.DateTime()),
)


def upgrade() -> None:
    op.create_table(
        "paper_categories",
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("archive", sa.String(length=32), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("feed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_paper_categories_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("paper_id", "category", name=op.f("pk_paper_categories")),
    )
    op.create_index(
        "ix_paper_categories_archive_feed_at",
        "paper_categories",
        ["archive", "feed_at", "paper_id"],
    )
    op.create_index(
        "ix_paper_categories_category_feed_at",
        "paper_categories",
        ["category", "feed_at", "paper_id"],
    )
    backfill(op.get_bind())


def backfill(connection: sa.Connection) -> None:
    last = 0
    while True:
        batch = connection.execute(
            sa.select(papers.c.id, papers.c.categories, papers.c.feed_at)
            .where(papers.c.id > last, papers.c.categories != "")
            .order_by(papers.c.id)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        values = [
            {"paper_id": paper_id, **row}
            for paper_id, categories, feed_at in batch
            for row in category_rows((categories or "").split(), feed_at)
        ]
        if values:
            connection.execute(rows.insert(), values)
        last = batch[-1][0]


def downgrade() -> None:
    op.drop_index("ix_paper_categories_category_feed_at", table_name="paper_categories")
    op.drop_index("ix_paper_categories_archive_feed_at", table_name="paper_categories")
    op.drop_table("paper_categories")
