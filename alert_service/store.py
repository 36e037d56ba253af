"""Storing a classified article, placing it in a story and creating the alerts it calls for.

A subscription gets one alert per story: the first article of a story that matches its rule makes the
alert; a later matching article of that story is recorded against that alert (``alert_alert_articles``)
and sends nothing. The unique index on (subscription, story) holds that exactly once.

Safe to run twice: the article, its tags and entities and its alerts are inserted with
``ON CONFLICT DO NOTHING``, and an article already placed keeps its story, so a second run after a
crash adds only what the first one missed.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import cast

from pydantic import ValidationError
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from alert_service.models import Alert, AlertArticle, Article, ArticleEntity, Subscription, Tag
from alert_service.rules import ArticleFacts, WatchRule, matching_subscriptions
from alert_service.settings import alert_settings
from alert_service.stories import GroupingSettings, StoryArticle
from alert_service.story_store import assign_story
from shared.db import insert_ignore, utc_now
from shared.gazetteer import EntityFinder, entity_finder
from shared.messages import ArticleClassified, ArticleIngested, Classification

log = logging.getLogger(__name__)

ARTICLES = cast(Table, Article.__table__)
TAGS = cast(Table, Tag.__table__)
ARTICLE_ENTITIES = cast(Table, ArticleEntity.__table__)
ALERTS = cast(Table, Alert.__table__)
ALERT_ARTICLES = cast(Table, AlertArticle.__table__)


def store_classified(
    session: Session,
    message: ArticleClassified,
    *,
    now: datetime | None = None,
    finder: EntityFinder | None = None,
    grouping: GroupingSettings | None = None,
) -> list[int]:
    """Store the article and its tags, place it in a story, then create the alerts its subscriptions'
    rules call for (with the configured gazetteer unless ``finder`` is given, grouping with
    ``grouping`` or the defaults); returns the ids of new alerts."""
    now = now or utc_now()
    finder = finder or entity_finder(alert_settings().gazetteer_path)
    article, classification = message.article, message.classification
    if _store_article(session, article, now=now):
        log.debug("article.stored", extra={"article_id": article.article_id})
    _store_tags(session, article.article_id, classification=classification)
    _store_entities(session, article.article_id, classification=classification)
    story_id = assign_story(session, story_article(article), now=now, settings=grouping)
    subscription_ids = matching_subscriptions(active_rules(session), facts_of(message, finder=finder))
    return create_alerts(
        session, article.article_id, story_id=story_id, subscription_ids=subscription_ids, now=now
    )


def story_article(article: ArticleIngested) -> StoryArticle:
    """What grouping reads of an ingested article; one without a publication date is placed at the
    time it was ingested."""
    return StoryArticle(
        id=article.article_id,
        source=article.source,
        published=article.published_at or article.ingested_at,
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
    session: Session, article_id: str, *, story_id: int | None, subscription_ids: list[int], now: datetime
) -> list[int]:
    """Create the missing alerts of one article, one per subscription and story; a subscription
    already alerted of the story gets the article recorded against that alert instead. Returns the
    ids of the alerts created now."""
    created = []
    for subscription_id in subscription_ids:
        values = {
            "subscription_id": subscription_id,
            "article_id": article_id,
            "story_id": story_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            # The caller sends the delivery message after commit; the sweep re-sends if it is lost.
            "dispatched_at": now,
            "created_at": now,
        }
        # Either unique key may be taken: (subscription, article) on a second run, (subscription,
        # story) for a later article of the story.
        alert_id = insert_ignore(session, ALERTS, values, conflict_columns=None)
        if alert_id is not None:
            created.append(int(alert_id))
        elif story_id is not None:
            _record_against_story_alert(
                session, article_id, subscription_id=subscription_id, story_id=story_id, now=now
            )
    if created:
        log.debug("alerts.created", extra={"article_id": article_id, "alert_ids": created})
    return created


def _record_against_story_alert(
    session: Session, article_id: str, *, subscription_id: int, story_id: int, now: datetime
) -> None:
    alert_id = session.execute(
        select(Alert.id).where(
            Alert.subscription_id == subscription_id,
            Alert.story_id == story_id,
            Alert.article_id != article_id,
        )
    ).scalar()
    if alert_id is None:
        return
    values = {"alert_id": alert_id, "article_id": article_id, "recorded_at": now}
    if insert_ignore(session, ALERT_ARTICLES, values, conflict_columns=["alert_id", "article_id"]):
        log.info("alert.story_article_recorded", extra={"alert_id": alert_id, "article_id": article_id})
