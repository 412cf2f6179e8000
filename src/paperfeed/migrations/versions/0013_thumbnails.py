"""thumbnails

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 01:20:00.000000

Two tables for the `thumbnails` job (ingest/thumbnails.py): `paper_thumbnail_checks`, what
the job made of each paper's PDF (rendered, missing, skipped with a reason, or an error to
try again), and `paper_thumbnails`, the first-page images themselves (card and page size,
WebP and JPEG) in the database, so every web node serves them and none fetches a PDF. The
upgrade creates them empty and the job fills them; the downgrade drops them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paperfeed.models import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "paper_thumbnail_checks",
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("digest", sa.String(length=32), nullable=True),
        sa.Column("pdf_bytes", sa.Integer(), nullable=True),
        sa.Column("render_ms", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_paper_thumbnail_checks_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("paper_id", name=op.f("pk_paper_thumbnail_checks")),
    )
    op.create_index(
        op.f("ix_paper_thumbnail_checks_checked_at"),
        "paper_thumbnail_checks",
        ["checked_at"],
        unique=False,
    )
    op.create_table(
        "paper_thumbnails",
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.String(length=8), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_paper_thumbnails_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("paper_id", "size", "format", name=op.f("pk_paper_thumbnails")),
    )


def downgrade() -> None:
    op.drop_table("paper_thumbnails")
    op.drop_index(op.f("ix_paper_thumbnail_checks_checked_at"), table_name="paper_thumbnail_checks")
    op.drop_table("paper_thumbnail_checks")
