"""The ingest service's tables: files seen, articles seen, feeds.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("article_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('ingested', 'duplicate', 'rejected')", name=op.f("ck_ingest_files_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_files")),
        sa.UniqueConstraint("path", "size", "mtime_ns", name=op.f("uq_ingest_files_path_size_mtime_ns")),
    )
    op.create_index(op.f("ix_ingest_files_article_id"), "ingest_files", ["article_id"])
    op.create_table(
        "ingest_articles",
        sa.Column("article_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_ingest_articles")),
    )
    op.create_table(
        "ingest_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("title", sa.String(length=1024), nullable=True),
        sa.Column("etag", sa.String(length=1024), nullable=True),
        sa.Column("last_modified", sa.String(length=128), nullable=True),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_feeds")),
        sa.UniqueConstraint("url", name=op.f("uq_ingest_feeds_url")),
    )


def downgrade() -> None:
    op.drop_table("ingest_feeds")
    op.drop_table("ingest_articles")
    op.drop_index(op.f("ix_ingest_files_article_id"), table_name="ingest_files")
    op.drop_table("ingest_files")
