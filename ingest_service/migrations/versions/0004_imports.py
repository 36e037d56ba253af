"""The ledger of ``rasid import``: each item of an imported folder, archive or JSON lines file.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('ingested', 'duplicate', 'rejected')", name=op.f("ck_ingest_imports_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_imports")),
        sa.UniqueConstraint("key", "size", "mtime_ns", name=op.f("uq_ingest_imports_key_size_mtime_ns")),
    )


def downgrade() -> None:
    op.drop_table("ingest_imports")
