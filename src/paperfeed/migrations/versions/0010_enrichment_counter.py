"""enrichment counter

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 14:10:00.000000

Enrichment shown on pages (keywords today; stars, thumbnails and links as they come) is
derived data the search index does not read, so it must not take a paper's `change_seq`
(that would re-index the paper). It takes a number from its own counter,
`enrichment_change`, which the pages' validators (ETag, Last-Modified) name beside the
paper counter: a page changes its ETag when its keywords arrive, and nothing is re-indexed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from paperfeed.models import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    counters = sa.table(
        "counters",
        sa.column("name", sa.String),
        sa.column("value", sa.BigInteger),
        sa.column("updated_at", UTCDateTime()),
    )
    op.bulk_insert(
        counters, [{"name": "enrichment_change", "value": 0, "updated_at": datetime.now(UTC)}]
    )


def downgrade() -> None:
    op.execute("DELETE FROM counters WHERE name = 'enrichment_change'")
