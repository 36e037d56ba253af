"""The classifier service's table: analysts' feedback labels.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
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
        "classify_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("label", sa.Boolean(), nullable=False),
        sa.Column("given_by", sa.String(length=128), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classify_feedback")),
    )
    op.create_index(
        "ix_classify_feedback_article_topic", "classify_feedback", ["article_id", "topic"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_classify_feedback_article_topic", table_name="classify_feedback")
    op.drop_table("classify_feedback")
