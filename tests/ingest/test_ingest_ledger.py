"""The article ledger keeps each message until the alert service confirms it stored the article,
and hands on again what was never confirmed (real SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, insert

from ingest_service.ledger import confirm_stored, record_if_new, recorded_files, take_unconfirmed
from ingest_service.models import SeenFile
from shared.db import session_scope
from shared.messages import ArticleIngested, content_id

HANDED_ON = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
WAIT = timedelta(minutes=5)


def article(title: str) -> ArticleIngested:
    text = "أعلنت وزارة الدفاع سحب القوات من القاعدة خلال الأشهر المقبلة."
    return ArticleIngested(
        article_id=content_id(title, text),
        title=title,
        text=text,
        source="inbox/a.txt",
        source_kind="file",
        ingested_at=HANDED_ON,
    )


def hand_on(database_url: str, *articles: ArticleIngested) -> None:
    with session_scope(database_url) as session:
        for item in articles:
            assert record_if_new(session, item)


def unconfirmed_at(database_url: str, now: datetime) -> list[str]:
    with session_scope(database_url) as session:
        return [item.article_id for item in take_unconfirmed(session, now=now, older_than=WAIT, limit=10)]


def test_an_unconfirmed_article_is_handed_on_again_after_the_wait(database_url: str) -> None:
    lost = article("انسحاب القوات")
    hand_on(database_url, lost)
    assert unconfirmed_at(database_url, HANDED_ON + WAIT / 2) == []
    second = HANDED_ON + WAIT * 2
    assert unconfirmed_at(database_url, second) == [lost.article_id]
    # The wait doubles with each send: a backlog is not flooded with copies.
    assert unconfirmed_at(database_url, second + WAIT * 1.5) == []
    assert unconfirmed_at(database_url, second + WAIT * 2.5) == [lost.article_id]
    third = second + WAIT * 2.5
    assert unconfirmed_at(database_url, third + WAIT * 3.5) == []
    assert unconfirmed_at(database_url, third + WAIT * 4.5) == [lost.article_id]


def test_a_confirmed_article_is_never_handed_on_again(database_url: str) -> None:
    stored, lost = article("انسحاب القوات"), article("تدريب القوات")
    hand_on(database_url, stored, lost)
    with session_scope(database_url) as session:
        assert confirm_stored(session, stored.article_id, now=HANDED_ON + WAIT / 2)
        assert not confirm_stored(session, stored.article_id, now=HANDED_ON + WAIT), "safe to run twice"
    assert unconfirmed_at(database_url, HANDED_ON + WAIT * 3) == [lost.article_id]


def test_the_message_handed_on_again_is_the_original(database_url: str) -> None:
    lost = article("ضربات جوية")
    hand_on(database_url, lost)
    with session_scope(database_url) as session:
        (again,) = take_unconfirmed(session, now=HANDED_ON + WAIT * 2, older_than=WAIT, limit=10)
    assert again == lost


def test_the_files_recorded_are_read_in_one_query_however_many_there_are(database_url: str) -> None:
    rows = [
        {
            "path": f"/inbox/{number}.txt",
            "size": number,
            "mtime_ns": number,
            "sha256": "0" * 64,
            "status": "ingested",
            "seen_at": HANDED_ON,
        }
        for number in range(10_000)
    ]
    with session_scope(database_url) as session:
        session.execute(insert(SeenFile), rows)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    with session_scope(database_url) as session:
        event.listen(session.get_bind(), "before_cursor_execute", count)
        try:
            recorded = recorded_files(session)
        finally:
            event.remove(session.get_bind(), "before_cursor_execute", count)

    assert len(recorded) == 10_000 and ("/inbox/7.txt", 7, 7) in recorded
    assert len(statements) == 1
