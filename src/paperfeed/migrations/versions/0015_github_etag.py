"""GitHub conditional requests

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 01:20:00.000000

`github_repos.etag`: the validator GitHub gave with its last answer about the repository.
The `github` job sends it as `If-None-Match`; GitHub answers 304 when nothing changed, and
a 304 to a request with a token does not count against the hourly limit. Empty after the
upgrade: the next answer about each repository fills it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("github_repos") as batch:
        batch.add_column(sa.Column("etag", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("github_repos") as batch:
        batch.drop_column("etag")
