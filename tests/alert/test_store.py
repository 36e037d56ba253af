"""Storing classified articles: idempotent, a tag per topic, alerts created once."""

from __future__ import annotations

from sqlalchemy import func, select

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
