"""One clock and one timestamp column type for every service: what goes in aware comes back aware
UTC, on SQLite (which keeps no zone) as on PostgreSQL."""

from __future__ import annotations

import stat
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy.exc
from sqlalchemy import select, text
from sqlalchemy.dialects import sqlite

from ingest_service.models import Feed, SeenFile
from shared.db import (
    UTCDateTime,
    dispose_engines,
    insert_ignore_all,
    insert_ignore_many,
    session_scope,
    utc_now,
)

BAGHDAD = timezone(timedelta(hours=3))


def test_the_clock_is_aware_utc() -> None:
    assert utc_now().tzinfo is UTC


def test_timestamps_come_back_aware_utc_whatever_zone_they_were_written_in(database_url: str) -> None:
    written = datetime(2026, 11, 29, 12, 0, tzinfo=BAGHDAD)
    with session_scope(database_url) as session:
        session.add(Feed(url="https://example.org/rss", added_at=written, error_count=0, active=True))
    with session_scope(database_url) as session:
        added_at = session.scalars(select(Feed.added_at)).one()
        earlier = session.scalars(select(Feed.url).where(Feed.added_at < written + timedelta(seconds=1)))
        assert earlier.all() == ["https://example.org/rss"]
    assert added_at == written
    assert added_at.tzinfo is UTC
    assert added_at.hour == 9


def test_postgresql_sessions_run_in_utc_keeping_the_options_of_the_url(fresh_postgres_url: str) -> None:
    url = f"{fresh_postgres_url}?options=-c%20statement_timeout%3D5000"
    with session_scope(url) as session:
        assert session.scalar(text("SHOW TimeZone")) == "UTC"
        assert session.scalar(text("SHOW statement_timeout")) == "5s"
        # Read straight from the driver, as every UTCDateTime column is.
        assert session.scalar(text("SELECT now()")).tzinfo is UTC


def test_postgresql_sessions_compress_long_values_with_lz4_where_the_server_has_it(
    fresh_postgres_url: str,
) -> None:
    for _ in range(2):  # a new connection, then one back from the pool after its rollback
        with session_scope(fresh_postgres_url) as session:
            built = session.scalar(
                text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
            )
            expected = "lz4" if built else "pglz"
            assert session.scalar(text("SHOW default_toast_compression")) == expected


def test_a_timestamp_of_another_zone_is_read_as_utc() -> None:
    column = UTCDateTime()
    read = column.process_result_value(datetime(2026, 11, 29, 12, 0, tzinfo=BAGHDAD), sqlite.dialect())
    assert read == datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    assert read is not None and read.tzinfo is UTC


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2026, 11, 29, 12, 0), dialect=None)  # type: ignore[arg-type]


def test_the_sqlite_database_and_its_folder_are_for_their_owner_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'rasid.db'}"
    with session_scope(url) as session:
        session.execute(text("CREATE TABLE secrets (value TEXT)"))
        session.execute(text("INSERT INTO secrets VALUES ('whsec_x')"))

    files = sorted(path.name for path in (tmp_path / "var").iterdir())
    assert "rasid.db" in files and "rasid.db-wal" in files
    for name in files:
        assert stat.S_IMODE((tmp_path / "var" / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700
    dispose_engines()


def test_an_existing_world_readable_database_is_made_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "rasid.db"
    database.touch(mode=0o644)
    database.chmod(0o644)
    with session_scope(f"sqlite:///{database}") as session:
        session.execute(text("SELECT 1"))

    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    dispose_engines()


def test_sql_parameters_stay_out_of_errors(database_url: str) -> None:
    with pytest.raises(sqlalchemy.exc.DBAPIError) as caught, session_scope(database_url) as session:
        session.execute(text("INSERT INTO no_such_table VALUES (:secret)"), {"secret": "whsec_hidden"})

    assert "whsec_hidden" not in str(caught.value)


def _seen_file(path: str, status: str) -> dict[str, object]:
    return {
        "path": path,
        "size": 10,
        "mtime_ns": 1,
        "sha256": None,
        "article_id": None,
        "status": status,
        "reason": None,
        "seen_at": utc_now(),
    }


@pytest.mark.parametrize("insert", ["all", "many"])
def test_an_idempotent_insert_keeps_existing_rows_and_the_first_of_two(
    database_url: str, insert: str
) -> None:
    table = SeenFile.__table__
    columns = ["path", "size", "mtime_ns"]
    with session_scope(database_url) as session:
        insert_ignore_all(session, table, [_seen_file("a.txt", "ingested")], conflict_columns=columns)
    rows = [
        _seen_file("b.txt", "ingested"),
        _seen_file("a.txt", "rejected"),
        _seen_file("b.txt", "duplicate"),
    ]
    with session_scope(database_url) as session:
        if insert == "all":
            insert_ignore_all(session, table, rows, conflict_columns=columns)
        else:
            inserted = insert_ignore_many(session, table, rows, conflict_columns=columns, returning=["path"])
            assert [row.path for row in inserted] == ["b.txt"]
    with session_scope(database_url) as session:
        stored = session.execute(select(SeenFile.path, SeenFile.status).order_by(SeenFile.path)).all()
    assert [tuple(row) for row in stored] == [("a.txt", "ingested"), ("b.txt", "ingested")]


def test_an_idempotent_insert_failing_midway_stores_none_of_its_rows(database_url: str) -> None:
    table = SeenFile.__table__
    columns = ["path", "size", "mtime_ns"]
    broken = {**_seen_file("b.txt", "ingested"), "status": None}  # status is NOT NULL
    rows = [_seen_file("a.txt", "ingested"), broken, _seen_file("c.txt", "ingested")]
    with pytest.raises(sqlalchemy.exc.IntegrityError), session_scope(database_url) as session:
        insert_ignore_all(session, table, rows, conflict_columns=columns)
    # Nothing of the failed transaction is kept, and the connection it leaves serves the next one.
    with session_scope(database_url) as session:
        assert session.scalars(select(SeenFile.path)).all() == []
        insert_ignore_all(session, table, rows[::2], conflict_columns=columns)
    with session_scope(database_url) as session:
        assert sorted(session.scalars(select(SeenFile.path))) == ["a.txt", "c.txt"]


def test_an_idempotent_insert_of_thousands_of_rows_keeps_every_new_one(database_url: str) -> None:
    table = SeenFile.__table__
    columns = ["path", "size", "mtime_ns"]
    with session_scope(database_url) as session:
        insert_ignore_all(
            session,
            table,
            [_seen_file(f"{n:05}", "ingested") for n in range(0, 3000, 2)],
            conflict_columns=columns,
        )
    with session_scope(database_url) as session:
        insert_ignore_all(
            session, table, [_seen_file(f"{n:05}", "rejected") for n in range(3000)], conflict_columns=columns
        )
    with session_scope(database_url) as session:
        stored = {path: status for path, status in session.execute(select(SeenFile.path, SeenFile.status))}
    assert sorted(stored) == [f"{n:05}" for n in range(3000)]
    assert {path for path, status in stored.items() if status == "ingested"} == {
        f"{n:05}" for n in range(0, 3000, 2)
    }


def test_two_transactions_inserting_the_same_rows_keep_one_of_each(database_url: str) -> None:
    table = SeenFile.__table__
    columns = ["path", "size", "mtime_ns"]
    first_inserted, second_done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def second() -> None:
        first_inserted.wait(10)
        try:
            with session_scope(database_url) as session:  # waits for the first transaction's rows
                rows = [_seen_file(name, "rejected") for name in ("b.txt", "c.txt", "d.txt")]
                insert_ignore_all(session, table, rows, conflict_columns=columns)
        except BaseException as error:  # handed to the test's thread
            errors.append(error)
        second_done.set()

    thread = threading.Thread(target=second)
    thread.start()
    with session_scope(database_url) as session:
        rows = [_seen_file(name, "ingested") for name in ("a.txt", "b.txt", "c.txt")]
        insert_ignore_all(session, table, rows, conflict_columns=columns)
        first_inserted.set()
        second_done.wait(0.3)  # the second blocks on the rows until this commits
    thread.join(10)
    assert errors == []
    with session_scope(database_url) as session:
        stored = session.execute(select(SeenFile.path, SeenFile.status).order_by(SeenFile.path))
        assert [tuple(row) for row in stored] == [
            ("a.txt", "ingested"),
            ("b.txt", "ingested"),
            ("c.txt", "ingested"),
            ("d.txt", "rejected"),
        ]


def test_an_idempotent_insert_refuses_rows_naming_other_columns(database_url: str) -> None:
    # One statement for all the rows names the first row's columns: the second's reason would be lost.
    rows = [_seen_file("a.txt", "ingested"), _seen_file("b.txt", "rejected")]
    del rows[0]["reason"]
    rows[1]["reason"] = "too little Arabic text"
    with pytest.raises(ValueError, match="same columns"), session_scope(database_url) as session:
        insert_ignore_all(session, SeenFile.__table__, rows, conflict_columns=["path", "size", "mtime_ns"])
    with session_scope(database_url) as session:
        assert session.scalars(select(SeenFile.path)).all() == []
