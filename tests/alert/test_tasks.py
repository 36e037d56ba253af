"""The Celery tasks called as plain functions: names, and delivery requested after commit.

The broker is the edge here: ``app.send_task`` is recorded instead of sent (end-to-end tests with
real workers live elsewhere).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update

from alert_service import tasks
from alert_service.models import Alert
from alert_service.settings import alert_settings
from alert_service.stories import default_idf, places_of
from shared.db import session_scope
from shared.messages import ArticlesClassified, ArticlesStored, DeliveryRequested
from shared.task_names import DELIVER_ALERT, STORE_CLASSIFIED, STORE_CLASSIFIED_BATCH, SWEEP_DELIVERIES
from tests.alert.helpers import MessageFactory, add_subscription, alert, make_due, store


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    monkeypatch.setenv("RASID_DATABASE_URL", database_url)
    alert_settings.cache_clear()
    records: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(
        tasks.app, "send_task", lambda name, kwargs, **_options: records.append((name, kwargs))
    )
    yield records
    alert_settings.cache_clear()


def test_tasks_are_registered_under_the_shared_names() -> None:
    assert {STORE_CLASSIFIED, STORE_CLASSIFIED_BATCH, DELIVER_ALERT, SWEEP_DELIVERIES} <= set(tasks.app.tasks)


def test_store_task_requests_delivery_of_each_new_alert_once(
    database_url: str, sent: list[tuple[str, dict[str, Any]]], make_message: MessageFactory
) -> None:
    add_subscription(database_url, "email", "a@example.org", ["strikes"])
    add_subscription(database_url, "email", "b@example.org", ["withdrawal"])
    message = make_message()
    tasks.store_classified(message.to_payload())
    tasks.store_classified(message.to_payload())
    deliveries = [kwargs for name, kwargs in sent if name == DELIVER_ALERT]
    confirmations = [kwargs for name, kwargs in sent if name == tasks.CONFIRM_STORED_BATCH]
    assert len(deliveries) == 2
    stored = ArticlesStored(article_ids=(message.article.article_id,)).to_payload()
    assert confirmations == [{"payload": stored}] * 2, "the ingest service hears of it each time"
    ids = [DeliveryRequested.from_payload(kwargs["payload"]).alert_id for kwargs in deliveries]
    assert [alert(database_url, alert_id).status for alert_id in ids] == ["pending", "pending"]


def test_batch_store_task_confirms_the_batch_in_one_message_after_commit(
    database_url: str, sent: list[tuple[str, dict[str, Any]]], make_message: MessageFactory
) -> None:
    add_subscription(database_url, "email", "a@example.org", ["strikes"])
    first, second = make_message("1" * 32), make_message("2" * 32, tags=["withdrawal"])
    batch = ArticlesClassified(items=(first, second, first)).to_payload()
    tasks.store_classified_batch(batch)
    tasks.store_classified_batch(batch)
    confirmations = [kwargs for name, kwargs in sent if name == tasks.CONFIRM_STORED_BATCH]
    stored = ArticlesStored(article_ids=("1" * 32, "2" * 32)).to_payload()
    assert confirmations == [{"payload": stored}] * 2
    [delivery] = [kwargs for name, kwargs in sent if name == DELIVER_ALERT]
    alert_id = DeliveryRequested.from_payload(delivery["payload"]).alert_id
    assert alert(database_url, alert_id).article_id == "1" * 32


def test_sweep_task_requests_delivery_of_due_alerts(
    database_url: str, sent: list[tuple[str, dict[str, Any]]], make_message: MessageFactory
) -> None:
    add_subscription(database_url, "email", "a@example.org", ["strikes"])
    [alert_id] = store(database_url, make_message())
    _make_overdue(database_url, alert_id)
    tasks.sweep_deliveries()
    assert sent == [(DELIVER_ALERT, {"payload": DeliveryRequested(alert_id=alert_id).to_payload()})]


def _make_overdue(url: str, alert_id: int) -> None:
    make_due(url, alert_id, datetime(2000, 1, 1, tzinfo=UTC))
    with session_scope(url) as session:
        session.execute(update(Alert).where(Alert.id == alert_id).values(dispatched_at=None))


def test_the_worker_reads_its_story_tables_before_the_pool_forks() -> None:
    default_idf.cache_clear()
    places_of.cache_clear()
    tasks._load_before_fork()
    # A pool child's first batch finds them read.
    assert default_idf.cache_info().currsize == 1
    assert places_of.cache_info().currsize == 1
