"""comments outlive their author

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 19:45:00.000000

A member who deletes their account chooses whether their comments stay, signed "deleted
user", or go (community/account_data.py). Until now `comments.user_id` was required and
deleting a user deleted their comments (ON DELETE CASCADE), taking every reply by others
with them. From here on the column is nullable and a deleted user's kept comments keep
their text with no author (ON DELETE SET NULL).

The downgrade cannot give an author back to a comment that has none: those comments go,
with their replies, as the old cascade would have taken them, and each paper's
`comment_count` is counted again from the comments that remain.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEY = "fk_comments_user_id_users"


def _author_key(nullable: bool, ondelete: str) -> None:
    # On SQLite this rebuilds `comments`; env.py turns foreign keys off for it, so the
    # reports and replies that reference comments are kept.
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_constraint(FOREIGN_KEY, type_="foreignkey")
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=nullable)
        batch_op.create_foreign_key(FOREIGN_KEY, "users", ["user_id"], ["id"], ondelete=ondelete)


def upgrade() -> None:
    _author_key(nullable=True, ondelete="SET NULL")


def downgrade() -> None:
    orphans = "SELECT id FROM comments WHERE user_id IS NULL"
    papers = "SELECT DISTINCT paper_id FROM comments WHERE user_id IS NULL"
    affected = [row[0] for row in op.get_bind().execute(sa.text(papers))]
    gone = f"SELECT id FROM comments WHERE user_id IS NULL OR parent_id IN ({orphans})"
    op.execute(f"DELETE FROM reports WHERE comment_id IN ({gone})")
    op.execute(f"DELETE FROM comments WHERE parent_id IN ({orphans})")
    op.execute("DELETE FROM comments WHERE user_id IS NULL")
    for paper_id in affected:
        op.get_bind().execute(
            sa.text(
                "UPDATE papers SET comment_count = (SELECT count(*) FROM comments"
                " WHERE comments.paper_id = papers.id AND deleted_at IS NULL"
                " AND hidden_at IS NULL) WHERE id = :id"
            ),
            {"id": paper_id},
        )
    _author_key(nullable=False, ondelete="CASCADE")
