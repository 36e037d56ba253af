"""The alert service's tables are named after it, as the ingest service's are: ``alert_articles``,
``alert_tags``, ``alert_article_entities``, ``alert_subscriptions``, ``alert_alerts`` and
``alert_delivery_attempts``; their constraints, indexes and sequences follow the naming convention
under the new names.

PostgreSQL renames in place (no row is rewritten). SQLite cannot rename a constraint, so each table
is created under its new name, its rows copied, and the old tables dropped, children first: with
foreign keys enforced, dropping a parent first would cascade into its children's rows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Parents before children.
TABLES = ("articles", "subscriptions", "alerts", "article_entities", "tags", "delivery_attempts")
PREFIX = "alert_"


def upgrade() -> None:
    _rename(old_prefix="", new_prefix=PREFIX)


def downgrade() -> None:
    _rename(old_prefix=PREFIX, new_prefix="")


def _rename(*, old_prefix: str, new_prefix: str) -> None:
    old, new = _schema(old_prefix), _schema(new_prefix)
    if op.get_bind().dialect.name == "postgresql":
        _rename_in_place(old, new, old_prefix=old_prefix, new_prefix=new_prefix)
    else:
        _copy_under_new_names(old, new, old_prefix=old_prefix, new_prefix=new_prefix)


def _rename_in_place(old: sa.MetaData, new: sa.MetaData, *, old_prefix: str, new_prefix: str) -> None:
    for base in TABLES:
        old_table, new_table = old.tables[old_prefix + base], new.tables[new_prefix + base]
        op.rename_table(old_table.name, new_table.name)
        for before, after in _paired(old_table.constraints, new_table.constraints):
            op.execute(f'ALTER TABLE "{new_table.name}" RENAME CONSTRAINT "{before}" TO "{after}"')
        for before, after in _paired(old_table.indexes, new_table.indexes):
            op.execute(f'ALTER INDEX "{before}" RENAME TO "{after}"')
        if _has_serial_id(new_table):
            op.execute(f'ALTER SEQUENCE "{old_table.name}_id_seq" RENAME TO "{new_table.name}_id_seq"')


def _copy_under_new_names(old: sa.MetaData, new: sa.MetaData, *, old_prefix: str, new_prefix: str) -> None:
    bind = op.get_bind()
    new.create_all(bind)
    for base in TABLES:
        source, target = old.tables[old_prefix + base], new.tables[new_prefix + base]
        columns = [column.name for column in source.columns]
        bind.execute(sa.insert(target).from_select(columns, sa.select(*source.columns)))
    old.drop_all(bind)


def _paired(
    before: Iterable[sa.Constraint | sa.Index], after: Iterable[sa.Constraint | sa.Index]
) -> list[tuple[str, str]]:
    """(old name, new name) of the same constraint or index in the two versions of a table."""
    names = {_identity(item): item.name for item in after}
    return sorted((str(item.name), str(names[_identity(item)])) for item in before)


def _identity(item: sa.Constraint | sa.Index) -> tuple[str, tuple[str, ...], str]:
    columns = tuple(column.name for column in getattr(item, "columns", ()))
    return type(item).__name__, columns, str(getattr(item, "sqltext", ""))


def _has_serial_id(table: sa.Table) -> bool:
    return "id" in table.c and isinstance(table.c.id.type, sa.Integer) and table.c.id.primary_key


def _schema(prefix: str) -> sa.MetaData:
    """The alert service's tables as of this revision, their names starting with ``prefix``."""
    metadata = sa.MetaData()
    articles, subscriptions, alerts, entities, tags, attempts = (prefix + base for base in TABLES)
    sa.Table(
        articles,
        metadata,
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{articles}"),
        sa.Index(f"ix_{articles}_stored_at", "stored_at"),
    )
    sa.Table(
        subscriptions,
        metadata,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("channel IN ('email', 'webhook')", name=f"ck_{subscriptions}_channel"),
        sa.PrimaryKeyConstraint("id", name=f"pk_{subscriptions}"),
    )
    sa.Table(
        alerts,
        metadata,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'delivered', 'failed')", name=f"ck_{alerts}_status"
        ),
        sa.ForeignKeyConstraint(
            ["article_id"], [f"{articles}.id"], name=f"fk_{alerts}_article_id_{articles}", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            [f"{subscriptions}.id"],
            name=f"fk_{alerts}_subscription_id_{subscriptions}",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{alerts}"),
        sa.UniqueConstraint("subscription_id", "article_id", name=f"uq_{alerts}_subscription_id_article_id"),
        sa.Index(f"ix_{alerts}_article_id", "article_id"),
        sa.Index(f"ix_{alerts}_status_next_attempt_at", "status", "next_attempt_at"),
    )
    sa.Table(
        entities,
        metadata,
        sa.Column("article_id", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("mentions", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            [f"{articles}.id"],
            name=f"fk_{entities}_article_id_{articles}",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "entity_id", name=f"pk_{entities}"),
    )
    sa.Table(
        tags,
        metadata,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("classifier_version", sa.String(length=64), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], [f"{articles}.id"], name=f"fk_{tags}_article_id_{articles}", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{tags}"),
        sa.UniqueConstraint(
            "article_id", "topic", "classifier_version", name=f"uq_{tags}_article_id_topic_classifier_version"
        ),
        sa.Index(f"ix_{tags}_topic", "topic"),
    )
    sa.Table(
        attempts,
        metadata,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('delivered', 'retry', 'failed')", name=f"ck_{attempts}_outcome"
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"], [f"{alerts}.id"], name=f"fk_{attempts}_alert_id_{alerts}", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{attempts}"),
        sa.UniqueConstraint("alert_id", "attempt", name=f"uq_{attempts}_alert_id_attempt"),
    )
    return metadata
