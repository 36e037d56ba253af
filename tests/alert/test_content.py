"""What one alert says (alert_service.content): the newest tags of each topic, highest score first,
their evidence in that order, and the other outlets of the story recorded against the alert."""

from __future__ import annotations

from alert_service.content import AlertContent, latest_tags, load_content
from alert_service.models import Alert, Article, Subscription
from alert_service.reports import story_reports
from alert_service.subscriptions import rule_of
from shared.db import session_scope
from shared.messages import ArticleClassified
from tests.alert.helpers import MessageFactory, add_subscription, store
from tests.alert.test_story_store import CRASH, story_message


def _reclassified(message: ArticleClassified, *, version: str, scores: dict[str, float]) -> ArticleClassified:
    classification = message.classification.model_copy(
        update={"classifier_version": version, "scores": scores}
    )
    return message.model_copy(update={"classification": classification})


def _content(url: str, alert_id: int) -> AlertContent:
    with session_scope(url) as session:
        return load_content(session, alert_id)


def _as_read_by_rows(url: str, alert_id: int) -> tuple[object, ...]:
    """The same alert's content read through the ORM rows and the reports' story view."""
    with session_scope(url) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        subscription = session.get(Subscription, alert.subscription_id)
        article = session.get(Article, alert.article_id)
        assert subscription is not None and article is not None
        tags = latest_tags(session, article.id)
        later = story_reports(session, [alert_id]).get(alert_id, ())
        outlets = dict.fromkeys(report.source for report in later)
        return (
            subscription.channel,
            subscription.target,
            subscription.secret,
            rule_of(subscription).topic_names,
            (article.id, article.title, article.source, article.url, article.published_at),
            tuple((tag.topic, tag.score) for tag in tags),
            tuple(item for tag in tags for item in tag.evidence),
            tuple(source for source in outlets if source != article.source),
        )


def _fields(content: AlertContent) -> tuple[object, ...]:
    return (
        content.channel,
        content.target,
        content.secret,
        content.subscribed_topics,
        (content.article_id, content.title, content.source, content.url, content.published_at),
        tuple((item.topic, item.score) for item in content.topics),
        content.evidence,
        content.also_reported_by,
    )


def test_an_alert_says_its_article_topics_and_evidence(
    database_url: str, make_message: MessageFactory
) -> None:
    subscription = add_subscription(database_url, "webhook", "http://127.0.0.1:9/hook", ["withdrawal"])
    message = make_message()
    [alert_id] = store(database_url, message)
    content = _content(database_url, alert_id)
    assert (content.alert_id, content.subscription_id) == (alert_id, subscription.id)
    assert (content.channel, content.secret) == ("webhook", subscription.secret)
    assert content.subscribed_topics == ("withdrawal",)
    assert [(item.topic, item.score) for item in content.topics] == [("strikes", 0.93), ("withdrawal", 0.61)]
    assert content.matched_topics == ("withdrawal",)
    assert [item["topic"] for item in content.evidence] == ["strikes", "strikes", "withdrawal"]
    assert content.title == message.article.title and content.url == message.article.url
    assert content.published_at == message.article.published_at
    assert content.also_reported_by == ()
    assert _fields(content) == _as_read_by_rows(database_url, alert_id)


def test_a_reclassified_article_says_its_newest_tags(database_url: str, make_message: MessageFactory) -> None:
    add_subscription(database_url, "email", "analyst@example.org", ["strikes"])
    message = make_message()
    [alert_id] = store(database_url, message)
    newer = _reclassified(message, version="taxonomy-2026.12", scores={"strikes": 0.5, "withdrawal": 0.9})
    assert store(database_url, newer) == []
    content = _content(database_url, alert_id)
    assert [(item.topic, item.score) for item in content.topics] == [("withdrawal", 0.9), ("strikes", 0.5)]
    # Each version's tags carry their evidence: the newest tag of each topic gives it.
    assert [item["topic"] for item in content.evidence] == ["withdrawal", "strikes", "strikes"]
    assert _fields(content) == _as_read_by_rows(database_url, alert_id)


def test_a_story_alert_names_the_other_outlets_in_the_order_they_reported(database_url: str) -> None:
    add_subscription(database_url, "webhook", "http://127.0.0.1:9/hook", ["strikes"])
    created = [store(database_url, story_message(row)) for row in CRASH]
    [alert_id] = created[0]
    content = _content(database_url, alert_id)
    assert content.source == "skynews"
    assert content.also_reported_by == ("france24", "bbc")
    assert _fields(content) == _as_read_by_rows(database_url, alert_id)
