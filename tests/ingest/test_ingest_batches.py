"""Batches of dropped files, of new articles and of confirmations, against real SQLite and PostgreSQL:
one batch gives the same outcomes as its files one by one, in a few statements."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from ingest_service.files import FileOutcome, ingest_files
from ingest_service.ledger import confirm_stored_many, record_new, take_unconfirmed
from ingest_service.models import SeenArticle, SeenFile
from ingest_service.schemas import FileReady
from shared.db import get_engine, session_scope
from shared.messages import ArticleIngested, content_id
from tests.ingest.helpers import FILE_FIXTURES

MAX_BYTES = 100_000
NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
ARABIC_TITLE = "انسحاب القوات من القاعدة"
ARABIC_TEXT = "أعلنت وزارة الدفاع سحب القوات من القاعدة خلال الأشهر المقبلة بعد اجتماع طويل للقادة."


@pytest.fixture
def watch_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def drop(watch_dir: Path, fixture: str, name: str) -> FileReady:
    target = watch_dir / name
    shutil.copyfile(FILE_FIXTURES / fixture, target)
    return ready_for(target)


def write(watch_dir: Path, name: str, title: str) -> FileReady:
    """A file holding an article of its own (``title``) named ``name``."""
    target = watch_dir / name
    target.write_text(f"{title}\n{ARABIC_TEXT}", encoding="utf-8")
    return ready_for(target)


def ready_for(path: Path) -> FileReady:
    stat = path.stat()
    return FileReady.of(path, size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def run(database_url: str, watch_dir: Path, batch: list[FileReady]) -> list[FileOutcome]:
    with session_scope(database_url) as session:
        return ingest_files(
            session, batch, watch_dir=watch_dir, rejected_dir=watch_dir / "rejected", max_bytes=MAX_BYTES
        )


def statuses(outcomes: list[FileOutcome]) -> list[str]:
    return [outcome.status for outcome in outcomes]


def recorded(database_url: str) -> dict[str, str]:
    with session_scope(database_url) as session:
        rows = session.execute(select(SeenFile.path, SeenFile.status)).all()
    return {Path(path).name: status for path, status in rows}


def article(title: str) -> ArticleIngested:
    text = "أعلنت وزارة الدفاع سحب القوات من القاعدة خلال الأشهر المقبلة."
    return ArticleIngested(
        article_id=content_id(title, text),
        title=title,
        text=text,
        source="inbox/a.txt",
        source_kind="file",
        ingested_at=NOW,
    )


def test_one_article_in_two_files_of_a_batch_is_ingested_once(database_url: str, watch_dir: Path) -> None:
    batch = [
        drop(watch_dir, "utf8.txt", "first.txt"),
        write(watch_dir, "other.txt", "خبر آخر"),
        drop(watch_dir, "cp1256.txt", "same-text.txt"),
    ]

    outcomes = run(database_url, watch_dir, batch)

    assert statuses(outcomes) == ["ingested", "ingested", "duplicate"]
    assert outcomes[2].article_id == outcomes[0].article_id and outcomes[2].article is None
    assert recorded(database_url) == {
        "first.txt": "ingested",
        "other.txt": "ingested",
        "same-text.txt": "duplicate",
    }


def test_an_article_seen_in_an_earlier_batch_is_a_duplicate(database_url: str, watch_dir: Path) -> None:
    first = run(database_url, watch_dir, [drop(watch_dir, "utf8.txt", "a.txt")])

    second = run(
        database_url,
        watch_dir,
        [drop(watch_dir, "utf8-bom.txt", "a-again.txt"), write(watch_dir, "b.txt", "خبر آخر")],
    )

    assert statuses(first) == ["ingested"]
    assert statuses(second) == ["duplicate", "ingested"]
    assert second[0].article_id == first[0].article_id


def test_a_rejected_file_among_good_ones_is_moved_aside_and_the_others_ingested(
    database_url: str, watch_dir: Path
) -> None:
    batch = [
        drop(watch_dir, "utf8.txt", "good.txt"),
        drop(watch_dir, "binary.txt", "scan.txt"),
        write(watch_dir, "also-good.txt", "خبر آخر"),
    ]

    outcomes = run(database_url, watch_dir, batch)

    assert statuses(outcomes) == ["ingested", "rejected", "ingested"]
    assert outcomes[1].moved_to == watch_dir / "rejected" / "scan.txt"
    assert "binary" in (watch_dir / "rejected" / "scan.txt.reason.txt").read_text(encoding="utf-8")
    assert (watch_dir / "good.txt").exists() and not (watch_dir / "scan.txt").exists()
    assert recorded(database_url) == {
        "good.txt": "ingested",
        "scan.txt": "rejected",
        "also-good.txt": "ingested",
    }


def test_a_batch_run_twice_hands_nothing_on_the_second_time(database_url: str, watch_dir: Path) -> None:
    batch = [drop(watch_dir, "utf8.txt", "a.txt"), write(watch_dir, "b.txt", "خبر آخر")]

    first = run(database_url, watch_dir, batch)
    again = run(database_url, watch_dir, batch)

    assert [outcome.article is not None for outcome in first] == [True, True]
    assert statuses(again) == ["already_seen", "already_seen"]
    with session_scope(database_url) as session:
        assert len(session.scalars(select(SeenArticle.article_id)).all()) == 2
        assert len(session.scalars(select(SeenFile.id)).all()) == 2


def test_one_file_version_twice_in_a_batch_is_handled_once(database_url: str, watch_dir: Path) -> None:
    ready = drop(watch_dir, "utf8.txt", "a.txt")

    outcomes = run(database_url, watch_dir, [ready, ready])

    assert statuses(outcomes) == ["ingested", "already_seen"]


def statements_of(database_url: str, watch_dir: Path, batch: list[FileReady]) -> list[str]:
    """The SELECT and INSERT statements ingesting ``batch`` sends to the database."""
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = get_engine(database_url)
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert "ingested" in statuses(run(database_url, watch_dir, batch))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return [sql for sql in statements if sql.lstrip().upper().startswith(("SELECT", "INSERT"))]


def distinct_files(watch_dir: Path, count: int) -> list[FileReady]:
    return [
        write(watch_dir, f"{count}-{number}.txt", f"{ARABIC_TITLE} {count}-{number}")
        for number in range(count)
    ]


def test_a_batch_costs_the_same_few_statements_whatever_its_size(database_url: str, watch_dir: Path) -> None:
    small = statements_of(database_url, watch_dir, distinct_files(watch_dir, 2))
    large = statements_of(database_url, watch_dir, distinct_files(watch_dir, 40))

    # The file versions seen, the articles recorded (those seen before skipped), the files recorded.
    assert len(small) == len(large) == 3


def test_record_new_returns_each_new_article_once_in_order(database_url: str) -> None:
    known, first, second = article("خبر قديم"), article("خبر أول"), article("خبر ثان")
    with session_scope(database_url) as session:
        assert record_new(session, [known]) == [known]

    with session_scope(database_url) as session:
        assert record_new(session, [first, known, second, first]) == [first, second]
        assert record_new(session, []) == []


def test_confirming_a_batch_stops_every_resend_of_it_in_one_update(database_url: str) -> None:
    stored = [article(f"خبر {number}") for number in range(3)]
    waiting = article("خبر لم يخزن")
    with session_scope(database_url) as session:
        record_new(session, [*stored, waiting])

    with session_scope(database_url) as session:
        confirmed = confirm_stored_many(session, [item.article_id for item in stored], now=NOW)
    with session_scope(database_url) as session:
        again = confirm_stored_many(session, [stored[0].article_id, "f" * 32], now=NOW)
        later = NOW.replace(year=2027)
        resent = take_unconfirmed(session, now=later, older_than=NOW - NOW, limit=10)

    assert (confirmed, again) == (3, 0)
    assert [item.article_id for item in resent] == [waiting.article_id]
