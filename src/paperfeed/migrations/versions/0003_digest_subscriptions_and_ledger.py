"""digest subscriptions and ledger

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 05:38:35.057540
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import paperfeed.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nothing wrote these tables before digests existed; a ledger row needs its window.
    op.execute("DELETE FROM digest_deliveries")
    with op.batch_alter_table("digest_deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("window_start", paperfeed.models.UTCDateTime(), nullable=False)
        )
        batch_op.add_column(sa.Column("window_end", paperfeed.models.UTCDateTime(), nullable=False))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("claimed_until", paperfeed.models.UTCDateTime(), nullable=True)
        )
        batch_op.create_index(
            "ix_digest_deliveries_period_status", ["period", "status"], unique=False
        )

    with op.batch_alter_table("saved_searches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subscription_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_saved_searches_subscription_id"), ["subscription_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_saved_searches_subscription_id_subscriptions"),
            "subscriptions",
            ["subscription_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("include_trending", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column("skip_weekends", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column("bounce_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("paused_at", paperfeed.models.UTCDateTime(), nullable=True))
        batch_op.drop_index(batch_op.f("ix_subscriptions_email"))
        batch_op.drop_constraint(batch_op.f("uq_subscriptions_confirm_token_hash"), type_="unique")
        batch_op.drop_constraint(
            batch_op.f("uq_subscriptions_unsubscribe_token_hash"), type_="unique"
        )
        batch_op.create_index(batch_op.f("ix_subscriptions_user_id"), ["user_id"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_subscriptions_email"), ["email"])
        batch_op.drop_constraint(
            batch_op.f("fk_subscriptions_saved_search_id_saved_searches"), type_="foreignkey"
        )
        batch_op.drop_column("kind")
        batch_op.drop_column("unsubscribe_token_hash")
        batch_op.drop_column("confirm_token_hash")
        batch_op.drop_column("saved_search_id")


def downgrade() -> None:
    # The old shape kept hashed tokens per row; subscriptions cannot be carried back.
    op.execute("DELETE FROM saved_searches WHERE subscription_id IS NOT NULL")
    op.execute("DELETE FROM digest_deliveries")
    op.execute("DELETE FROM subscriptions")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("saved_search_id", sa.INTEGER(), nullable=True))
        batch_op.add_column(sa.Column("confirm_token_hash", sa.VARCHAR(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("unsubscribe_token_hash", sa.VARCHAR(length=64), nullable=False)
        )
        batch_op.add_column(sa.Column("kind", sa.VARCHAR(length=16), nullable=False))
        batch_op.create_foreign_key(
            batch_op.f("fk_subscriptions_saved_search_id_saved_searches"),
            "saved_searches",
            ["saved_search_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.drop_constraint(batch_op.f("uq_subscriptions_email"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_subscriptions_user_id"))
        batch_op.create_unique_constraint(
            batch_op.f("uq_subscriptions_unsubscribe_token_hash"), ["unsubscribe_token_hash"]
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_subscriptions_confirm_token_hash"), ["confirm_token_hash"]
        )
        batch_op.create_index(batch_op.f("ix_subscriptions_email"), ["email"], unique=False)
        batch_op.drop_column("paused_at")
        batch_op.drop_column("bounce_count")
        batch_op.drop_column("skip_weekends")
        batch_op.drop_column("include_trending")

    with op.batch_alter_table("saved_searches", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_saved_searches_subscription_id_subscriptions"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_saved_searches_subscription_id"))
        batch_op.drop_column("subscription_id")

    with op.batch_alter_table("digest_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_digest_deliveries_period_status")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("window_end")
        batch_op.drop_column("window_start")
