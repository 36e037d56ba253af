"""Commands the alert service adds to ``rasid``: subscribe, subscriptions, articles, alerts.

They read ``RASID_DATABASE_URL`` and expect a current schema (``rasid db upgrade``); each list command
prints a table for people, or one JSON object per row with ``--json`` for scripts.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import click
from sqlalchemy.orm import Session

from alert_service.delivery import resend_alerts
from alert_service.errors import AlertError
from alert_service.models import STATUSES
from alert_service.reports import (
    AlertRecord,
    ArticleRow,
    alert_records,
    alerts_by_id,
    recent_alerts,
    recent_articles,
)
from alert_service.rules import parse_topics
from alert_service.settings import AlertSettings
from alert_service.subscriptions import Channel, list_subscriptions, remove_subscription, subscribe
from shared.commands import (
    command_session,
    echo_json,
    echo_json_lines,
    fields_of,
    json_option,
    printable,
    redacted_url,
)
from shared.db import utc_now
from shared.errors import RasidError
from shared.net import TargetPolicy
from shared.services import known_topics
from shared.settings import load_settings

TOPICS_HELP = "Comma-separated topics, e.g. strikes,withdrawal."
# What ``--json`` prints of each row (a subscription's secret is shown once, by ``subscribe``).
SUBSCRIPTION_FIELDS = ("id", "channel", "target", "topics", "active", "created_at")
ARTICLE_FIELDS = ("id", "title", "source", "source_kind", "url", "published_at", "stored_at")
ALERT_FIELDS = (
    "id", "subscription_id", "article_id", "story_id", "status", "attempts", "last_error", "next_attempt_at",
    "delivered_at", "created_at",
)


def _session() -> AbstractContextManager[Session]:
    """A session on a current schema; the alert service's errors end the command with their message."""
    return command_session(AlertSettings, errors=(AlertError,))


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _target(target: str) -> str:
    """A subscription's address or URL as a table shows it: one line, no credentials."""
    return printable(redacted_url(target))


def _topics(raw: str) -> list[str]:
    """The topics asked for, each one a topic the classifier's taxonomy defines."""
    try:
        topics = parse_topics(raw)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--topics") from error
    try:
        known = known_topics()
    except RasidError as error:
        raise click.ClickException(f"cannot read the known topics: {error}") from error
    unknown = [topic for topic in topics if known is not None and topic not in known]
    if unknown and known is not None:
        listed = ", ".join(sorted(known))
        raise click.BadParameter(
            f"unknown topic: {', '.join(unknown)} (known topics: {listed})", param_hint="--topics"
        )
    return topics


@click.group("subscribe")
def subscribe_group() -> None:
    """Subscribe an email address or a webhook URL to topics."""


def _subscribe(channel: Channel, target: str, topics: list[str], *, as_json: bool) -> None:
    with _session() as session:
        policy = TargetPolicy.from_settings(load_settings(AlertSettings))
        created = subscribe(session, channel, target=target, topics=topics, policy=policy)
    if as_json:
        row = {"id": created.id, "channel": channel, "target": target, "topics": topics}
        echo_json({**row, "secret": created.secret})
        return
    click.echo(f"subscription {created.id}: {channel} {_target(target)} topics={','.join(topics)}")
    if created.secret:
        click.echo(f"signing secret (shown once, keep it): {created.secret}")


@subscribe_group.command("email")
@click.argument("address")
@click.option("--topics", required=True, help=TOPICS_HELP)
@json_option
def subscribe_email(address: str, topics: str, as_json: bool) -> None:
    """Email ADDRESS when an article is tagged with one of the topics."""
    _subscribe("email", address, _topics(topics), as_json=as_json)


@subscribe_group.command("webhook")
@click.argument("url")
@click.option("--topics", required=True, help=TOPICS_HELP)
@json_option
def subscribe_webhook(url: str, topics: str, as_json: bool) -> None:
    """POST signed alerts to URL (Standard Webhooks) for the topics."""
    _subscribe("webhook", url, _topics(topics), as_json=as_json)


@click.group("subscriptions")
def subscriptions_group() -> None:
    """List or remove subscriptions."""


@subscriptions_group.command("list")
@click.option("--all", "include_inactive", is_flag=True, help="Include removed subscriptions.")
@json_option
def subscriptions_list(include_inactive: bool, as_json: bool) -> None:
    """Show subscriptions: id, channel, target, topics, created."""
    with _session() as session:
        rows = list_subscriptions(session, include_inactive=include_inactive)
    if as_json:
        shown = ({**fields_of(row, SUBSCRIPTION_FIELDS), "target": redacted_url(row.target)} for row in rows)
        echo_json_lines(shown)
        return
    if not rows:
        click.echo("no subscriptions")
        return
    click.echo(f"{'ID':>4}  {'CHANNEL':<8} {'CREATED':<16}  {'TOPICS':<28} TARGET")
    for row in rows:
        state = "" if row.active else " (removed)"
        topics = ",".join(row.topics)
        head = f"{row.id:>4}  {row.channel:<8} {_when(row.created_at):<16}  {topics:<28}"
        click.echo(f"{head} {_target(row.target)}{state}")


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
@json_option
def articles_list(limit: int, topic: str | None, as_json: bool) -> None:
    """Stored articles, newest first, with their topics and scores."""
    with _session() as session:
        rows = recent_articles(session, limit=limit, topic=topic)
    if as_json:
        echo_json_lines(article_json(row) for row in rows)
        return
    if not rows:
        click.echo("no articles")
    for row in rows:
        # The Arabic title goes on its own line so bidi reordering cannot scramble the columns.
        topics = ", ".join(f"{topic} {score:.2f}" for topic, score in row.topics) or "-"
        click.echo(f"{row.id[:16]}  {_when(row.published_at or row.stored_at)}  {printable(row.source)}")
        click.echo(f"    topics: {topics}")
        click.echo(f"    {printable(row.title)}")


@click.group("alerts")
def alerts_group() -> None:
    """Show alerts and their delivery state."""


@alerts_group.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--status", type=click.Choice(STATUSES), default=None)
@json_option
def alerts_list(limit: int, status: str | None, as_json: bool) -> None:
    """Alerts, newest first: id, subscription, article, status, attempts, last error."""
    with _session() as session:
        rows = recent_alerts(session, limit=limit, status=status)
        records = {record.alert.id: record for record in alert_records(session, [row.id for row in rows])}
    if as_json:
        echo_json_lines(alert_json(records[row.id]) for row in rows)
        return
    if not rows:
        click.echo("no alerts")
        return
    click.echo(f"{'ID':>5} {'SUB':>4}  {'ARTICLE':<16}  {'STATUS':<9} {'TRIES':>5}  LAST ERROR")
    for row in rows:
        head = f"{row.id:>5} {row.subscription_id:>4}  {row.article_id[:16]:<16}"
        error = printable(row.last_error or "")[:60]
        click.echo(f"{head}  {row.status:<9} {row.attempts:>5}  {error}".rstrip())
        also = records[row.id].also_reported_by
        if also:
            click.echo(f"      also reported by {printable(', '.join(also))}")


@alerts_group.command("show")
@click.argument("alert_id", type=int)
@json_option
def alerts_show(alert_id: int, as_json: bool) -> None:
    """One alert: its state, its article and every other article of its story that matched."""
    with _session() as session:
        records = alert_records(session, [alert_id])
    if not records:
        raise click.ClickException(f"no alert {alert_id}")
    record = records[0]
    if as_json:
        echo_json(alert_json(record))
        return
    alert, article = record.alert, record.article
    state = f"{alert.status}, {alert.attempts} attempt(s)"
    click.echo(f"alert {alert.id}: subscription {alert.subscription_id}, {state}")
    click.echo(f"story: {alert.story_id if alert.story_id is not None else '-'}")
    when = _when(article.published_at)
    click.echo(f"article: {article.article_id}  {when}  {printable(article.source)}")
    click.echo(f"    {printable(article.title)}")
    if alert.last_error:
        click.echo(f"last error: {printable(alert.last_error)}")
    click.echo(f"outlets: {printable(', '.join(record.outlets))}")
    if record.also_reported_by:
        click.echo(f"also reported by {printable(', '.join(record.also_reported_by))}")
    for later in record.later:
        click.echo(f"  + {later.article_id[:16]}  {_when(later.published_at)}  {printable(later.source)}")
        click.echo(f"    {printable(later.title)}")


@alerts_group.command("retry")
@click.argument("alert_id", type=int, required=False)
@click.option("--failed", "every_failed", is_flag=True, help="Re-send every failed alert.")
@json_option
def alerts_retry(alert_id: int | None, every_failed: bool, as_json: bool) -> None:
    """Send ALERT_ID again, or every failed alert with --failed.

    The alert is due at once and gets the whole retry schedule again; its attempts so far stay in
    its history. The delivery sweep sends it (within RASID_DELIVERY_SWEEP_SECONDS).
    """
    if (alert_id is not None) == every_failed:
        raise click.UsageError("give an alert id or --failed")
    with _session() as session:
        resent = resend_alerts(session, None if alert_id is None else [alert_id], now=utc_now())
        rows = alerts_by_id(session, resent)
    if as_json:
        echo_json_lines(fields_of(row, ALERT_FIELDS) for row in rows)
        return
    if not rows:
        click.echo("no failed alerts")
    for row in rows:
        click.echo(f"alert {row.id}: {row.status}, due now ({row.attempts} attempt(s) so far)")


def alert_json(record: AlertRecord) -> dict[str, Any]:
    """An alert as ``alerts list --json`` and ``alerts show --json`` print it, with its story's outlets
    and the later articles recorded against it."""
    later = [
        {"article_id": item.article_id, "source": item.source, "title": item.title} for item in record.later
    ]
    return {
        **fields_of(record.alert, ALERT_FIELDS),
        "also_reported_by": record.also_reported_by,
        "story_articles": later,
    }


def article_json(row: ArticleRow) -> dict[str, Any]:
    """An article as ``articles list --json`` prints it, its topics highest score first."""
    topics = [{"topic": topic, "score": score} for topic, score in row.topics]
    return {**fields_of(row, ARTICLE_FIELDS), "topics": topics}
