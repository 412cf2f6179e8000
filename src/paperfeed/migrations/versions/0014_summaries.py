"""summaries

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 01:20:00.000000

Two tables for the `summaries` job (ingest/summarize.py, papers/summaries.py):
`paper_summaries`, each paper's machine-written summary with the model and prompt version
that wrote it and the hash of the text it was written from; and `summary_usage`, the
requests and tokens spent per UTC day, which the daily caps are checked against. The
upgrade creates them empty and the job fills them; the downgrade drops them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paperfeed.models import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "paper_summaries",
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("prompt_version", sa.String(length=20), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("text_hash", sa.String(length=40), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_paper_summaries_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("paper_id", name=op.f("pk_paper_summaries")),
    )
    op.create_index(op.f("ix_paper_summaries_stale"), "paper_summaries", ["stale"], unique=False)
    op.create_table(
        "summary_usage",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_summary_usage")),
    )


def downgrade() -> None:
    op.drop_table("summary_usage")
    op.drop_index(op.f("ix_paper_summaries_stale"), table_name="paper_summaries")
    op.drop_table("paper_summaries")
