"""A file rejected before it is read (a link, a FIFO, an unreadable or oversized file) has no hash.

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


def upgrade() -> None:
    with op.batch_alter_table("ingest_files") as batch:
        batch.alter_column("sha256", existing_type=sa.String(64), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE ingest_files SET sha256 = '' WHERE sha256 IS NULL")
    with op.batch_alter_table("ingest_files") as batch:
        batch.alter_column("sha256", existing_type=sa.String(64), nullable=False)
