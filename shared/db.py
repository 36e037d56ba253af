"""Database plumbing shared by the services that keep tables: naming convention, one clock and
one timestamp column type, per-process engines, a session scope and an idempotent insert that works
on PostgreSQL and SQLite.

Each service declares its own ``DeclarativeBase`` on :func:`make_metadata` and owns its tables;
every timestamp column is a :class:`UTCDateTime` and every "now" comes from :func:`utc_now`.

The database holds webhook secrets and article text: an SQLite file (and the WAL and shared-memory
files beside it, which SQLite creates with the file's own mode) is readable by its owner only, in a
folder Rasid creates for its owner only, and no SQL parameter appears in an error or a log line.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any

import pydantic_core
from sqlalchemy import (
    DateTime,
    Dialect,
    Engine,
    FromClause,
    MetaData,
    Row,
    Table,
    TextClause,
    TypeDecorator,
    create_engine,
    event,
    make_url,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_ENGINES: dict[tuple[int, str], Engine] = {}
_SESSION_FACTORIES: dict[tuple[int, str], sessionmaker[Session]] = {}


def make_metadata() -> MetaData:
    """A MetaData whose constraint names are stable, so migrations stay stable."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always aware UTC in Python; SQLite stores it naive, in UTC.

    In the database it is ``DateTime(timezone=True)``: ``timestamptz`` on PostgreSQL.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is UTC:
            # PostgreSQL sessions run in UTC (:func:`_build_engine`): psycopg gives UTC already.
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class utc_day(FunctionElement[Any]):  # noqa: N801 -- a SQL function, named as SQL names them
    """The UTC calendar day of a :class:`UTCDateTime` column, in SQL, to group by: ``date(column)``
    on SQLite (stored naive, in UTC), ``date(timezone('UTC', column))`` on PostgreSQL (whose
    ``date()`` of a ``timestamptz`` would follow the session's time zone). Read the value with
    :func:`as_date`: SQLite gives the text ``YYYY-MM-DD``."""

    inherit_cache = True
    name = "utc_day"


@compiles(utc_day)
def _utc_day_generic(element: utc_day, compiler: SQLCompiler, **options: Any) -> str:
    return f"date({compiler.process(element.clauses, **options)})"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: SQLCompiler, **options: Any) -> str:
    return f"date(timezone('UTC', {compiler.process(element.clauses, **options)}))"


class seconds_between(FunctionElement[float]):  # noqa: N801 -- a SQL function, named as SQL names them
    """Seconds from one :class:`UTCDateTime` column to another, in SQL (``seconds_between(start,
    end)``): ``julianday`` arithmetic on SQLite, ``EXTRACT(EPOCH ...)`` on PostgreSQL."""

    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between)
def _seconds_between_generic(element: seconds_between, compiler: SQLCompiler, **options: Any) -> str:
    start, end = (compiler.process(clause, **options) for clause in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_between_postgresql(element: seconds_between, compiler: SQLCompiler, **options: Any) -> str:
    start, end = (compiler.process(clause, **options) for clause in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


def as_date(value: date | str) -> date:
    """A day :func:`utc_day` selected, as a date whatever the database gave."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def _tune_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets the watcher, the workers and the CLI read while one of them writes;
    # busy_timeout makes a writer wait for the lock instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def get_engine(url: str) -> Engine:
    """The engine for ``url`` in this process, built on first use.

    Keyed by process id: a pool inherited across ``fork`` (Celery's prefork pool) would share sockets.
    """
    key = (os.getpid(), url)
    engine = _ENGINES.get(key)
    if engine is None:
        engine = _build_engine(url)
        _ENGINES[key] = engine
    return engine


def _build_engine(url: str) -> Engine:
    # Parameters carry secrets and article text: errors and logs show the statement only.
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            _prepare_private_database(Path(database).absolute())
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        hide_parameters=True,
        connect_args={"options": _in_utc(make_url(url).query.get("options"))},
    )
    event.listen(engine, "connect", _compress_with_lz4)
    return engine


# Sets the session's compression of long values (an article's text, its message, its evidence) to
# LZ4 where the server was built with it (PostgreSQL 14 and later, as the usual packages and images
# are); elsewhere it names no row and changes nothing.
_LZ4_WHERE_BUILT = (
    "SELECT set_config('default_toast_compression', 'lz4', false) FROM pg_settings "
    "WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
)


def _compress_with_lz4(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # PostgreSQL's default, pglz, took a fifth of PostgreSQL's CPU of storing an article (LZ4: 200 µs
    # an article, pglz 250), for values a little smaller. A column that names its own method keeps
    # it, and values written before are read whichever wrote them.
    with dbapi_connection.cursor() as cursor:
        cursor.execute(_LZ4_WHERE_BUILT)
    # Committed, so the pool's rollback when the connection is returned does not undo the setting.
    dbapi_connection.commit()


def _in_utc(options: str | tuple[str, ...] | None) -> str:
    """libpq ``options`` that make the session's time zone UTC, after any the URL gives: every
    timestamp is then read as UTC as it comes (the server's zone would have each converted)."""
    given = " ".join([options] if isinstance(options, str) else options or ())
    return f"{given} -c TimeZone=UTC".strip()


def make_private_folder(folder: Path) -> None:
    """Create ``folder`` (and missing parents) readable by its owner only; an existing one is left
    as it is, since it may be a shared place such as /tmp."""
    missing = [path for path in (folder, *folder.parents) if not path.exists()]
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)
        path.chmod(0o700)  # mkdir's mode passes through the umask


def _prepare_private_database(path: Path) -> None:
    make_private_folder(path.parent)
    # Created empty (SQLite takes an empty file as a new database) so it is never world-readable.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    for companion in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        # Missing, or another user's (who made it so): nothing to tighten from here.
        with contextlib.suppress(FileNotFoundError, PermissionError):
            companion.chmod(0o600)


def dispose_engines() -> None:
    """Close every pool this process opened (tests, shutdown)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()
    _SESSION_FACTORIES.clear()


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session whose transaction commits when the block ends and rolls back on error."""
    with _session_factory(url)() as session, session.begin():
        yield session


def _session_factory(url: str) -> sessionmaker[Session]:
    # Built once per engine: a sessionmaker makes a Session subclass, which costs a task more CPU
    # than the session itself.
    key = (os.getpid(), url)
    factory = _SESSION_FACTORIES.get(key)
    if factory is None:
        factory = _SESSION_FACTORIES[key] = sessionmaker(get_engine(url), expire_on_commit=False)
    return factory


def dialect_insert(session: Session, table: Table) -> Any:
    """The INSERT of ``table`` in the dialect of ``session``'s database (PostgreSQL's or SQLite's,
    both with ``on_conflict_do_nothing``; the settings take no other). The dialect's module is
    imported on first use: a process on one database never loads the other's (SQLite's costs a
    PostgreSQL process 0.6 MB)."""
    return import_module(f"sqlalchemy.dialects.{session.get_bind().dialect.name}").insert(table)


def insert_ignore(
    session: Session, table: FromClause, values: Mapping[str, Any], *, conflict_columns: list[str] | None
) -> Any | None:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING <key>``: the new row's primary key, or None when
    the row already existed. ``conflict_columns`` None skips a conflict on any unique constraint or
    index, for a table with more than one.

    Decided by ``RETURNING``: drivers report a rowcount of -1 for a skipped conflicting insert.
    """
    assert isinstance(table, Table)
    key = next(iter(table.primary_key.columns))
    statement = (
        dialect_insert(session, table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=conflict_columns)
        .returning(key)
    )
    return session.execute(statement).scalar_one_or_none()


def insert_ignore_all(
    session: Session,
    table: FromClause,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict_columns: list[str] | None,
) -> None:
    """:func:`insert_ignore_many` when the caller needs nothing back: one ``INSERT ... ON CONFLICT DO
    NOTHING`` executed for each row, in the order given (of two rows that conflict with each other the
    first is kept), all sent together.

    Cheaper than one multi-row statement: psycopg sends the rows in pipeline mode as one short
    statement, parsed once by the driver and, on a connection that ran it a few times, prepared on the
    server, where a multi-row ``VALUES`` of thousands of parameters is parsed and planned anew each
    time on both sides (twice the time per article on the alert worker's path); SQLite's
    ``executemany`` is a loop in C.
    """
    assert isinstance(table, Table)
    if not rows:
        return
    columns = rows[0].keys()
    if any(row.keys() != columns for row in rows):
        # The statement names the first row's columns: another's other values would be lost unsaid.
        raise ValueError(f"rows inserted into {table.name} together must name the same columns")
    statement = dialect_insert(session, table).on_conflict_do_nothing(index_elements=conflict_columns)
    session.execute(statement, list(rows))


def insert_ignore_many(
    session: Session,
    table: FromClause,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict_columns: list[str] | None,
    returning: Sequence[str] = (),
) -> list[Row[Any]]:
    """:func:`insert_ignore` for many rows in one statement (SQLAlchemy's "insertmanyvalues": one
    multi-row ``INSERT ... VALUES (...), (...) ON CONFLICT DO NOTHING RETURNING ...`` per thousand
    rows); returns the ``returning`` columns of the rows inserted, not of those that already existed.

    Rows are inserted in the order given, so of two rows of ``rows`` that conflict with each other
    the first is kept. Without ``returning`` the primary key is returned: a statement with a
    ``RETURNING`` is what makes the drivers send the rows together.
    """
    assert isinstance(table, Table)
    if not rows:
        return []
    columns = [table.c[name] for name in returning] or list(table.primary_key.columns)
    statement = dialect_insert(session, table).on_conflict_do_nothing(index_elements=conflict_columns)
    return list(session.execute(statement.returning(*columns), list(rows)).all())


def utf8_recordset(session: Session, rows: Sequence[Mapping[str, Any]]) -> Any | None:
    """The rows as one JSON array in UTF-8, a psycopg parameter for :func:`recordset_insert`; None on
    a database other than PostgreSQL, or when a lone surrogate (a feed's broken text) cannot be
    written so: json_to_recordset refuses its ASCII escape. The caller then inserts the rows one by
    one (:func:`insert_ignore_all`).

    One statement of one JSON parameter, whatever the batch, is parsed once by psycopg and prepared
    once by PostgreSQL, where the same insert run once a row in pipeline mode has each row's
    parameters converted one by one (ingest ledger's files: 23 µs of the worker's CPU and 25 µs of
    PostgreSQL's a file against 6 and 12; the alert store's tags and entities: 0.08 ms of the
    worker's CPU an article against 0.06). Rows of long text are the exception: PostgreSQL reads an
    article's text out of JSON for more CPU than the worker saves.
    """
    if session.get_bind().dialect.name != "postgresql":
        return None
    from psycopg.types.json import Json  # the PostgreSQL path only: an SQLite worker never loads psycopg

    try:
        # Written by pydantic-core (in Rust, in a fifth of the json module's time), which refuses a
        # lone surrogate; timestamps as ISO 8601 with their offset ("Z" for UTC), which timestamptz reads.
        document = pydantic_core.to_json(list(rows))
    except pydantic_core.PydanticSerializationError:
        return None
    # Sent as the bytes written: made text, to be encoded again by psycopg, a batch's half megabyte of
    # Arabic took twice as long as writing it (10 µs an article).
    return Json(document, dumps=_as_written)


def _as_written(document: bytes) -> bytes:
    return document


@cache
def recordset_insert(
    table: Table, columns: tuple[str, ...], conflict_columns: tuple[str, ...], returning: str | None = None
) -> TextClause:
    """``INSERT INTO <table> (<columns>) SELECT ... FROM json_to_recordset(:rows) ... ON CONFLICT
    (<conflict_columns>) DO NOTHING [RETURNING <returning>]``, its column types the table's: run with
    ``{"rows": utf8_recordset(session, rows)}``, it inserts the rows in order, skipping those stored."""
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy's dialects are untyped
    types = ", ".join(f"{name} {table.c[name].type.compile(dialect=dialect)}" for name in columns)
    names = ", ".join(columns)
    returned = f" RETURNING {returning}" if returning else ""
    return text(
        f"INSERT INTO {table.name} ({names}) SELECT {names} "
        f"FROM json_to_recordset(CAST(:rows AS json)) AS row({types}) "
        f"ON CONFLICT ({', '.join(conflict_columns)}) DO NOTHING{returned}"
    )
