"""Stories: articles grouped by the event they report (``alert_stories``, ``alert_story_members``);
alerts name their story (``alert_alerts.story_id``, unique per subscription) and record the later
articles of that story that matched (``alert_alert_articles``).

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
        "alert_stories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_article_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_stories")),
    )
    op.create_table(
        "alert_story_members",
        sa.Column("article_id", sa.String(64), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("grouped_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["alert_articles.id"],
            name=op.f("fk_alert_story_members_article_id_alert_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["story_id"],
            ["alert_stories.id"],
            name=op.f("fk_alert_story_members_story_id_alert_stories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_alert_story_members")),
    )
    op.create_index(op.f("ix_alert_story_members_story_id"), "alert_story_members", ["story_id"])
    op.create_index(op.f("ix_alert_story_members_published_at"), "alert_story_members", ["published_at"])
    op.create_table(
        "alert_alert_articles",
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert_alerts.id"],
            name=op.f("fk_alert_alert_articles_alert_id_alert_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["alert_articles.id"],
            name=op.f("fk_alert_alert_articles_article_id_alert_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alert_id", "article_id", name=op.f("pk_alert_alert_articles")),
    )
    # Plain ALTER TABLE on both databases: a batch operation would rebuild alert_alerts on SQLite.
    op.add_column("alert_alerts", sa.Column("story_id", sa.Integer(), nullable=True))
    op.create_index(
        "uq_alert_alerts_subscription_id_story_id",
        "alert_alerts",
        ["subscription_id", "story_id"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_alert_alerts_subscription_id_story_id", table_name="alert_alerts")
    op.drop_column("alert_alerts", "story_id")
    op.drop_table("alert_alert_articles")
    op.drop_index(op.f("ix_alert_story_members_published_at"), table_name="alert_story_members")
    op.drop_index(op.f("ix_alert_story_members_story_id"), table_name="alert_story_members")
    op.drop_table("alert_story_members")
    op.drop_table("alert_stories")
