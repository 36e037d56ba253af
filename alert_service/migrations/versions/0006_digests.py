"""Digests and quiet hours: a subscription keeps its delivery schedule (``alert_subscriptions.schedule``,
JSON; empty for immediate, as every existing subscription stays), held alerts name the digest they wait
for (``alert_alerts.digest_id``), and ``alert_digests`` holds one row per subscription and period.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'delivered', 'failed')", name=op.f("ck_alert_digests_status")
        ),
        sa.CheckConstraint("kind IN ('digest', 'quiet')", name=op.f("ck_alert_digests_kind")),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["alert_subscriptions.id"],
            name=op.f("fk_alert_digests_subscription_id_alert_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_digests")),
        sa.UniqueConstraint(
            "subscription_id", "period_start", name=op.f("uq_alert_digests_subscription_id_period_start")
        ),
    )
    op.create_index("ix_alert_digests_status_next_attempt_at", "alert_digests", ["status", "next_attempt_at"])
    # Plain ALTER TABLE on both databases (see 0004): nullable columns need no default.
    op.add_column("alert_subscriptions", sa.Column("schedule", sa.JSON(), nullable=True))
    op.add_column("alert_alerts", sa.Column("digest_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_alert_alerts_digest_id"), "alert_alerts", ["digest_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_alert_alerts_digest_id"), table_name="alert_alerts")
    op.drop_column("alert_alerts", "digest_id")
    op.drop_column("alert_subscriptions", "schedule")
    op.drop_index("ix_alert_digests_status_next_attempt_at", table_name="alert_digests")
    op.drop_table("alert_digests")
