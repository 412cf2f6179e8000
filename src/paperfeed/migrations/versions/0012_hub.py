"""linked Hub artifacts

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 01:20:00.000000

Two tables of derived data for the `hub` job (ingest/hub_links.py): `paper_hub_checks`,
one row per arXiv paper the Hugging Face Hub was asked about (when, what it answered, how
many models, datasets and Spaces carry the paper's `arxiv:` tag), and
`paper_hub_artifacts`, the top ones of each kind by likes. The upgrade creates them empty
(every arXiv paper is then due, newest first); the downgrade drops them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paperfeed.models import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "paper_hub_checks",
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("num_models", sa.Integer(), nullable=True),
        sa.Column("num_datasets", sa.Integer(), nullable=True),
        sa.Column("num_spaces", sa.Integer(), nullable=True),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_paper_hub_checks_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("paper_id", name=op.f("pk_paper_hub_checks")),
    )
    op.create_index(
        op.f("ix_paper_hub_checks_checked_at"), "paper_hub_checks", ["checked_at"], unique=False
    )
    op.create_table(
        "paper_hub_artifacts",
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.String(length=200), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=True),
        sa.Column("likes", sa.BigInteger(), nullable=False),
        sa.Column("downloads", sa.BigInteger(), nullable=True),
        sa.Column("extra", sa.String(length=64), nullable=True),
        sa.Column("last_modified", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_paper_hub_artifacts_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "paper_id", "kind", "position", name=op.f("pk_paper_hub_artifacts")
        ),
    )


def downgrade() -> None:
    op.drop_table("paper_hub_artifacts")
    op.drop_index(op.f("ix_paper_hub_checks_checked_at"), table_name="paper_hub_checks")
    op.drop_table("paper_hub_checks")
