"""upvotes private by default

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:00:00.000000

Who a member upvoted says what they read and like, which is theirs to share. Accounts were
created with `upvotes_public` true and there was no way to change it, so every member's
votes were on their profile and its feeds without anyone having been asked. From here on
a new account is private (the column's default, now also in the database) and a member can
make their upvotes public on /account.

Existing accounts become private too: none of them chose to be public (no setting existed),
and keeping them public would keep exposing what they never agreed to show. A member who
wants their upvotes seen turns it on in one click; the reverse mistake cannot be undone.

The downgrade drops the database default and leaves every account as it is: who was public
before this revision was never a choice, so there is nothing to restore.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

users = sa.table("users", sa.column("upvotes_public", sa.Boolean()))


def upgrade() -> None:
    # On SQLite this rebuilds `users`; env.py turns foreign keys off for it, so the rows
    # that reference users (sessions, votes, memberships) are kept.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column(
            "upvotes_public",
            existing_type=sa.Boolean(),
            existing_nullable=False,
            server_default=sa.false(),
        )
    op.execute(users.update().values(upvotes_public=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column(
            "upvotes_public",
            existing_type=sa.Boolean(),
            existing_nullable=False,
            server_default=None,
        )
