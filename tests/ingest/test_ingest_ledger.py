"""The article ledger keeps each message until the alert service confirms it stored the article,
and hands on again what was never confirmed (real SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, insert, select, text
from sqlalchemy.orm import Session

from ingest_service.ledger import (
    confirm_stored,
    record_files,
    record_if_new,
    record_new,
    recorded_files,
    take_unconfirmed,
)
from ingest_service.models import SeenArticle, SeenFile
from shared.db import get_engine, session_scope
from shared.messages import ArticleIngested, content_id
from shared.migrations import upgrade_all

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


def test_the_files_recorded_of_a_slice_of_the_folder_are_read_in_one_query(database_url: str) -> None:
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
    with session_scope(database_url) as session, statements_run(session) as statements:
        recorded = recorded_files(session, [f"/inbox/{number}.txt" for number in range(500)])

    assert len(recorded) == 500 and ("/inbox/7.txt", 7, 7) in recorded
    assert ("/inbox/700.txt", 700, 700) not in recorded, "only the files asked about"
    assert len(statements) == 1


@contextmanager
def statements_run(session: Session) -> Iterator[list[str]]:
    """The SQL statements ``session`` runs inside the block, as they are run."""
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(session.get_bind(), "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", count)


def file_row(path: str, status: str, *, reason: str | None = None) -> dict[str, Any]:
    return {
        "path": path,
        "size": 2_700,
        "mtime_ns": 1_764_568_000_123_456_789,
        "sha256": None if status == "rejected" else "0" * 64,
        "article_id": None,
        "status": status,
        "reason": reason,
        "seen_at": HANDED_ON,
    }


def test_files_recorded_together_take_one_statement_and_keep_the_first_outcome(database_url: str) -> None:
    with session_scope(database_url) as session:
        record_files(session, [file_row("/inbox/a.txt", "ingested")])
    rows = [
        file_row("/inbox/a.txt", "duplicate"),
        file_row("/inbox/مقال.txt", "rejected", reason="ليس نصًا عربيًا"),
        file_row("/inbox/مقال.txt", "duplicate"),
        *(file_row(f"/inbox/{number}.txt", "ingested") for number in range(300)),
    ]
    with session_scope(database_url) as session, statements_run(session) as statements:
        record_files(session, rows)
    with session_scope(database_url) as session:
        recorded = {seen.path: seen for seen in session.scalars(select(SeenFile))}

    assert len(recorded) == 302
    assert recorded["/inbox/a.txt"].status == "ingested", "recorded before: kept"
    rejected = recorded["/inbox/مقال.txt"]
    assert (rejected.status, rejected.reason, rejected.sha256) == ("rejected", "ليس نصًا عربيًا", None)
    assert (rejected.size, rejected.mtime_ns, rejected.seen_at) == (
        2_700,
        1_764_568_000_123_456_789,
        HANDED_ON,
    )
    if database_url.startswith("postgresql"):
        assert len(statements) == 1


def test_articles_recorded_together_are_kept_whole_to_be_handed_on_again(database_url: str) -> None:
    plain = article("انسحاب القوات")
    from_feed = ArticleIngested(
        article_id=content_id('عنوان "مقتبس" \\ مائل', "نص\nبسطرين 🚀 و\tجدولة"),
        title='عنوان "مقتبس" \\ مائل',
        text="نص\nبسطرين 🚀 و\tجدولة",
        source="وكالة الأنباء",
        source_kind="feed",
        url="https://example.com/news/1?a=1&b=2",
        feed_id=7,
        published_at=HANDED_ON - WAIT,
        ingested_at=HANDED_ON,
    )
    # Text a broken feed may give: not UTF-8 encodable, it is kept as an ASCII escape.
    broken = article("نص مكسور").model_copy(update={"text": "نص \ud800 مكسور", "article_id": "e" * 32})
    with session_scope(database_url) as session:
        assert record_new(session, [plain, from_feed]) == [plain, from_feed]
        assert record_new(session, [broken]) == [broken]

    with session_scope(database_url) as session:
        again = take_unconfirmed(session, now=HANDED_ON + WAIT * 2, older_than=WAIT, limit=10)
        rows = {row.article_id: row for row in session.scalars(select(SeenArticle))}
    assert sorted(again, key=lambda item: item.article_id) == sorted(
        [plain, from_feed, broken], key=lambda item: item.article_id
    )
    kept = rows[from_feed.article_id]
    assert (kept.source, kept.source_kind, kept.url) == ("وكالة الأنباء", "feed", from_feed.url)
    assert kept.first_seen_at == HANDED_ON
    assert rows[plain.article_id].url is None


def test_an_article_recorded_by_another_worker_meanwhile_is_not_recorded_again(database_url: str) -> None:
    """Between the query for the ids seen and the insert, another worker records one of the articles:
    the insert skips it and it is not returned as new (that worker hands it on)."""
    theirs, ours = article("خبر سبقنا إليه"), article("خبر لنا")
    engine = get_engine(database_url)
    raced = []

    def record_theirs_first(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO ingest_articles") and not raced:
            raced.append(statement)
            with session_scope(database_url) as other:
                assert record_if_new(other, theirs)

    event.listen(engine, "before_cursor_execute", record_theirs_first)
    try:
        with session_scope(database_url) as session:
            assert record_new(session, [theirs, ours]) == [ours]
    finally:
        event.remove(engine, "before_cursor_execute", record_theirs_first)
    assert raced, "the other worker recorded its article between the query and the insert"


def test_kept_messages_are_stored_uncompressed_on_postgresql(fresh_postgres_url: str) -> None:
    upgrade_all(fresh_postgres_url)
    with session_scope(fresh_postgres_url) as session:
        storage = session.scalar(
            text(
                "SELECT attstorage FROM pg_attribute "
                "WHERE attrelid = 'ingest_articles'::regclass AND attname = 'payload'"
            )
        )
    assert storage == "e", "kept for seconds: not worth compressing"
