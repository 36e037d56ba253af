"""Articles handed on keep their message until the alert service confirms it stored them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_articles") as batch:
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("forwarded_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("sends", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_ingest_articles_forwarded_at"), ["forwarded_at"])


def downgrade() -> None:
    with op.batch_alter_table("ingest_articles") as batch:
        batch.drop_index(batch.f("ix_ingest_articles_forwarded_at"))
        for column in ("confirmed_at", "sends", "forwarded_at", "payload"):
            batch.drop_column(column)
