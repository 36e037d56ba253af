"""Subscriptions keep a watch rule (``alert_subscriptions.rule``, JSON with a ``version``) instead of a
list of topics; each existing subscription's topics become a rule asking for any of them. Stored
articles keep the id of the feed they came from (``alert_articles.feed_id``), for rules on sources.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ALTER TABLE on both databases (see 0003): a batch operation would rebuild the table on SQLite.
# SQLite adds a NOT NULL column only with a default; PostgreSQL drops it once the rows are filled.
_SUBSCRIPTIONS = sa.table(
    "alert_subscriptions",
    sa.column("id", sa.Integer()),
    sa.column("topics", sa.JSON()),
    sa.column("rule", sa.JSON()),
)


def _rule_of(topics: list[str]) -> dict[str, Any]:
    # Version 1 of the watch rule (alert_service.rules.WatchRule), written out: a migration does not
    # follow later changes of the model.
    return {"version": 1, "topics": [{"topic": topic} for topic in topics]}


def upgrade() -> None:
    op.add_column("alert_articles", sa.Column("feed_id", sa.Integer(), nullable=True))
    op.add_column("alert_subscriptions", sa.Column("rule", sa.JSON(), nullable=False, server_default="{}"))
    connection = op.get_bind()
    for subscription_id, topics in connection.execute(
        sa.select(_SUBSCRIPTIONS.c.id, _SUBSCRIPTIONS.c.topics)
    ):
        connection.execute(
            _SUBSCRIPTIONS.update()
            .where(_SUBSCRIPTIONS.c.id == subscription_id)
            .values(rule=_rule_of(list(topics or [])))
        )
    if connection.dialect.name == "postgresql":
        op.alter_column("alert_subscriptions", "rule", server_default=None)
    op.drop_column("alert_subscriptions", "topics")


def downgrade() -> None:
    # A rule's other criteria cannot be kept as topics: the subscription keeps only its topics.
    op.add_column("alert_subscriptions", sa.Column("topics", sa.JSON(), nullable=False, server_default="[]"))
    connection = op.get_bind()
    rows = connection.execute(sa.select(_SUBSCRIPTIONS.c.id, _SUBSCRIPTIONS.c.rule)).all()
    for subscription_id, rule in rows:
        topics = [criterion["topic"] for criterion in (rule or {}).get("topics", [])]
        connection.execute(
            _SUBSCRIPTIONS.update().where(_SUBSCRIPTIONS.c.id == subscription_id).values(topics=topics)
        )
    if connection.dialect.name == "postgresql":
        op.alter_column("alert_subscriptions", "topics", server_default=None)
    op.drop_column("alert_subscriptions", "rule")
    op.drop_column("alert_articles", "feed_id")
