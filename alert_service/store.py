"""Storing classified articles, placing them in stories and creating the alerts they call for.

A batch (:func:`store_batch`) is stored in the caller's one transaction with one multi-row insert per
table, one query for the articles already stored, one story placement for the whole batch
(:func:`alert_service.story_store.assign_stories`) and the active rules read once; it stores what
storing its articles one at a time, in order, would store. :func:`store_classified` is a batch of one.

A subscription gets one alert per story: the first article of a story that matches its rule makes the
alert; a later matching article of that story is recorded against that alert (``alert_alert_articles``)
and sends nothing. The unique index on (subscription, story) holds that exactly once.

Safe to run twice: the articles, their tags and entities and their alerts are inserted with
``ON CONFLICT DO NOTHING``, and an article already placed keeps its story, so a second run after a
crash adds only what the first one missed. An article twice in one batch is stored once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from alert_service.grouping import GroupingSettings
from alert_service.models import Alert, AlertArticle, Article, ArticleEntity, Subscription, Tag
from alert_service.rules import ArticleFacts, WatchRule, matching_subscriptions
from alert_service.settings import alert_settings
from alert_service.stories import StoryArticle
from alert_service.story_store import assign_stories
from shared.db import insert_ignore_all, insert_ignore_many, recordset_insert, utc_now, utf8_recordset
from shared.gazetteer import EntityFinder, entity_finder
from shared.messages import ArticleClassified, ArticleIngested

log = logging.getLogger(__name__)

ARTICLES = cast(Table, Article.__table__)
TAGS = cast(Table, Tag.__table__)
ARTICLE_ENTITIES = cast(Table, ArticleEntity.__table__)
ALERTS = cast(Table, Alert.__table__)
ALERT_ARTICLES = cast(Table, AlertArticle.__table__)
# Ids in one ``IN (...)``: well below SQLite's limit on a statement's parameters.
_IDS_PER_QUERY = 500


@dataclass(frozen=True)
class AlertWanted:
    """An alert an article's story calls for: the subscription whose rule the article matched."""

    article_id: str
    story_id: int
    subscription_id: int


def store_classified(
    session: Session,
    message: ArticleClassified,
    *,
    now: datetime | None = None,
    finder: EntityFinder | None = None,
    grouping: GroupingSettings | None = None,
) -> list[int]:
    """Store one classified article: :func:`store_batch` of one; returns the ids of new alerts."""
    return store_batch(session, [message], now=now, finder=finder, grouping=grouping)


def store_batch(
    session: Session,
    messages: Sequence[ArticleClassified],
    *,
    now: datetime | None = None,
    finder: EntityFinder | None = None,
    grouping: GroupingSettings | None = None,
) -> list[int]:
    """Store the articles and their tags, match them against the subscriptions' rules (with the
    configured gazetteer unless ``finder`` is given), place them in stories in order (grouping with
    ``grouping`` or the defaults), then create the alerts the matches call for; returns the ids of
    new alerts, in the order created."""
    now = now or utc_now()
    _store_articles(session, [message.article for message in messages], now=now)
    _store_tags(session, messages)
    _store_entities(session, messages)
    # Decided before placing: placing takes the story lock, held until commit, and which rules an
    # article matches does not depend on its story.
    matches = subscriptions_matched(session, messages, finder=finder)
    stories = assign_stories(
        session, [story_article(message.article) for message in messages], now=now, settings=grouping
    )
    wanted = [
        AlertWanted(article_id, stories[article_id], subscription_id)
        for article_id, subscription_ids in matches
        for subscription_id in subscription_ids
    ]
    return create_alerts(session, wanted, now=now)


def subscriptions_matched(
    session: Session, messages: Sequence[ArticleClassified], *, finder: EntityFinder | None = None
) -> list[tuple[str, list[int]]]:
    """Each alerting article's id with the ids of the active subscriptions whose rule it matches, in
    the order of ``messages`` (with the configured gazetteer unless ``finder`` is given)."""
    # An archive imported without alerts is stored, tagged and grouped only.
    alerting = [message for message in messages if message.article.alerts]
    if not alerting:
        return []
    finder = finder or entity_finder(alert_settings().gazetteer_path)
    rules = active_rules(session)
    return [
        (message.article.article_id, matching_subscriptions(rules, facts_of(message, finder=finder)))
        for message in alerting
    ]


def story_article(article: ArticleIngested) -> StoryArticle:
    """What grouping reads of an ingested article; one without a publication date is placed at the
    time it was ingested."""
    published = article.published_at or article.ingested_at
    if published.tzinfo is not None:
        # UTC's own tzinfo, as members are read back from the database: placing an article compares
        # its time with thousands of members', and two datetimes of different tzinfo objects (a
        # message's are pydantic's) compare ten times slower than two of one.
        published = published.astimezone(UTC)
    return StoryArticle(
        id=article.article_id,
        source=article.source,
        published=published,
        title=article.title,
        text=article.text,
    )


def facts_of(message: ArticleClassified, *, finder: EntityFinder) -> ArticleFacts:
    """What the watch rules look at in a classified article."""
    article, classification = message.article, message.classification
    return ArticleFacts.of_article(
        {topic: classification.scores.get(topic, 0.0) for topic in classification.tags},
        entity_ids=(entity.id for entity in classification.entities),
        title=article.title,
        text=article.text,
        source_kind=article.source_kind,
        feed_id=article.feed_id,
        url=article.url,
        finder=finder,
    )


def _store_articles(session: Session, articles: Sequence[ArticleIngested], *, now: datetime) -> None:
    by_id: dict[str, ArticleIngested] = {}
    for article in articles:
        by_id.setdefault(article.article_id, article)
    stored = _existing(session, ARTICLES.c.id, by_id)
    # Every table's rows in the order of their keys: two workers inserting the same rows wait for
    # each other in one order, never each for the other (a deadlock).
    new_ids = sorted(by_id.keys() - stored)
    # Each row in its own execution (insert_ignore_all), not in one JSON document as tags and
    # entities are: PostgreSQL read an article's text from JSON for more CPU than the worker saved.
    insert_ignore_all(
        session, ARTICLES, [_article_row(by_id[id_], now=now) for id_ in new_ids], conflict_columns=["id"]
    )
    if new_ids:
        # New as of the query above: another worker storing the same article meanwhile keeps its row.
        log.debug("articles.stored", extra={"article_ids": new_ids})


def _existing(session: Session, column: Any, values: Iterable[str]) -> set[str]:
    """Which of ``values`` ``column`` holds already."""
    wanted = list(values)
    found: set[str] = set()
    for start in range(0, len(wanted), _IDS_PER_QUERY):
        chunk = wanted[start : start + _IDS_PER_QUERY]
        found.update(session.execute(select(column).where(column.in_(chunk))).scalars())
    return found


def _article_row(article: ArticleIngested, *, now: datetime) -> dict[str, Any]:
    return {
        "id": article.article_id,
        "title": article.title,
        "text": article.text,
        "source": article.source,
        "source_kind": article.source_kind,
        "url": article.url,
        "feed_id": article.feed_id,
        "published_at": article.published_at,
        "ingested_at": article.ingested_at,
        "stored_at": now,
    }


def _store_tags(session: Session, messages: Sequence[ArticleClassified]) -> None:
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for message in messages:
        classification = message.classification
        for topic in classification.tags:
            key = (message.article.article_id, topic, classification.classifier_version)
            if key in rows:
                continue
            evidence = [
                item.model_dump(mode="json") for item in classification.evidence if item.topic == topic
            ]
            rows[key] = {
                "article_id": key[0],
                "topic": topic,
                "score": classification.scores.get(topic, 0.0),
                "classifier_version": key[2],
                "evidence": evidence,
            }
    conflict = ("article_id", "topic", "classifier_version")
    _insert_rows(session, TAGS, [rows[key] for key in sorted(rows)], conflict_columns=conflict)


def _store_entities(session: Session, messages: Sequence[ArticleClassified]) -> None:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for message in messages:
        for entity in message.classification.entities:
            rows.setdefault(
                (message.article.article_id, entity.id),
                {
                    "article_id": message.article.article_id,
                    "entity_id": entity.id,
                    "kind": entity.kind,
                    "name": entity.name,
                    "mentions": entity.mentions,
                },
            )
    conflict = ("article_id", "entity_id")
    _insert_rows(session, ARTICLE_ENTITIES, [rows[key] for key in sorted(rows)], conflict_columns=conflict)


def _insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict_columns: tuple[str, ...],
) -> None:
    """Insert ``rows`` (each naming the same columns, none a time), in order, skipping those already
    stored: on PostgreSQL in one statement of one JSON parameter (``json_to_recordset``), else, or
    where the rows cannot be written so (a lone surrogate), by :func:`~shared.db.insert_ignore_all`.

    One statement, as the ingest ledger records its files: the insert run once a row in pipeline
    mode, its parameters converted one by one by SQLAlchemy and psycopg, cost for a batch's tags and
    entities (several of each an article) 0.08 ms of the worker's CPU an article and 0.05 ms of
    PostgreSQL's more than this (in process, 4,000 articles of the corpus in batches of 200).
    """
    if not rows:
        return
    document = utf8_recordset(session, rows)
    if document is None:
        insert_ignore_all(session, table, rows, conflict_columns=list(conflict_columns))
        return
    session.execute(recordset_insert(table, tuple(rows[0]), conflict_columns), {"rows": document})


def active_rules(session: Session) -> dict[int, WatchRule]:
    """The watch rule of every active subscription, by subscription id. A stored rule that no longer
    validates is logged and left out, so one bad row does not stop every other subscription."""
    rows = session.execute(select(Subscription.id, Subscription.rule).where(Subscription.active.is_(True)))
    rules: dict[int, WatchRule] = {}
    for subscription_id, stored in rows:
        try:
            rules[subscription_id] = WatchRule.model_validate(stored)
        except ValidationError as error:
            log.error(
                "subscription.rule_invalid", extra={"subscription_id": subscription_id, "error": str(error)}
            )
    return rules


def create_alerts(session: Session, wanted: Sequence[AlertWanted], *, now: datetime) -> list[int]:
    """Create the missing alerts, one per subscription and story, in the order wanted; a subscription
    already alerted of the story gets the article recorded against that alert instead. Returns the
    ids of the alerts created now."""
    wanted = list(dict.fromkeys(wanted))
    rows = [
        {
            "subscription_id": item.subscription_id,
            "article_id": item.article_id,
            "story_id": item.story_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            # The caller sends the delivery message after commit; the sweep re-sends if it is lost.
            "dispatched_at": now,
            "created_at": now,
        }
        for item in wanted
    ]
    # Either unique key may be taken: (subscription, article) on a second run, (subscription,
    # story) for a later article of the story, perhaps one earlier in this batch.
    returning = ("id", "subscription_id", "article_id")
    inserted = insert_ignore_many(session, ALERTS, rows, conflict_columns=None, returning=returning)
    made = {(row.subscription_id, row.article_id) for row in inserted}
    _record_against_story_alerts(
        session, [item for item in wanted if (item.subscription_id, item.article_id) not in made], now=now
    )
    created = [int(row.id) for row in inserted]
    if created:
        log.debug("alerts.created", extra={"alert_ids": created})
    return created


def _record_against_story_alerts(session: Session, later: list[AlertWanted], *, now: datetime) -> None:
    """Record each article against the alert its subscription already has of its story."""
    if not later:
        return
    story_ids = sorted({item.story_id for item in later})
    alerts: dict[tuple[int, int], tuple[int, str]] = {}
    for start in range(0, len(story_ids), _IDS_PER_QUERY):
        query = select(Alert.id, Alert.subscription_id, Alert.story_id, Alert.article_id).where(
            Alert.story_id.in_(story_ids[start : start + _IDS_PER_QUERY])
        )
        for alert_id, subscription_id, story_id, article_id in session.execute(query):
            if story_id is not None:
                alerts[(subscription_id, story_id)] = (alert_id, article_id)
    rows = []
    for item in later:
        found = alerts.get((item.subscription_id, item.story_id))
        if found is not None and found[1] != item.article_id:
            rows.append({"alert_id": found[0], "article_id": item.article_id, "recorded_at": now})
    returning = ("alert_id", "article_id")
    conflict = ["alert_id", "article_id"]
    for row in insert_ignore_many(
        session, ALERT_ARTICLES, rows, conflict_columns=conflict, returning=returning
    ):
        log.info(
            "alert.story_article_recorded", extra={"alert_id": row.alert_id, "article_id": row.article_id}
        )
