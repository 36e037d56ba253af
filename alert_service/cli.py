"""Commands the alert service adds to ``rasid``: subscribe, subscriptions, articles, alerts.

They read ``RASID_DATABASE_URL`` and expect the schema to exist (``rasid db upgrade``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import click
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from alert_service.errors import SchemaMissingError, SubscriptionError
from alert_service.models import STATUSES, Base
from alert_service.reports import recent_alerts, recent_articles
from alert_service.rules import parse_topics
from alert_service.settings import AlertSettings
from alert_service.subscriptions import Channel, list_subscriptions, remove_subscription, subscribe
from shared.db import get_engine, session_scope
from shared.errors import ConfigurationError
from shared.settings import load_settings

TOPICS_HELP = "Comma-separated topics, e.g. strikes,withdrawal."


def _database_url() -> str:
    try:
        return load_settings(AlertSettings).resolved_database_url
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from error


def _check_schema(url: str) -> None:
    present = set(inspect(get_engine(url)).get_table_names())
    missing = sorted(set(Base.metadata.tables) - present)
    if missing:
        raise SchemaMissingError(
            f"the alert tables are missing ({', '.join(missing)}): run `rasid db upgrade`"
        )


@contextmanager
def _session() -> Iterator[Session]:
    url = _database_url()
    try:
        _check_schema(url)
        with session_scope(url) as session:
            yield session
    except (SchemaMissingError, SubscriptionError) as error:
        raise click.ClickException(str(error)) from error


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _topics(raw: str) -> list[str]:
    try:
        return parse_topics(raw)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--topics") from error


@click.group("subscribe")
def subscribe_group() -> None:
    """Subscribe an email address or a webhook URL to topics."""


def _subscribe(channel: Channel, target: str, topics: list[str]) -> None:
    with _session() as session:
        created = subscribe(session, channel, target=target, topics=topics)
    click.echo(f"subscription {created.id}: {channel} {target} topics={','.join(topics)}")
    if created.secret:
        click.echo(f"signing secret (shown once, keep it): {created.secret}")


@subscribe_group.command("email")
@click.argument("address")
@click.option("--topics", required=True, help=TOPICS_HELP)
def subscribe_email(address: str, topics: str) -> None:
    """Email ADDRESS when an article is tagged with one of the topics."""
    _subscribe("email", address, _topics(topics))


@subscribe_group.command("webhook")
@click.argument("url")
@click.option("--topics", required=True, help=TOPICS_HELP)
def subscribe_webhook(url: str, topics: str) -> None:
    """POST signed alerts to URL (Standard Webhooks) for the topics."""
    _subscribe("webhook", url, _topics(topics))


@click.group("subscriptions")
def subscriptions_group() -> None:
    """List or remove subscriptions."""


@subscriptions_group.command("list")
@click.option("--all", "include_inactive", is_flag=True, help="Include removed subscriptions.")
def subscriptions_list(include_inactive: bool) -> None:
    """Show subscriptions: id, channel, target, topics, created."""
    with _session() as session:
        rows = list_subscriptions(session, include_inactive=include_inactive)
    if not rows:
        click.echo("no subscriptions")
        return
    click.echo(f"{'ID':>4}  {'CHANNEL':<8} {'CREATED':<16}  {'TOPICS':<28} TARGET")
    for row in rows:
        state = "" if row.active else " (removed)"
        topics = ",".join(row.topics)
        click.echo(
            f"{row.id:>4}  {row.channel:<8} {_when(row.created_at):<16}  {topics:<28} {row.target}{state}"
        )


@subscriptions_group.command("remove")
@click.argument("subscription_id", type=int)
def subscriptions_remove(subscription_id: int) -> None:
    """Remove a subscription; its unsent alerts are not sent."""
    with _session() as session:
        cancelled = remove_subscription(session, subscription_id)
    click.echo(f"subscription {subscription_id} removed; {cancelled} pending alert(s) cancelled")


@click.group("articles")
def articles_group() -> None:
    """Show stored articles."""


@articles_group.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--topic", default=None, help="Only articles tagged with this topic.")
def articles_list(limit: int, topic: str | None) -> None:
    """Stored articles, newest first, with their topics and scores."""
    with _session() as session:
        rows = recent_articles(session, limit=limit, topic=topic)
    if not rows:
        click.echo("no articles")
    for row in rows:
        # The Arabic title goes on its own line so bidi reordering cannot scramble the columns.
        topics = ", ".join(f"{topic} {score:.2f}" for topic, score in row.topics) or "-"
        click.echo(f"{row.id[:16]}  {_when(row.published_at or row.stored_at)}  {row.source}")
        click.echo(f"    topics: {topics}")
        click.echo(f"    {' '.join(row.title.split())}")


@click.group("alerts")
def alerts_group() -> None:
    """Show alerts and their delivery state."""


@alerts_group.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--status", type=click.Choice(STATUSES), default=None)
def alerts_list(limit: int, status: str | None) -> None:
    """Alerts, newest first: id, subscription, article, status, attempts, last error."""
    with _session() as session:
        rows = recent_alerts(session, limit=limit, status=status)
    if not rows:
        click.echo("no alerts")
        return
    click.echo(f"{'ID':>5} {'SUB':>4}  {'ARTICLE':<16}  {'STATUS':<9} {'TRIES':>5}  LAST ERROR")
    for row in rows:
        head = f"{row.id:>5} {row.subscription_id:>4}  {row.article_id[:16]:<16}"
        click.echo(f"{head}  {row.status:<9} {row.attempts:>5}  {(row.last_error or '')[:60]}".rstrip())
