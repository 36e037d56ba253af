"""Digests and quiet hours on SQLite and PostgreSQL with a real SMTP server and HTTP receiver: alerts
of a digest subscription wait for their period, the period's digest is one message sent once, an
empty period sends nothing, quiet hours hold an immediate alert until they end, a failed digest is
retried on the retry schedule, and a later outlet of a held story appears in the digest."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from alert_service.delivery import deliver_alert
from alert_service.digests import claim_digest, deliver_digest, dispatch_due_digests, hold_alerts
from alert_service.models import Alert, Digest
from alert_service.rules import WatchRule
from alert_service.schedules import read_schedule
from alert_service.settings import AlertSettings
from alert_service.store import store_classified
from alert_service.subscriptions import Channel, NewSubscription, subscribe
from shared.db import session_scope
from shared.messages import ArticleClassified
from shared.net import TargetPolicy
from tests.alert.helpers import FIXTURES, NOW, classified_message
from tests.peers import HttpPeer, SmtpSink, error

DAY = timedelta(days=1)
# NOW is 06:00 UTC, 09:00 in Baghdad: the daily digest at 08:00 Baghdad covers 05:00 UTC to 05:00 UTC.
PERIOD_END = NOW.replace(hour=5) + DAY


def _subscribe(url: str, channel: Channel, target: str, **schedule: str) -> NewSubscription:
    with session_scope(url) as session:
        return subscribe(
            session,
            channel,
            target=target,
            rule=WatchRule.of_topics(["strikes"]),
            policy=TargetPolicy(allow_private=True),
            now=NOW,
            schedule=read_schedule(schedule.get("digest"), zone="Asia/Baghdad", quiet=schedule.get("quiet")),
        )


def _report(name: str, *, article_id: str, source: str, days: int = 0) -> ArticleClassified:
    """A strike article of the fixtures under ``article_id``, from ``source``, published ``days``
    after the fixture's date (days apart: two stories, whatever the words)."""
    title, _, text = (FIXTURES / "articles" / name).read_text(encoding="utf-8").partition("\n")
    message = classified_message(article_id, tags=["strikes"])
    payload = message.model_dump(mode="json")
    published = (message.article.published_at or NOW) + timedelta(days=days)
    article = {"title": title.strip(), "text": text.strip(), "source": source}
    payload["article"].update(article, published_at=published.isoformat())
    return ArticleClassified.from_payload(payload)


def _arrive(url: str, message: ArticleClassified, *, minutes: float) -> list[int]:
    """Store an article ``minutes`` after NOW; returns the alerts to send at once."""
    when = NOW + timedelta(minutes=minutes)
    with session_scope(url) as session:
        created = store_classified(session, message, now=when)
        return hold_alerts(session, created, now=when, day=DAY)


def _due(url: str, settings: AlertSettings, *, at: timedelta) -> list[int]:
    with session_scope(url) as session:
        return dispatch_due_digests(session, now=NOW + at, settings=settings)


def _digests(url: str) -> list[Digest]:
    with session_scope(url) as session:
        return list(session.execute(select(Digest).order_by(Digest.id)).scalars())


def _alerts(url: str) -> list[Alert]:
    with session_scope(url) as session:
        return list(session.execute(select(Alert).order_by(Alert.id)).scalars())


# Ids of their own: grouping keeps the profiles of articles it read by id, for the whole process.
IRAQ = _report("iraq_strike.txt", article_id="d1935" * 6 + "01", source="feed: outlet one")
IRAQ_AGAIN = _report("iraq_strike.txt", article_id="d1935" * 6 + "02", source="feed: outlet two")
SYRIA = _report("syria_strike.txt", article_id="d1935" * 6 + "03", source="feed: outlet one", days=5)


def test_a_daily_digest_is_one_email_for_its_period_sent_once(
    database_url: str, settings: AlertSettings, smtp_server: SmtpSink
) -> None:
    _subscribe(database_url, "email", "analyst@example.org", digest="daily@08:00")
    assert _arrive(database_url, IRAQ, minutes=1) == [], "held for the digest"
    assert _arrive(database_url, IRAQ_AGAIN, minutes=2) == [], "a later outlet of the story"
    assert _arrive(database_url, SYRIA, minutes=3) == []
    [digest] = _digests(database_url)
    assert (digest.kind, digest.period_end) == ("digest", PERIOD_END)
    assert _due(database_url, settings, at=PERIOD_END - NOW - timedelta(seconds=1)) == []

    [due] = _due(database_url, settings, at=PERIOD_END - NOW)
    clock = PERIOD_END + timedelta(seconds=1)
    assert deliver_digest(database_url, due, settings=settings, clock=lambda: clock) == "delivered"
    assert deliver_digest(database_url, due, settings=settings, clock=lambda: clock) is None
    assert _due(database_url, settings, at=timedelta(days=3)) == [], "an empty period sends nothing"

    [mail] = smtp_server.received()
    plain = mail.message.get_body(preferencelist=("plain",))
    html = mail.message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    text = plain.get_content()
    assert "== strikes (2) ==" in text
    assert "قاعدة عين الأسد" in text and "حلب" in text
    assert "feed: outlet one, feed: outlet two" in text, "the story's outlets"
    assert 'dir="rtl"' in html.get_content()
    assert [alert.status for alert in _alerts(database_url)] == ["delivered", "delivered"]


def test_quiet_hours_hold_an_alert_and_release_it_as_one_signed_webhook(
    database_url: str, settings: AlertSettings, receiver: HttpPeer
) -> None:
    # 09:00 in Baghdad is inside 08:30-09:30; the window ends at 06:30 UTC.
    created = _subscribe(database_url, "webhook", receiver.url("/hook"), quiet="08:30-09:30")
    assert _arrive(database_url, IRAQ, minutes=1) == []
    [digest] = _digests(database_url)
    assert (digest.kind, digest.period_end) == ("quiet", NOW + timedelta(minutes=30))
    receiver.script("/hook", error(503))

    [due] = _due(database_url, settings, at=timedelta(minutes=30))
    clock = NOW + timedelta(minutes=30)
    assert deliver_digest(database_url, due, settings=settings, clock=lambda: clock) == "pending"
    soon = timedelta(minutes=30, seconds=1)
    assert _due(database_url, settings, at=soon) == [], "waits for the retry schedule"
    [retry] = _due(database_url, settings, at=timedelta(hours=2))
    later = NOW + timedelta(hours=2)
    assert deliver_digest(database_url, retry, settings=settings, clock=lambda: later) == "delivered"

    first, second = receiver.received("/hook")
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == f"msg_digest_{due}"
    assert created.secret is not None
    Webhook(created.secret).verify(second.body, second.headers)
    body = json.loads(second.body)
    assert (body["type"], body["kind"]) == ("digest.ready", "quiet")
    [story] = body["stories"]
    assert story["outlets"] == ["feed: outlet one"] and story["evidence"]

    assert _arrive(database_url, SYRIA, minutes=45) != [], "after quiet hours alerts go at once"


def test_an_alert_outside_quiet_hours_is_sent_at_once(database_url: str) -> None:
    _subscribe(database_url, "email", "analyst@example.org", quiet="22:00-07:00")
    assert len(_arrive(database_url, IRAQ, minutes=0)) == 1
    assert _digests(database_url) == []


def test_an_immediate_alert_stays_one_message_and_a_retry_names_the_later_outlets(
    database_url: str, settings: AlertSettings, receiver: HttpPeer
) -> None:
    _subscribe(database_url, "webhook", receiver.url("/hook"))
    [alert_id] = _arrive(database_url, IRAQ, minutes=0)
    receiver.script("/hook", error(503))
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW) == "pending"
    assert _arrive(database_url, IRAQ_AGAIN, minutes=1) == [], "a later outlet makes no second alert"
    later = NOW + timedelta(hours=1)
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: later) == "delivered"
    first, second = (json.loads(request.body) for request in receiver.received("/hook"))
    assert first["also_reported_by"] == []
    assert second["also_reported_by"] == ["feed: outlet two"]
    assert first["article"] == second["article"]


def test_a_digest_whose_worker_died_mid_send_is_sent_once_after_its_lease(
    database_url: str, settings: AlertSettings, smtp_server: SmtpSink
) -> None:
    _subscribe(database_url, "email", "analyst@example.org", digest="hourly")
    _arrive(database_url, IRAQ, minutes=1)
    end = NOW + timedelta(hours=1)
    [due] = _due(database_url, settings, at=timedelta(hours=1))
    with session_scope(database_url) as session:  # a worker claims it, then dies before sending
        assert claim_digest(session, due, now=end, lease_seconds=120) is not None
    assert _due(database_url, settings, at=timedelta(hours=1, seconds=60)) == [], "the claim holds"
    assert _due(database_url, settings, at=timedelta(hours=1, seconds=121)) == [due]
    after = end + timedelta(seconds=121)
    assert deliver_digest(database_url, due, settings=settings, clock=lambda: after) == "delivered"
    assert deliver_digest(database_url, due, settings=settings, clock=lambda: after) is None
    assert len(smtp_server.received()) == 1
    [digest] = _digests(database_url)
    assert (digest.status, digest.attempts) == ("delivered", 2)
