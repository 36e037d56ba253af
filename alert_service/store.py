"""Storing a classified article and creating the alerts it calls for.

Safe to run twice: the article, its tags and entities and its alerts are inserted with
``ON CONFLICT DO NOTHING``, so a second run after a crash adds only what the first one missed.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import cast

from pydantic import ValidationError
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from alert_service.models import Alert, Article, ArticleEntity, Subscription, Tag
from alert_service.rules import ArticleFacts, WatchRule, matching_subscriptions
from alert_service.settings import alert_settings
from shared.db import insert_ignore, utc_now
from shared.gazetteer import EntityFinder, entity_finder
from shared.messages import ArticleClassified, ArticleIngested, Classification

log = logging.getLogger(__name__)

ARTICLES = cast(Table, Article.__table__)
TAGS = cast(Table, Tag.__table__)
ARTICLE_ENTITIES = cast(Table, ArticleEntity.__table__)
ALERTS = cast(Table, Alert.__table__)


def store_classified(
    session: Session,
    message: ArticleClassified,
    *,
    now: datetime | None = None,
    finder: EntityFinder | None = None,
) -> list[int]:
    """Store the article and its tags, then create the alerts its subscriptions' rules call for (with
    the configured gazetteer unless ``finder`` is given); returns the ids of new alerts."""
    now = now or utc_now()
    finder = finder or entity_finder(alert_settings().gazetteer_path)
    article, classification = message.article, message.classification
    if _store_article(session, article, now=now):
        log.debug("article.stored", extra={"article_id": article.article_id})
    _store_tags(session, article.article_id, classification=classification)
    _store_entities(session, article.article_id, classification=classification)
    subscription_ids = matching_subscriptions(active_rules(session), facts_of(message, finder=finder))
    return create_alerts(session, article.article_id, subscription_ids=subscription_ids, now=now)


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


def _store_article(session: Session, article: ArticleIngested, *, now: datetime) -> bool:
    values = {
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
    return insert_ignore(session, ARTICLES, values, conflict_columns=["id"]) is not None


def _store_tags(session: Session, article_id: str, *, classification: Classification) -> None:
    for topic in classification.tags:
        evidence = [item.model_dump(mode="json") for item in classification.evidence if item.topic == topic]
        values = {
            "article_id": article_id,
            "topic": topic,
            "score": classification.scores.get(topic, 0.0),
            "classifier_version": classification.classifier_version,
            "evidence": evidence,
        }
        insert_ignore(
            session,
            TAGS,
            values,
            conflict_columns=["article_id", "topic", "classifier_version"],
        )


def _store_entities(session: Session, article_id: str, *, classification: Classification) -> None:
    for entity in classification.entities:
        values = {
            "article_id": article_id,
            "entity_id": entity.id,
            "kind": entity.kind,
            "name": entity.name,
            "mentions": entity.mentions,
        }
        insert_ignore(
            session,
            ARTICLE_ENTITIES,
            values,
            conflict_columns=["article_id", "entity_id"],
        )


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


def create_alerts(
    session: Session, article_id: str, *, subscription_ids: list[int], now: datetime
) -> list[int]:
    """Create the missing alerts of one article; returns the ids of those created now."""
    created = []
    for subscription_id in subscription_ids:
        values = {
            "subscription_id": subscription_id,
            "article_id": article_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            # The caller sends the delivery message after commit; the sweep re-sends if it is lost.
            "dispatched_at": now,
            "created_at": now,
        }
        alert_id = insert_ignore(session, ALERTS, values, conflict_columns=["subscription_id", "article_id"])
        if alert_id is not None:
            created.append(int(alert_id))
    if created:
        log.debug("alerts.created", extra={"article_id": article_id, "alert_ids": created})
    return created
