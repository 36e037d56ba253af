"""The alert service's part of the API: articles (why each was tagged), subscriptions, alerts.

Mounted under ``/api/v1`` by :mod:`shared.web.app` (entry point ``rasid.web``). Reads go through
:mod:`alert_service.queries`; changes through the functions the commands use.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from alert_service.delivery import ResendError, resend_alerts
from alert_service.errors import RuleError, SubscriptionError
from alert_service.models import STATUSES, Alert, Article, DeliveryAttempt, Subscription, Tag
from alert_service.queries import (
    ArticleFilter,
    alert_page,
    article_detail,
    article_page,
    attempts_of,
    get_alert,
    latest_tags,
    subscription_page,
)
from alert_service.rule_editor import read_web_rule
from alert_service.rule_text import format_rule
from alert_service.rules import WatchRule
from alert_service.schedules import Schedule, changed_schedule, format_schedule, read_schedule
from alert_service.settings import AlertSettings
from alert_service.subscriptions import (
    SubscriptionChange,
    change_subscription,
    get_subscription,
    live_subscription,
    remove_subscription,
    rule_of,
    schedule_of,
    subscribe,
)
from shared.db import utc_now
from shared.net import TargetPolicy
from shared.settings import load_settings
from shared.web.access import DbSession, Reader, Writer
from shared.web.pages import (
    DEFAULT_LIMIT,
    Limit,
    Page,
    RowId,
    RowIdQuery,
    cut_page,
    decode_cursor,
    encode_cursor,
    id_after,
)
from shared.web.problems import PROBLEM_RESPONSES, Problem

router = APIRouter(responses=PROBLEM_RESPONSES)


class TagOut(BaseModel):
    """A topic the classifier gave the article, its score, and the passages behind it (offsets in
    the article's title + newline + text)."""

    topic: str
    score: float
    classifier_version: str
    evidence: list[dict[str, Any]]


class ArticleSummary(BaseModel):
    id: str
    title: str
    source: str
    source_kind: str
    url: str | None
    feed_id: int | None
    published_at: datetime | None
    stored_at: datetime
    topics: dict[str, float]


class EntityOut(BaseModel):
    id: str
    kind: str
    name: str
    mentions: int


class AttemptOut(BaseModel):
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    detail: str | None


class AlertOut(BaseModel):
    id: int
    subscription_id: int
    article_id: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    delivered_at: datetime | None
    created_at: datetime
    attempt_history: list[AttemptOut] = []


class StoryArticleOut(BaseModel):
    id: str
    title: str
    source: str
    published_at: datetime | None


class ArticleOut(ArticleSummary):
    text: str
    tags: list[TagOut]
    entities: list[EntityOut]
    alerts: list[AlertOut]
    story_id: int | None = Field(
        description="The story (one event, any outlet) the article was grouped into."
    )
    story: list[StoryArticleOut] = Field(description="Every article of that story, this one included.")


class SubscriptionOut(BaseModel):
    id: int
    channel: Literal["email", "webhook"]
    target: str
    active: bool = Field(description="Whether it alerts now: false while it is paused.")
    state: Literal["active", "paused"]
    created_at: datetime
    rule: WatchRule
    rule_text: str
    schedule: Schedule
    delivery: str = Field(description="The schedule in words, e.g. `daily at 08:00 (Asia/Baghdad)`.")


class SubscriptionCreated(SubscriptionOut):
    secret: str | None = Field(description="The webhook signing secret: shown here once, never again.")


RULE_FIELD = Field(description="A watch rule, e.g. `topic:strikes>=0.8 entity:Iraq -keyword:مناورات`.")
SCHEDULE_HELP = "`immediate`, `hourly` or `daily@HH:MM` (one digest an hour or a day)."
ZONE_HELP = "The subscriber's IANA time zone for the schedule and quiet hours, e.g. `Asia/Baghdad`."
QUIET_HELP = "Quiet hours, e.g. `22:00-07:00`: immediate alerts are held and sent as one digest after."


class SubscriptionIn(BaseModel):
    channel: Literal["email", "webhook"]
    target: str = Field(description="An email address, or the webhook's http(s) URL.")
    rule: str = RULE_FIELD
    schedule: str | None = Field(
        default=None, max_length=40, description=SCHEDULE_HELP + " Default immediate."
    )
    time_zone: str | None = Field(default=None, max_length=100, description=ZONE_HELP + " Default UTC.")
    quiet_hours: str | None = Field(default=None, max_length=40, description=QUIET_HELP)


class SubscriptionPatch(BaseModel):
    """What to change; a field left out stays as it is."""

    target: str | None = Field(default=None, description="A new email address or webhook URL (same channel).")
    rule: str | None = Field(
        default=None, description="A new watch rule, whole, e.g. `topic:strikes entity:Iraq`."
    )
    schedule: str | None = Field(default=None, max_length=40, description=SCHEDULE_HELP)
    time_zone: str | None = Field(default=None, max_length=100, description=ZONE_HELP)
    quiet_hours: str | None = Field(default=None, max_length=40, description=QUIET_HELP + " `off` ends them.")
    active: bool | None = Field(default=None, description="false pauses the subscription, true resumes it.")

    @property
    def changes_schedule(self) -> bool:
        """Whether any of the delivery fields is given."""
        return any(value is not None for value in (self.schedule, self.time_zone, self.quiet_hours))


class Retried(BaseModel):
    alert_ids: list[int]


def _article_summary(article: Article, tags: list[Tag]) -> ArticleSummary:
    return ArticleSummary(
        id=article.id,
        title=article.title,
        source=article.source,
        source_kind=article.source_kind,
        url=article.url,
        feed_id=article.feed_id,
        published_at=article.published_at,
        stored_at=article.stored_at,
        topics={tag.topic: tag.score for tag in tags},
    )


def _alert_out(alert: Alert, attempts: list[DeliveryAttempt]) -> AlertOut:
    return AlertOut(
        id=alert.id,
        subscription_id=alert.subscription_id,
        article_id=alert.article_id,
        status=alert.status,
        attempts=alert.attempts,
        last_error=alert.last_error,
        next_attempt_at=alert.next_attempt_at,
        delivered_at=alert.delivered_at,
        created_at=alert.created_at,
        attempt_history=[
            AttemptOut(
                attempt=item.attempt,
                started_at=item.started_at,
                finished_at=item.finished_at,
                outcome=item.outcome,
                detail=item.detail,
            )
            for item in attempts
        ],
    )


def _subscription_out(subscription: Subscription) -> SubscriptionOut:
    rule, schedule = rule_of(subscription), schedule_of(subscription)
    return SubscriptionOut(
        id=subscription.id,
        channel="webhook" if subscription.channel == "webhook" else "email",
        target=subscription.target,
        active=subscription.active,
        state="active" if subscription.active else "paused",
        created_at=subscription.created_at,
        rule=rule,
        rule_text=format_rule(rule),
        schedule=schedule,
        delivery=format_schedule(schedule),
    )


def _read_rule(text: str) -> WatchRule:
    try:
        return read_web_rule(text)
    except RuleError as error:
        raise Problem(422, str(error), kind="bad-rule") from None


def _read_schedule(read: Callable[[], Schedule]) -> Schedule:
    try:
        return read()
    except SubscriptionError as error:
        raise Problem(422, str(error), kind="bad-schedule") from None


@router.get("/articles", tags=["articles"], summary="Stored articles, newest first.")
def list_articles(  # noqa: PLR0913, PLR0917 -- one parameter a query filter, as FastAPI passes them
    session: DbSession,
    _caller: Reader,
    topic: str | None = None,
    entity: str | None = Query(default=None, description="A gazetteer id, e.g. country:iq."),
    source: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: str | None = Query(
        default=None,
        max_length=200,
        description="Words, matched in any written form. A page reads at most 5,000 articles: it may come "
        "back short (even empty) with a next_cursor that reads on.",
    ),
    story: RowIdQuery = None,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ArticleSummary]:
    key = decode_cursor(cursor, length=2)
    after = None if key is None else (_instant(key[0]), str(key[1]))
    where = ArticleFilter(
        topic=topic, entity=entity, source=source, since=since, until=until, search=q, story=story
    )
    page = article_page(session, where, after=after, limit=limit + 1)
    shown, next_cursor = cut_page(
        page.articles, limit=limit, key=lambda row: [row.stored_at.isoformat(), row.id]
    )
    if next_cursor is None and page.resume_after is not None:
        # A search read its share of articles without filling the page: the next page reads on.
        next_cursor = encode_cursor([page.resume_after[0].isoformat(), page.resume_after[1]])
    tags = latest_tags(session, [article.id for article in shown])
    return Page[ArticleSummary](
        items=[_article_summary(article, tags.get(article.id, [])) for article in shown],
        next_cursor=next_cursor,
    )


def _instant(value: object) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise Problem(400, "the cursor is not one this API gave", kind="bad-cursor") from None


@router.get(
    "/articles/{article_id}", tags=["articles"], summary="One article: tags, evidence, entities, alerts."
)
def get_article(article_id: str, session: DbSession, _caller: Reader) -> ArticleOut:
    detail = article_detail(session, article_id)
    if detail is None:
        raise Problem(404, f"no article {article_id}", kind="not-found")
    attempts = attempts_of(session, [alert.id for alert in detail.alerts])
    summary = _article_summary(detail.article, detail.tags)
    return ArticleOut(
        **summary.model_dump(),
        text=detail.article.text,
        tags=[
            TagOut(topic=t.topic, score=t.score, classifier_version=t.classifier_version, evidence=t.evidence)
            for t in detail.tags
        ],
        entities=[
            EntityOut(id=e.entity_id, kind=e.kind, name=e.name, mentions=e.mentions) for e in detail.entities
        ],
        alerts=[_alert_out(alert, attempts.get(alert.id, [])) for alert in detail.alerts],
        story_id=detail.story_id,
        story=[
            StoryArticleOut(id=item.id, title=item.title, source=item.source, published_at=item.published_at)
            for item in detail.story
        ],
    )


@router.get("/subscriptions", tags=["subscriptions"], summary="Subscriptions, oldest first.")
def list_subscriptions(
    session: DbSession, _caller: Reader, cursor: str | None = None, limit: Limit = DEFAULT_LIMIT
) -> Page[SubscriptionOut]:
    rows = subscription_page(session, after=id_after(cursor), limit=limit + 1)
    shown, next_cursor = cut_page(rows, limit=limit, key=lambda row: [row.id])
    return Page[SubscriptionOut](items=[_subscription_out(row) for row in shown], next_cursor=next_cursor)


@router.post(
    "/subscriptions", tags=["subscriptions"], status_code=201, summary="Subscribe; the secret is shown once."
)
def create_subscription(body: SubscriptionIn, session: DbSession, _caller: Writer) -> SubscriptionCreated:
    rule = _read_rule(body.rule)
    schedule = _read_schedule(
        lambda: read_schedule(body.schedule, zone=body.time_zone, quiet=body.quiet_hours)
    )
    policy = TargetPolicy.from_settings(load_settings(AlertSettings))
    try:
        created = subscribe(
            session, body.channel, target=body.target, rule=rule, policy=policy, schedule=schedule
        )
    except SubscriptionError as error:
        raise Problem(422, str(error), kind="bad-target") from None
    shown = _subscription_out(get_subscription(session, created.id))
    return SubscriptionCreated(**shown.model_dump(), secret=created.secret)


@router.get(
    "/subscriptions/{subscription_id}", tags=["subscriptions"], summary="One subscription (never its secret)."
)
def read_subscription(subscription_id: RowId, session: DbSession, _caller: Reader) -> SubscriptionOut:
    return _subscription_out(_subscription(session, subscription_id))


def _subscription(session: DbSession, subscription_id: int) -> Subscription:
    """A subscription not removed, or a 404 problem (a removed one is gone from the API)."""
    try:
        return live_subscription(session, subscription_id)
    except SubscriptionError as error:
        raise Problem(404, str(error), kind="not-found") from None


@router.patch(
    "/subscriptions/{subscription_id}",
    tags=["subscriptions"],
    summary="Change the target, rule or schedule; pause or resume.",
)
def update_subscription(
    subscription_id: RowId, body: SubscriptionPatch, session: DbSession, _caller: Writer
) -> SubscriptionOut:
    current = _subscription(session, subscription_id)
    rule = _read_rule(body.rule) if body.rule is not None else None
    schedule = None
    if body.changes_schedule:
        schedule = _read_schedule(
            lambda: changed_schedule(
                schedule_of(current), body.schedule, zone=body.time_zone, quiet=body.quiet_hours
            )
        )
    paused = None if body.active is None else not body.active
    change = SubscriptionChange(target=body.target, rule=rule, schedule=schedule, paused=paused)
    policy = TargetPolicy.from_settings(load_settings(AlertSettings))
    try:
        return _subscription_out(change_subscription(session, subscription_id, change, policy=policy))
    except SubscriptionError as error:
        raise Problem(422, str(error), kind="bad-target") from None


@router.delete("/subscriptions/{subscription_id}", tags=["subscriptions"], status_code=204, summary="Remove.")
def delete_subscription(subscription_id: RowId, session: DbSession, _caller: Writer) -> Response:
    try:
        remove_subscription(session, subscription_id)
    except SubscriptionError as error:
        raise Problem(404, str(error), kind="not-found") from None
    return Response(status_code=204)


@router.get("/alerts", tags=["alerts"], summary="Alerts, newest first, with every delivery attempt.")
def list_alerts(
    session: DbSession,
    _caller: Reader,
    status: Literal[STATUSES] | None = None,  # type: ignore[valid-type]
    subscription_id: RowIdQuery = None,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[AlertOut]:
    after = id_after(cursor)
    rows = alert_page(session, status=status, subscription_id=subscription_id, after=after, limit=limit + 1)
    shown, next_cursor = cut_page(rows, limit=limit, key=lambda row: [row.id])
    attempts = attempts_of(session, [alert.id for alert in shown])
    return Page[AlertOut](
        items=[_alert_out(alert, attempts.get(alert.id, [])) for alert in shown], next_cursor=next_cursor
    )


@router.get("/alerts/{alert_id}", tags=["alerts"], summary="One alert and its attempts.")
def read_alert(alert_id: RowId, session: DbSession, _caller: Reader) -> AlertOut:
    alert = get_alert(session, alert_id)
    if alert is None:
        raise Problem(404, f"no alert {alert_id}", kind="not-found")
    return _alert_out(alert, attempts_of(session, [alert_id]).get(alert_id, []))


@router.post("/alerts/{alert_id}/retry", tags=["alerts"], summary="Send a failed or pending alert again now.")
def retry_alert(alert_id: RowId, session: DbSession, _caller: Writer) -> Retried:
    try:
        return Retried(alert_ids=resend_alerts(session, [alert_id], now=utc_now()))
    except ResendError as error:
        status = 404 if str(error).startswith("no alert") else 409
        raise Problem(status, str(error), kind="not-found" if status == 404 else "not-resendable") from None
