"""What one digest says, and how it is written: one email (a right-to-left HTML part and a plain-text
part, the stories grouped by topic, each with its outlets and the sentence behind it) or one signed
webhook with the list of stories.

Loaded once per delivery attempt, like :mod:`alert_service.content`; never sent on the broker.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alert_service.content import TopicScore, latest_tags
from alert_service.mail import encode_header_text, subject_text
from alert_service.models import Alert, Digest, Subscription
from alert_service.reports import AlertRecord, alert_records
from alert_service.schedules import zone_of
from alert_service.subscriptions import rule_of, schedule_of
from shared.commands import printable

DIGEST_EVENT_TYPE = "digest.ready"
# Stories whose subscribed topics are none of the article's (a rule of keywords or places only).
OTHER_TOPIC = "other"


@dataclass(frozen=True)
class DigestStory:
    """One alert of the digest: the story's first matching article, and every outlet that reported it."""

    alert_id: int
    story_id: int | None
    topic: str
    title: str
    url: str | None
    published_at: datetime | None
    outlets: tuple[str, ...]
    topics: tuple[TopicScore, ...]
    evidence: str


@dataclass(frozen=True)
class DigestContent:
    """Everything a sender needs to deliver one digest."""

    digest_id: int
    subscription_id: int
    kind: str
    channel: str
    target: str
    secret: str | None
    period_start: datetime
    period_end: datetime
    zone: str
    stories: tuple[DigestStory, ...]

    def by_topic(self) -> list[tuple[str, list[DigestStory]]]:
        """The stories grouped by topic, topics in order of first appearance."""
        groups: dict[str, list[DigestStory]] = {}
        for story in self.stories:
            groups.setdefault(story.topic, []).append(story)
        return list(groups.items())


def load_digest(session: Session, digest_id: int) -> DigestContent:
    """The content of one digest, read in the caller's transaction."""
    digest, subscription = session.execute(
        select(Digest, Subscription)
        .join(Subscription, Subscription.id == Digest.subscription_id)
        .where(Digest.id == digest_id)
    ).one()
    alert_ids = list(
        session.execute(
            select(Alert.id).where(Alert.digest_id == digest_id).order_by(Alert.created_at, Alert.id)
        ).scalars()
    )
    schedule = schedule_of(subscription)
    subscribed = set(rule_of(subscription).topic_names)
    records = alert_records(session, alert_ids)
    stories = tuple(_story(session, record, subscribed=subscribed) for record in records)
    return DigestContent(
        digest_id=digest.id,
        subscription_id=subscription.id,
        kind=digest.kind,
        channel=subscription.channel,
        target=subscription.target,
        secret=subscription.secret,
        period_start=digest.period_start,
        period_end=digest.period_end,
        zone=schedule.zone,
        stories=stories,
    )


def _story(session: Session, record: AlertRecord, *, subscribed: set[str]) -> DigestStory:
    tags = latest_tags(session, record.article.article_id)
    matched = [tag.topic for tag in tags if tag.topic in subscribed]
    sentences = [str(item["sentence"]) for tag in tags for item in tag.evidence if item.get("sentence")]
    return DigestStory(
        alert_id=record.alert.id,
        story_id=record.alert.story_id,
        topic=matched[0] if matched else (tags[0].topic if tags else OTHER_TOPIC),
        title=record.article.title,
        url=record.article.url,
        published_at=record.article.published_at,
        outlets=tuple(record.outlets),
        topics=tuple(TopicScore(topic=tag.topic, score=tag.score) for tag in tags),
        evidence=sentences[0] if sentences else "",
    )


def _local(content: DigestContent, when: datetime) -> str:
    return when.astimezone(zone_of(content.zone)).strftime("%Y-%m-%d %H:%M")


def period_text(content: DigestContent) -> str:
    """``2026-11-29 08:00 – 2026-11-30 08:00 Asia/Baghdad``."""
    return f"{_local(content, content.period_start)} – {_local(content, content.period_end)} {content.zone}"


def digest_subject(content: DigestContent) -> str:
    """``[Rasid] digest: 3 stories, 2026-11-29 08:00 – ...``."""
    what = "quiet hours" if content.kind == "quiet" else "digest"
    count = len(content.stories)
    return subject_text(f"[Rasid] {what}: {count} stor{'y' if count == 1 else 'ies'}, {period_text(content)}")


def digest_plain_text(content: DigestContent) -> str:
    """The plain-text part."""
    lines = [f"رصد: ملخص / Rasid digest: {period_text(content)}", ""]
    for topic, stories in content.by_topic():
        lines += [f"== {topic} ({len(stories)}) ==", ""]
        for story in stories:
            published = _local(content, story.published_at) if story.published_at else "-"
            lines += [
                printable(story.title),
                f"  المصادر / Outlets: {printable(', '.join(story.outlets))}",
                f"  الرابط / URL: {story.url or '-'}",
                f"  النشر / Published: {published}",
            ]
            if story.evidence:
                lines.append(f"  الشاهد / Evidence: {printable(story.evidence)}")
            lines.append("")
    return "\n".join(lines)


def digest_html(content: DigestContent) -> str:
    """The right-to-left HTML part; every value is escaped."""
    esc = html.escape
    sections = []
    for topic, stories in content.by_topic():
        items = "".join(_story_html(story) for story in stories)
        sections.append(f"<h2>{esc(topic)} ({len(stories)})</h2>\n<ul>{items}</ul>\n")
    title = esc(f"رصد: ملخص {period_text(content)}")
    return (
        '<!DOCTYPE html>\n<html dir="rtl" lang="ar">\n<head><meta charset="utf-8">'
        f"<title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n{''.join(sections)}</body>\n</html>\n"
    )


def _story_html(story: DigestStory) -> str:
    esc = html.escape
    heading = esc(story.title)
    if story.url and story.url.startswith(("http://", "https://")):
        heading = f'<a href="{esc(story.url, quote=True)}">{heading}</a>'
    quote = f"<blockquote>{esc(story.evidence)}</blockquote>" if story.evidence else ""
    return f"<li><h3>{heading}</h3><p>المصادر: {esc('، '.join(story.outlets))}</p>{quote}</li>"


def build_digest_email(content: DigestContent, *, sender: str) -> EmailMessage:
    """The digest as a multipart/alternative email in UTF-8, the same bytes on every attempt."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = content.target
    message.set_raw("Subject", encode_header_text(digest_subject(content)))
    domain = sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<rasid.digest.{content.digest_id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Rasid-Digest-Id"] = str(content.digest_id)
    message.set_content(digest_plain_text(content), charset="utf-8")
    message.add_alternative(digest_html(content), subtype="html", charset="utf-8")
    message.set_boundary(f"=_rasid.digest.{content.digest_id}")
    return message


def digest_payload(content: DigestContent) -> dict[str, Any]:
    """The JSON document POSTed to a webhook receiver."""
    return {
        "type": DIGEST_EVENT_TYPE,
        "digest_id": content.digest_id,
        "subscription_id": content.subscription_id,
        "kind": content.kind,
        "period": {"start": content.period_start.isoformat(), "end": content.period_end.isoformat()},
        "stories": [
            {
                "alert_id": story.alert_id,
                "story_id": story.story_id,
                "topic": story.topic,
                "title": story.title,
                "url": story.url,
                "published_at": story.published_at.isoformat() if story.published_at else None,
                "outlets": list(story.outlets),
                "topics": [{"topic": item.topic, "score": item.score} for item in story.topics],
                "evidence": story.evidence,
            }
            for story in content.stories
        ],
    }
