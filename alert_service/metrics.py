"""The alert service's part of ``/metrics``, counted from its own tables when Prometheus scrapes:
articles stored per source, tags per topic, alerts per channel and status, delivery attempts per
channel and outcome (delivered, retry, failed), and two latency histograms (:mod:`shared.latency`):
from an article's ingest to its storage (the queues, the classify and store tasks), and each delivery
attempt's duration (the deliver task's send) per channel."""

from __future__ import annotations

from prometheus_client import Metric
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alert_service.models import Alert, Article, DeliveryAttempt, Subscription, Tag
from shared.db import seconds_between
from shared.latency import add_histogram, histogram_columns


def metrics(session: Session) -> list[Metric]:
    """Every metric of the alert service, read in the caller's transaction."""
    stored = CounterMetricFamily("rasid_articles_stored", "Articles stored, by source.", labels=["source"])
    for source, count in session.execute(select(Article.source, func.count()).group_by(Article.source)):
        stored.add_metric([source], count)
    tagged = CounterMetricFamily(
        "rasid_articles_tagged", "Topic tags given to stored articles.", labels=["topic"]
    )
    for topic, count in session.execute(select(Tag.topic, func.count()).group_by(Tag.topic)):
        tagged.add_metric([topic], count)
    alerts = GaugeMetricFamily("rasid_alerts", "Alerts by channel and status.", labels=["channel", "status"])
    by_status = (
        select(Subscription.channel, Alert.status, func.count())
        .join(Subscription, Subscription.id == Alert.subscription_id)
        .group_by(Subscription.channel, Alert.status)
    )
    for channel, status, count in session.execute(by_status):
        alerts.add_metric([channel, status], count)
    attempts = CounterMetricFamily(
        "rasid_alert_attempts", "Delivery attempts by channel and outcome.", labels=["channel", "outcome"]
    )
    by_outcome = (
        select(Subscription.channel, DeliveryAttempt.outcome, func.count())
        .join(Alert, Alert.id == DeliveryAttempt.alert_id)
        .join(Subscription, Subscription.id == Alert.subscription_id)
        .where(DeliveryAttempt.outcome.is_not(None))
        .group_by(Subscription.channel, DeliveryAttempt.outcome)
    )
    for channel, outcome, count in session.execute(by_outcome):
        attempts.add_metric([channel, str(outcome)], count)
    return [stored, tagged, alerts, attempts, pipeline_latency(session), delivery_durations(session)]


def pipeline_latency(session: Session) -> Metric:
    """Seconds from an article's ingest to its storage, by the kind of source it came from."""
    family = HistogramMetricFamily(
        "rasid_article_pipeline_seconds",
        "Seconds from an article's ingest to its storage (queues, classify and store tasks).",
        labels=["source_kind"],
    )
    seconds = seconds_between(Article.ingested_at, Article.stored_at)
    rows = session.execute(
        select(Article.source_kind, *histogram_columns(seconds)).group_by(Article.source_kind)
    )
    for kind, *row in rows:
        add_histogram(family, [kind], row)
    return family


def delivery_durations(session: Session) -> Metric:
    """Seconds each finished delivery attempt took, by channel."""
    family = HistogramMetricFamily(
        "rasid_alert_attempt_seconds",
        "Seconds one delivery attempt took (the deliver task's send), by channel.",
        labels=["channel"],
    )
    seconds = seconds_between(DeliveryAttempt.started_at, DeliveryAttempt.finished_at)
    rows = session.execute(
        select(Subscription.channel, *histogram_columns(seconds))
        .join(Alert, Alert.id == DeliveryAttempt.alert_id)
        .join(Subscription, Subscription.id == Alert.subscription_id)
        .where(DeliveryAttempt.finished_at.is_not(None))
        .group_by(Subscription.channel)
    )
    for channel, *row in rows:
        add_histogram(family, [channel], row)
    return family
