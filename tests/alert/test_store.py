"""Storing classified articles: idempotent, a tag per topic, alerts created once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError

from alert_service.models import Alert, Article, ArticleEntity, StoryMember, Tag
from alert_service.subscriptions import remove_subscription
from shared.db import session_scope
from tests.alert.helpers import NOW, MessageFactory, add_subscription, store


def _count(url: str, model: type[object]) -> int:
    with session_scope(url) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_storing_twice_keeps_one_article_one_set_of_tags_and_alerts(
    database_url: str, make_message: MessageFactory
) -> None:
    subscription = add_subscription(database_url, "email", "analyst@example.org", ["strikes"])
    message = make_message()
    first = store(database_url, message)
    second = store(database_url, message)
    assert len(first) == 1
    assert second == []
    assert _count(database_url, Article) == 1
    assert _count(database_url, Tag) == 2
    assert _count(database_url, ArticleEntity) == 1
    with session_scope(database_url) as session:
        alerts = session.execute(select(Alert)).scalars().all()
    assert [(row.id, row.subscription_id, row.status) for row in alerts] == [
        (first[0], subscription.id, "pending")
    ]


def test_article_text_tags_and_evidence_are_stored_as_written(
    database_url: str, make_message: MessageFactory
) -> None:
    message = make_message()
    store(database_url, message)
    with session_scope(database_url) as session:
        article = session.get(Article, message.article.article_id)
        tags = {tag.topic: tag for tag in session.execute(select(Tag)).scalars()}
    assert article is not None
    assert article.title == message.article.title
    assert article.published_at == message.article.published_at
    assert article.stored_at == NOW
    assert tags["strikes"].score == 0.93
    assert [item["sentence"] for item in tags["withdrawal"].evidence] == [
        "وأعلن الجيش بدء انسحاب جزئي للقوات من المنطقة."
    ]
    assert len(tags["strikes"].evidence) == 2


def test_second_run_creates_the_alerts_the_first_missed(
    database_url: str, make_message: MessageFactory
) -> None:
    message = make_message()
    assert store(database_url, message) == []
    add_subscription(database_url, "webhook", "https://hooks.example.org/rasid", ["withdrawal"])
    created = store(database_url, message)
    assert len(created) == 1
    assert store(database_url, message) == []
    assert _count(database_url, Alert) == 1


def test_only_active_matching_subscriptions_get_alerts(
    database_url: str, make_message: MessageFactory
) -> None:
    matching = add_subscription(database_url, "email", "a@example.org", ["training", "strikes"])
    add_subscription(database_url, "email", "b@example.org", ["training"])
    removed = add_subscription(database_url, "email", "c@example.org", ["strikes"])
    with session_scope(database_url) as session:
        remove_subscription(session, removed.id)
    created = store(database_url, make_message())
    with session_scope(database_url) as session:
        subscribers = (
            session.execute(select(Alert.subscription_id).where(Alert.id.in_(created))).scalars().all()
        )
    assert subscribers == [matching.id]


def test_a_new_classifier_version_adds_tags_but_no_second_alert(
    database_url: str, make_message: MessageFactory
) -> None:
    add_subscription(database_url, "email", "a@example.org", ["strikes"])
    assert len(store(database_url, make_message())) == 1
    assert store(database_url, make_message(version="taxonomy-2026.12")) == []
    assert _count(database_url, Tag) == 4
    assert _count(database_url, Alert) == 1


def test_an_article_imported_without_alerts_is_stored_tagged_and_grouped_but_alerts_nobody(
    database_url: str, make_message: MessageFactory
) -> None:
    add_subscription(database_url, "email", "analyst@example.org", ["strikes"])
    quiet = make_message()
    quiet = quiet.model_copy(update={"article": quiet.article.model_copy(update={"alerts": False})})

    created = store(database_url, quiet)

    assert created == []
    counts = [_count(database_url, model) for model in (Article, Tag, Alert)]
    assert counts == [1, 2, 0]
    with session_scope(database_url) as session:
        assert session.execute(select(func.count()).select_from(StoryMember)).scalar_one() == 1


def _stored_rows(url: str) -> list[tuple[object, ...]]:
    with session_scope(url) as session:
        articles = session.execute(select(Article).order_by(Article.id)).scalars().all()
        tags = session.execute(select(Tag).order_by(Tag.article_id, Tag.topic)).scalars().all()
        entities = session.execute(select(ArticleEntity).order_by(ArticleEntity.entity_id)).scalars().all()
        return [
            *(
                (
                    a.id,
                    a.title,
                    a.text,
                    a.source,
                    a.source_kind,
                    a.url,
                    a.feed_id,
                    a.published_at,
                    a.ingested_at,
                )
                for a in articles
            ),
            *((t.article_id, t.topic, t.score, t.classifier_version, t.evidence) for t in tags),
            *((e.article_id, e.entity_id, e.kind, e.name, e.mentions) for e in entities),
        ]


def test_every_column_of_a_stored_article_its_tags_and_entities_reads_back_as_given(
    database_url: str, make_message: MessageFactory
) -> None:
    message = make_message()
    # A score that only a full-precision float keeps, and a time with microseconds in another zone.
    scores = {**message.classification.scores, "strikes": 0.1 + 0.2}
    article = message.article.model_copy(
        update={"ingested_at": datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=3)))}
    )
    classification = message.classification.model_copy(update={"scores": scores})
    message = message.model_copy(update={"article": article, "classification": classification})
    store(database_url, message)
    (stored_article, *tags_and_entities) = _stored_rows(database_url)
    assert stored_article[7:] == (article.published_at, article.ingested_at)
    assert stored_article[:7] == (
        article.article_id,
        article.title,
        article.text,
        article.source,
        article.source_kind,
        article.url,
        article.feed_id,
    )
    strikes = next(row for row in tags_and_entities if row[1] == "strikes")
    assert strikes[2] == 0.1 + 0.2
    assert strikes[4] == [
        item.model_dump(mode="json") for item in classification.evidence if item.topic == "strikes"
    ]


def test_an_article_of_a_naive_time_is_refused_as_before(
    database_url: str, make_message: MessageFactory
) -> None:
    message = make_message()
    naive = message.article.model_copy(update={"published_at": datetime(2026, 3, 1, 12, 0)})
    with pytest.raises(StatementError, match="naive datetime"):
        store(database_url, message.model_copy(update={"article": naive}))
