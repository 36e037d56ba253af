"""Commands the alert service adds to ``rasid``: subscribe, subscriptions, rules, articles, alerts.

They read ``RASID_DATABASE_URL`` and expect a current schema (``rasid db upgrade``); each list command
prints a table for people, or one JSON object per row with ``--json`` for scripts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, TypeVar

import click
from sqlalchemy.orm import Session

from alert_service.backtest import Backtest, Hit, by_stored_story, run_backtest
from alert_service.delivery import resend_alerts
from alert_service.errors import AlertError, RuleError, SubscriptionError
from alert_service.models import STATUSES
from alert_service.reports import (
    AlertRecord,
    ArticleRow,
    alert_records,
    alerts_by_id,
    recent_alerts,
    recent_articles,
)
from alert_service.rule_text import RuleReader, format_rule, split_rule
from alert_service.rules import WatchRule, parse_topics
from alert_service.schedules import Schedule, changed_schedule, format_schedule, read_schedule
from alert_service.settings import AlertSettings
from alert_service.subscriptions import (
    Channel,
    SubscriptionChange,
    change_subscription,
    get_subscription,
    list_subscriptions,
    live_subscription,
    remove_subscription,
    rule_of,
    schedule_of,
    state_of,
    subscribe,
)
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
from shared.gazetteer import EntityFinder, entity_finder
from shared.net import TargetPolicy
from shared.services import known_topics
from shared.settings import load_settings

TOPICS_HELP = "Comma-separated topics, e.g. strikes,withdrawal (a rule's topic: criteria)."
DIGEST_HELP = "immediate (default), hourly, or daily@HH:MM: one digest an hour or a day."
ZONE_HELP = "The subscriber's IANA time zone for --digest and --quiet, e.g. Asia/Baghdad (default UTC)."
QUIET_HELP = (
    "Quiet hours, e.g. 22:00-07:00: immediate alerts are held and sent as one digest after (off: none)."
)
RULE_HELP = "A watch rule, e.g. 'topic:strikes>=0.8 entity:Iraq -keyword:مناورات' (see README)."
# What ``--json`` prints of each row (a subscription's secret is shown once, by ``subscribe``).
SUBSCRIPTION_FIELDS = ("id", "channel", "target", "active", "created_at", "removed_at")
# The flags that add one criterion each to a rule, by the criterion's kind.
CRITERION_FLAGS = (
    ("topic", "Topic, optionally with a minimum score: strikes>=0.8."),
    ("entity", "Actor or place: an id (country:iq), an Arabic or an English name."),
    ("keyword", "Word or phrase, matched with clitics and endings."),
    ("source", "folder, a feed id, or a site's host."),
)
_DURATION = re.compile(r"^(?P<amount>\d+)(?P<unit>[hdw])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
EXAMPLES = 3
CommandT = TypeVar("CommandT", bound=Callable[..., Any])
ARTICLE_FIELDS = ("id", "title", "source", "source_kind", "url", "published_at", "stored_at")
ALERT_FIELDS = (
    "id",
    "subscription_id",
    "article_id",
    "story_id",
    "status",
    "attempts",
    "last_error",
    "next_attempt_at",
    "delivered_at",
    "created_at",
    "digest_id",
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
    known = _known_topics()
    unknown = [topic for topic in topics if known is not None and topic not in known]
    if unknown and known is not None:
        listed = ", ".join(sorted(known))
        raise click.BadParameter(
            f"unknown topic: {', '.join(unknown)} (known topics: {listed})", param_hint="--topics"
        )
    return topics


def _known_topics() -> frozenset[str] | None:
    try:
        known = known_topics()
    except RasidError as error:
        raise click.ClickException(f"cannot read the known topics: {error}") from error
    return None if known is None else frozenset(known)


def _finder() -> EntityFinder:
    """The gazetteer's names (RASID_GAZETTEER_PATH, else the packaged one); a bad file ends the command."""
    try:
        return entity_finder(load_settings(AlertSettings).gazetteer_path)
    except RasidError as error:
        raise click.ClickException(str(error)) from None


def read_rule(text: str, *, criteria: list[str] | None = None) -> WatchRule:
    """The rule of ``text`` and further ``criteria`` (each one ``kind:value``, already split),
    entities resolved with the gazetteer and topics checked against the taxonomy."""
    reader = RuleReader(_finder(), known_topics=_known_topics())
    try:
        return reader.read_criteria([*split_rule(text), *(criteria or [])])
    except RuleError as error:
        raise click.BadParameter(str(error), param_hint="the rule") from None


def rule_options(command: CommandT) -> CommandT:
    """``--rule``, ``--topics`` and one flag a criterion kind (``--topic``, ``--entity``, ...,
    ``--exclude KIND:VALUE``), each repeatable; together they make one rule."""
    command = click.option(
        "--exclude", multiple=True, help="Veto: topic:NAME, entity:NAME or keyword:WORDS."
    )(command)
    for kind, help_text in reversed(CRITERION_FLAGS):
        command = click.option(f"--{kind}", f"{kind}_values", multiple=True, help=help_text)(command)
    command = click.option("--topics", default=None, help=TOPICS_HELP)(command)
    return click.option("--rule", "rule_text", default="", help=RULE_HELP)(command)


def rule_from_options(options: dict[str, Any]) -> WatchRule:
    """The rule the :func:`rule_options` flags describe."""
    rule = changed_rule(options)
    if rule is None:
        raise click.UsageError(
            "give a rule: --rule 'topic:strikes entity:Iraq', --topics, --topic, --entity ..."
        )
    return rule


def changed_rule(options: dict[str, Any]) -> WatchRule | None:
    """The rule the :func:`rule_options` flags describe, or None when none is given."""
    criteria = [f"topic:{topic}" for topic in (_topics(options["topics"]) if options["topics"] else [])]
    for kind, _ in CRITERION_FLAGS:
        criteria += [f"{kind}:{value}" for value in options[f"{kind}_values"]]
    criteria += [f"-{value}" for value in options["exclude"]]
    if not options["rule_text"].strip() and not criteria:
        return None
    return read_rule(options["rule_text"], criteria=criteria)


@click.group("subscribe")
def subscribe_group() -> None:
    """Subscribe an email address or a webhook URL to a watch rule."""


def schedule_options(command: CommandT) -> CommandT:
    """``--digest``, ``--tz`` and ``--quiet``: when a subscription's alerts are sent."""
    command = click.option("--quiet", "--quiet-hours", "quiet", default=None, help=QUIET_HELP)(command)
    command = click.option("--tz", "--timezone", "zone", default=None, help=ZONE_HELP)(command)
    return click.option("--digest", "--schedule", "digest", default=None, help=DIGEST_HELP)(command)


def schedule_from_options(options: dict[str, Any]) -> Schedule:
    """The schedule the :func:`schedule_options` flags describe."""
    try:
        return read_schedule(options["digest"], zone=options["zone"], quiet=options["quiet"])
    except SubscriptionError as error:
        raise click.BadParameter(str(error), param_hint="--digest/--tz/--quiet") from None


def _subscribe(channel: Channel, target: str, options: dict[str, Any], *, as_json: bool) -> None:
    rule, schedule = rule_from_options(options), schedule_from_options(options)
    with _session() as session:
        policy = TargetPolicy.from_settings(load_settings(AlertSettings))
        created = subscribe(session, channel, target=target, rule=rule, policy=policy, schedule=schedule)
    if as_json:
        row = {"id": created.id, "channel": channel, "target": target, "topics": list(rule.topic_names)}
        shown = {"rule": format_rule(rule), "delivery": format_schedule(schedule)}
        echo_json({**row, **shown, "secret": created.secret})
        return
    click.echo(f"subscription {created.id}: {channel} {_target(target)}")
    click.echo(f"    rule: {printable(format_rule(rule))}")
    click.echo(f"    delivery: {format_schedule(schedule)}")
    if created.secret:
        click.echo(f"signing secret (shown once, keep it): {created.secret}")


@subscribe_group.command("email")
@click.argument("address")
@rule_options
@schedule_options
@json_option
def subscribe_email(address: str, as_json: bool, **options: Any) -> None:
    """Email ADDRESS when an article matches the rule (at once, or in digests with --digest)."""
    _subscribe("email", address, options, as_json=as_json)


@subscribe_group.command("webhook")
@click.argument("url")
@rule_options
@schedule_options
@json_option
def subscribe_webhook(url: str, as_json: bool, **options: Any) -> None:
    """POST signed alerts to URL (Standard Webhooks) when an article matches the rule (at once, or
    in digests with --digest)."""
    _subscribe("webhook", url, options, as_json=as_json)


@click.group("subscriptions")
def subscriptions_group() -> None:
    """List, show, edit, test, pause, resume or remove subscriptions."""


@subscriptions_group.command("list")
@click.option("--all", "include_removed", is_flag=True, help="Include removed subscriptions.")
@json_option
def subscriptions_list(include_removed: bool, as_json: bool) -> None:
    """Show subscriptions: id, channel, target, topics, created, and whether paused."""
    with _session() as session:
        rows = list_subscriptions(session, include_removed=include_removed)
    if as_json:
        echo_json_lines(subscription_json(row) for row in rows)
        return
    if not rows:
        click.echo("no subscriptions")
        return
    click.echo(f"{'ID':>4}  {'CHANNEL':<8} {'CREATED':<16}  TARGET")
    for row in rows:
        state = "" if row.active else f" ({state_of(row)})"
        click.echo(f"{row.id:>4}  {row.channel:<8} {_when(row.created_at):<16}  {_target(row.target)}{state}")
        # The rule goes on its own line: Arabic keywords would scramble the columns.
        click.echo(f"      rule: {printable(format_rule(rule_of(row)))}")
        if row.schedule:
            click.echo(f"      delivery: {format_schedule(schedule_of(row))}")


def subscription_json(row: Any) -> dict[str, Any]:
    """A subscription as ``--json`` prints it: its rule in text and in its stored form."""
    rule, schedule = rule_of(row), schedule_of(row)
    shown = {
        **fields_of(row, SUBSCRIPTION_FIELDS),
        "target": redacted_url(row.target),
        "state": state_of(row),
    }
    ruled = {"rule": format_rule(rule), "rule_json": rule.to_json(), "topics": list(rule.topic_names)}
    return {**shown, **ruled, "delivery": format_schedule(schedule), "schedule_json": schedule.to_json()}


@subscriptions_group.command("show")
@click.argument("subscription_id", type=int)
@json_option
def subscriptions_show(subscription_id: int, as_json: bool) -> None:
    """Show one subscription and its rule, in the form --rule reads."""
    with _session() as session:
        row = get_subscription(session, subscription_id)
        shown = subscription_json(row)
    if as_json:
        echo_json(shown)
        return
    _print_subscription(shown)


def _print_subscription(shown: dict[str, Any]) -> None:
    """A subscription as ``show`` and ``edit`` print it, from :func:`subscription_json`."""
    click.echo(
        f"subscription {shown['id']}: {shown['channel']} {_target(shown['target'])} ({shown['state']})"
    )
    click.echo(f"rule: {printable(shown['rule'])}")
    click.echo(f"delivery: {shown['delivery']}")


@subscriptions_group.command("edit")
@click.argument("subscription_id", type=int)
@click.option("--target", default=None, help="A new email address or webhook URL (same channel).")
@rule_options
@schedule_options
@json_option
def subscriptions_edit(subscription_id: int, target: str | None, as_json: bool, **options: Any) -> None:
    """Change a subscription: its rule (given whole, as to subscribe), its delivery (--digest, --tz,
    --quiet, each changing only itself) or its target. Alerts already made stay as they are."""
    rule = changed_rule(options)
    given = {"digest": options["digest"], "zone": options["zone"], "quiet": options["quiet"]}
    if rule is None and target is None and all(value is None for value in given.values()):
        raise click.UsageError(
            "nothing to change: give --rule (or criteria), --digest, --tz, --quiet or --target"
        )
    with _session() as session:
        current = schedule_of(live_subscription(session, subscription_id))
        schedule = None if all(value is None for value in given.values()) else _changed(current, given)
        policy = TargetPolicy.from_settings(load_settings(AlertSettings))
        change = SubscriptionChange(target=target, rule=rule, schedule=schedule)
        shown = subscription_json(change_subscription(session, subscription_id, change, policy=policy))
    if as_json:
        echo_json(shown)
        return
    _print_subscription(shown)


def _changed(current: Schedule, given: dict[str, str | None]) -> Schedule:
    try:
        return changed_schedule(current, given["digest"], zone=given["zone"], quiet=given["quiet"])
    except SubscriptionError as error:
        raise click.BadParameter(str(error), param_hint="--digest/--tz/--quiet") from None


@subscriptions_group.command("pause")
@click.argument("subscription_id", type=int)
def subscriptions_pause(subscription_id: int) -> None:
    """Pause a subscription: no alerts until it is resumed (alerts already made wait)."""
    _set_paused(subscription_id, paused=True)


@subscriptions_group.command("resume")
@click.argument("subscription_id", type=int)
def subscriptions_resume(subscription_id: int) -> None:
    """Resume a paused subscription."""
    _set_paused(subscription_id, paused=False)


def _set_paused(subscription_id: int, *, paused: bool) -> None:
    with _session() as session:
        changed = change_subscription(session, subscription_id, SubscriptionChange(paused=paused))
        state = state_of(changed)
    click.echo(f"subscription {subscription_id}: {state}")


@subscriptions_group.command("test")
@click.argument("subscription_id", type=int)
@click.option("--since", "since_text", default="30d", show_default=True, help="How far back: 12h, 30d, 8w.")
@click.option("--examples", type=click.IntRange(0, 100), default=EXAMPLES, show_default=True)
@json_option
def subscriptions_test(subscription_id: int, since_text: str, examples: int, as_json: bool) -> None:
    """What the subscription's rule would have sent over the stored articles; nothing is sent."""
    with _session() as session:
        rule = rule_of(get_subscription(session, subscription_id))
    _backtest(rule, since=_since(since_text), examples=examples, as_json=as_json)


@subscriptions_group.command("remove")
@click.argument("subscription_id", type=int)
def subscriptions_remove(subscription_id: int) -> None:
    """Remove a subscription; its unsent alerts are not sent."""
    with _session() as session:
        cancelled = remove_subscription(session, subscription_id)
    click.echo(f"subscription {subscription_id} removed; {cancelled} pending alert(s) cancelled")


@click.group("rules")
def rules_group() -> None:
    """Try watch rules before subscribing."""


@rules_group.command("test")
@click.argument("rule_text", metavar="RULE")
@click.option("--since", "since_text", default="30d", show_default=True, help="How far back: 12h, 30d, 8w.")
@click.option("--examples", type=click.IntRange(0, 100), default=EXAMPLES, show_default=True)
@json_option
def rules_test(rule_text: str, since_text: str, examples: int, as_json: bool) -> None:
    """What RULE would have sent over the stored articles: alerts a day and a few titles with their
    evidence. Nothing is stored or sent."""
    rule = read_rule(rule_text)
    _backtest(rule, since=_since(since_text), examples=examples, as_json=as_json)


def _since(text: str) -> datetime:
    found = _DURATION.match(text.strip())
    if found is None:
        raise click.BadParameter(f"{text!r} is not a duration like 12h, 30d or 8w", param_hint="--since")
    return utc_now() - int(found["amount"]) * _UNITS[found["unit"]]


def _backtest(rule: WatchRule, *, since: datetime, examples: int, as_json: bool) -> None:
    with _session() as session:
        grouping = by_stored_story(session)
        outcome = run_backtest(session, rule, since=since, finder=_finder(), grouping=grouping)
    if as_json:
        echo_json_lines(
            hit_json(number, hit) for number, group in enumerate(outcome.groups, 1) for hit in group
        )
        return
    _print_backtest(rule, outcome, examples=examples)


def hit_json(group: int, hit: Hit) -> dict[str, Any]:
    """One matching article as ``--json`` prints it; ``group`` numbers the alert it would be part of."""
    keywords = [keyword for keyword, _ in hit.match.keywords]
    return {
        "group": group,
        **fields_of(hit, ("article_id", "title", "source", "url", "when")),
        "day": hit.day.isoformat(),
        "topics": list(hit.match.topics),
        "entities": list(hit.match.entities),
        "keywords": keywords,
        "evidence": hit.evidence,
    }


def _print_backtest(rule: WatchRule, outcome: Backtest, *, examples: int) -> None:
    click.echo(f"rule: {printable(format_rule(rule))}")
    scanned = f"{outcome.scanned} article(s) stored since {_when(outcome.since)}"
    matched = sum(len(group) for group in outcome.groups)
    stories = f"{matched} matching article(s) in {len(outcome.groups)} stor(ies)"
    click.echo(f"{scanned}: {stories}: {len(outcome.groups)} alert(s) would have been sent")
    matches = outcome.matches_per_day()
    click.echo(f"  {'DAY':<10}  {'ALERTS':>6}  {'MATCHES':>7}")
    for day, count in outcome.per_day():
        click.echo(f"  {day.isoformat()}  {count:>6}  {matches.get(day, 0):>7}")
    for group in outcome.groups[-examples:] if examples else []:
        _print_story(group)


def _print_story(group: list[Hit]) -> None:
    """One story the rule would have alerted once: its first article, why, and its other outlets."""
    hit = group[0]
    outlets = list(dict.fromkeys(item.source for item in group))
    click.echo(f"story of {len(group)} article(s) from {printable(', '.join(outlets))}")
    click.echo(f"  {_when(hit.when)}  {hit.article_id[:16]}  {printable(hit.source)}")
    click.echo(f"    {printable(hit.title)}")
    click.echo(f"    why: {_why(hit)}")
    if hit.evidence:
        click.echo(f"    evidence: {printable(hit.evidence)}")
    for later in group[1:EXAMPLES]:
        click.echo(f"  + {_when(later.when)}  {later.article_id[:16]}  {printable(later.source)}")
        click.echo(f"    {printable(later.title)}")


def _why(hit: Hit) -> str:
    return printable(", ".join(hit.reasons()))


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
    if alert.digest_id is not None:
        click.echo(f"sent in digest {alert.digest_id}")
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
