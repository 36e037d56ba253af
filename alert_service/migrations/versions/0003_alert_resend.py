"""Alerts remember how many attempts were made before an operator re-sent them
(``alert_alerts.attempts_before_resend``), so a re-sent alert gets the whole retry schedule again while
its attempt numbers keep counting.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both databases (SQLite has had DROP COLUMN since 3.35): a batch operation
# would rebuild the table on SQLite, and dropping the old table would cascade into its attempts.


def upgrade() -> None:
    column = sa.Column("attempts_before_resend", sa.Integer(), nullable=False, server_default="0")
    op.add_column("alert_alerts", column)


def downgrade() -> None:
    op.drop_column("alert_alerts", "attempts_before_resend")
