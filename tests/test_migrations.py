"""Each service's migrations build exactly the tables its models declare, under names that follow
the naming convention, on SQLite and on PostgreSQL; and a database made by older migrations is
upgraded with its rows kept."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.metadata import entry_points
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Inspector, MetaData, Table, inspect, select, text
from sqlalchemy.orm import Session

from alert_service.migrations import SCRIPT_LOCATION as ALERT_MIGRATIONS
from alert_service.models import Alert, Article, ArticleEntity, DeliveryAttempt, Subscription, Tag
from alert_service.models import Base as AlertBase
from classifier_service.feedback import Base as ClassifierBase
from ingest_service.models import Base as IngestBase
from shared.db import get_engine, session_scope
from shared.migrations import MIGRATIONS_GROUP, alembic_config, upgrade_all
from shared.web.tokens import Base as WebBase

SERVICES: dict[str, MetaData] = {
    "ingest": IngestBase.metadata,
    "classify": ClassifierBase.metadata,
    "alert": AlertBase.metadata,
    # Not a service: the web part of shared, whose API tokens guard every service's routes.
    "web": WebBase.metadata,
}


def test_every_service_with_migrations_is_checked_and_prefixes_its_tables() -> None:
    assert {point.name for point in entry_points(group=MIGRATIONS_GROUP)} == set(SERVICES)
    for service, metadata in SERVICES.items():
        assert all(name.startswith(f"{service}_") for name in metadata.tables), service


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_migrations_build_what_the_models_declare(database_url: str, service: str) -> None:
    metadata = SERVICES[service]
    with get_engine(database_url).connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": lambda name, type_, _parent: type_ != "table" or name in metadata.tables,
            },
        )
        assert compare_metadata(context, metadata) == []
        inspector = inspect(connection)
        for table in metadata.tables.values():
            assert _reflected_names(inspector, table.name) == _declared_names(table), table.name
            serial = table.autoincrement_column
            if connection.dialect.name == "postgresql" and serial is not None:
                query = f"SELECT pg_get_serial_sequence('{table.name}', '{serial.name}')"
                assert connection.scalar(text(query)) == f"public.{table.name}_{serial.name}_seq"


def _declared_names(table: Table) -> set[str]:
    return {str(item.name) for item in [*table.constraints, *table.indexes]}


def _reflected_names(inspector: Inspector, table: str) -> set[str]:
    names = {inspector.get_pk_constraint(table)["name"]}
    names |= {key["name"] for key in inspector.get_foreign_keys(table)}
    names |= {unique["name"] for unique in inspector.get_unique_constraints(table)}
    names |= {check["name"] for check in inspector.get_check_constraints(table)}
    names |= {
        index["name"] for index in inspector.get_indexes(table) if not index.get("duplicates_constraint")
    }
    return {str(name) for name in names}


MOMENT = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
# Rows as the alert service wrote them before its tables were renamed; serial ids are left to the
# database, so its sequences have moved as they do in use.
OLD_ROWS: dict[str, dict[str, Any]] = {
    "articles": {
        "id": "a" * 32,
        "title": "عنوان",
        "text": "نص الخبر",
        "source": "seed.txt",
        "source_kind": "file",
        "url": None,
        "published_at": None,
        "ingested_at": MOMENT,
        "stored_at": MOMENT,
    },
    "subscriptions": {
        "channel": "webhook",
        "target": "https://hooks.example.org/",
        "topics": ["strikes"],
        "secret": "whsec_x",
        "created_at": MOMENT,
        "active": True,
    },
    "tags": {
        "article_id": "a" * 32,
        "topic": "strikes",
        "score": 0.9,
        "classifier_version": "1",
        "evidence": [],
    },
    "article_entities": {
        "article_id": "a" * 32,
        "entity_id": "country:iq",
        "kind": "country",
        "name": "العراق",
        "mentions": 2,
    },
    "alerts": {
        "subscription_id": 1,
        "article_id": "a" * 32,
        "status": "delivered",
        "attempts": 1,
        "next_attempt_at": MOMENT,
        "lease_until": None,
        "dispatched_at": MOMENT,
        "last_error": None,
        "delivered_at": MOMENT,
        "created_at": MOMENT,
    },
    "delivery_attempts": {
        "alert_id": 1,
        "attempt": 1,
        "started_at": MOMENT,
        "finished_at": MOMENT,
        "outcome": "delivered",
        "detail": "200",
    },
}


TOPIC_RULE = {"version": 1, "topics": [{"topic": "strikes"}]}


def _alert_migrations(url: str, revision: str, *, down: bool = False) -> None:
    config = alembic_config(service="alert", script_location=ALERT_MIGRATIONS, database_url=url)
    (command.downgrade if down else command.upgrade)(config, revision)


def _insert_old_rows(url: str) -> None:
    with get_engine(url).begin() as connection:
        for name, row in OLD_ROWS.items():
            connection.execute(Table(name, MetaData(), autoload_with=connection).insert(), row)


def test_alert_tables_are_renamed_with_their_rows(empty_database_url: str) -> None:
    url = empty_database_url
    upgrade_all(url)
    _alert_migrations(url, "0001", down=True)
    _insert_old_rows(url)

    _alert_migrations(url, "head")

    with session_scope(url) as session:
        _assert_rows_kept(session)
        added = Subscription(
            channel="email", target="a@example.org", rule=TOPIC_RULE, created_at=MOMENT, active=True
        )
        session.add(added)
        session.flush()
        assert added.id == 2  # the id sequence went along with its table

    _alert_migrations(url, "0001", down=True)
    with get_engine(url).connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM subscriptions")) == 2
        assert connection.scalar(text("SELECT status FROM alerts")) == "delivered"
    _alert_migrations(url, "head")
    with session_scope(url) as session:
        _assert_rows_kept(session)


def _assert_rows_kept(session: Session) -> None:
    article = session.get_one(Article, "a" * 32)
    assert (article.title, article.stored_at) == ("عنوان", MOMENT)
    subscription = session.get_one(Subscription, 1)
    # 0005 turned the subscription's topics into a watch rule.
    assert (subscription.rule, subscription.secret, subscription.active) == (TOPIC_RULE, "whsec_x", True)
    assert session.scalars(select(Tag.topic)).all() == ["strikes"]
    assert session.scalars(select(ArticleEntity.entity_id)).all() == ["country:iq"]
    alert = session.get_one(Alert, 1)
    assert (alert.status, alert.delivered_at) == ("delivered", MOMENT)
    assert session.scalars(select(DeliveryAttempt.detail)).all() == ["200"]
