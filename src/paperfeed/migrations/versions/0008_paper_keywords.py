"""paper keywords

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 11:00:00.000000

`paper_keywords` holds a handful of keywords per paper, extracted from its title and abstract
by the worker's `keywords` job (search/keywords.py), one row per keyword with its rank and
score, and the hash of the text it came from. Derived data: the upgrade creates the empty
table and the job fills it (its cursor starts at 0); the downgrade drops it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "paper_keywords",
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("keyword", sa.String(length=100), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("text_hash", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_paper_keywords_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("paper_id", "position", name=op.f("pk_paper_keywords")),
    )


def downgrade() -> None:
    op.drop_table("paper_keywords")
