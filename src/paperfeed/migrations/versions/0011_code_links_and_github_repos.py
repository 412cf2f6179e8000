"""code links and GitHub repositories

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 14:30:00.000000

Three tables of derived data for the `github` job (papers/code_links.py,
ingest/github_repos.py): `paper_code_links`, each paper's code links normalized (the one
set on the paper and those found in its abstract and arXiv comments; `papers.github_url`
is left as people set it); `github_repos`, what GitHub's API last said about each
repository; and `github_star_history`, one star count per repository per day. The upgrade
creates them empty and the job fills them (its cursor starts at 0); the downgrade drops them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paperfeed.models import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "paper_code_links",
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("repo_key", sa.String(length=250), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_paper_code_links_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("paper_id", "position", name=op.f("pk_paper_code_links")),
    )
    op.create_index("ix_paper_code_links_kind_repo_key", "paper_code_links", ["kind", "repo_key"])
    op.create_table(
        "github_repos",
        sa.Column("repo", sa.String(length=250), nullable=False),
        sa.Column("full_name", sa.String(length=250), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("stars", sa.Integer(), nullable=True),
        sa.Column("pushed_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("checked_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("repo", name=op.f("pk_github_repos")),
    )
    op.create_index(
        op.f("ix_github_repos_checked_at"), "github_repos", ["checked_at"], unique=False
    )
    op.create_table(
        "github_star_history",
        sa.Column("repo", sa.String(length=250), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo"],
            ["github_repos.repo"],
            name=op.f("fk_github_star_history_repo_github_repos"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("repo", "day", name=op.f("pk_github_star_history")),
    )


def downgrade() -> None:
    op.drop_table("github_star_history")
    op.drop_index(op.f("ix_github_repos_checked_at"), table_name="github_repos")
    op.drop_table("github_repos")
    op.drop_index("ix_paper_code_links_kind_repo_key", table_name="paper_code_links")
    op.drop_table("paper_code_links")
