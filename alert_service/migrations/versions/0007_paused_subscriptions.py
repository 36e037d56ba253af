"""A subscription is paused or removed, no longer both at once: ``alert_subscriptions.removed_at``
marks a removed one (inactive for good, listed no more); a paused one is inactive with no
``removed_at`` and can be resumed. Every subscription inactive before this revision was removed with
``rasid subscriptions remove`` (or the API's DELETE): it keeps that meaning, dated when it was made.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE on both databases (see 0004): a nullable column needs no default.
    op.add_column("alert_subscriptions", sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
    subscriptions = sa.table(
        "alert_subscriptions",
        sa.column("active", sa.Boolean()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("removed_at", sa.DateTime(timezone=True)),
    )
    op.execute(
        subscriptions.update()
        .where(subscriptions.c.active.is_(False))
        .values(removed_at=subscriptions.c.created_at)
    )


def downgrade() -> None:
    op.drop_column("alert_subscriptions", "removed_at")
