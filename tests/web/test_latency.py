"""Latency histograms in ``/metrics``, counted from the timestamps the tasks write (PostgreSQL and
SQLite): an article's ingest to its storage, and each delivery attempt's duration per channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from alert_service.models import Alert, DeliveryAttempt
from alert_service.store import store_classified
from shared.db import session_scope
from shared.messages import ArticleClassified, content_id
from tests.alert.helpers import load_fixture
from tests.web.conftest import Api

STORED = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


def store(api: Api, title: str, *, took: float) -> None:
    """Store an article ``took`` seconds after it was ingested."""
    payload = load_fixture("classified_article.json")
    text = f"{title}: غارات جوية على مواقع قرب الحدود."
    ingested = STORED - timedelta(seconds=took)
    payload["article"].update(
        article_id=content_id(title, text), title=title, text=text, ingested_at=ingested.isoformat()
    )
    with session_scope(api.database_url) as session:
        store_classified(session, ArticleClassified.from_payload(payload), now=STORED)


def samples(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = api.client.get("/metrics", headers=api.reader)
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_the_pipeline_and_delivery_latencies_are_histograms(api: Api) -> None:
    api.client.post(
        "/api/v1/subscriptions",
        json={"channel": "webhook", "target": "http://127.0.0.1:9/hook", "rule": "topic:strikes"},
        headers=api.writer,
    )
    store(api, "غارة أولى", took=0.3)
    store(api, "غارة ثانية بعيدة", took=45)
    with session_scope(api.database_url) as session:
        alert_id = session.scalars(select(Alert.id)).first()
        for attempt, seconds in enumerate((0.08, 2.0), start=1):
            started = STORED + timedelta(minutes=attempt)
            session.add(
                DeliveryAttempt(
                    alert_id=alert_id,
                    attempt=attempt,
                    started_at=started,
                    finished_at=started + timedelta(seconds=seconds),
                    outcome="retry" if attempt == 1 else "delivered",
                )
            )
        session.add(DeliveryAttempt(alert_id=alert_id, attempt=3, started_at=STORED))  # in flight
    found = samples(api)
    feed = (("source_kind", "feed"),)
    pipeline = "rasid_article_pipeline_seconds"
    assert found[(f"{pipeline}_bucket", (("le", "0.25"), *feed))] == 0
    assert found[(f"{pipeline}_bucket", (("le", "0.5"), *feed))] == 1
    assert found[(f"{pipeline}_bucket", (("le", "60"), *feed))] == 2
    assert found[(f"{pipeline}_bucket", (("le", "+Inf"), *feed))] == 2
    assert found[(f"{pipeline}_count", feed)] == 2
    assert abs(found[(f"{pipeline}_sum", feed)] - 45.3) < 0.01
    webhook = (("channel", "webhook"),)
    attempts = "rasid_alert_attempt_seconds"
    assert found[(f"{attempts}_bucket", (("channel", "webhook"), ("le", "0.1")))] == 1
    assert found[(f"{attempts}_bucket", (("channel", "webhook"), ("le", "2.5")))] == 2
    assert found[(f"{attempts}_count", webhook)] == 2
    assert abs(found[(f"{attempts}_sum", webhook)] - 2.08) < 0.01
