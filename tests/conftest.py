"""Fixtures shared by every test: real PostgreSQL and Redis servers, fresh databases.

In CI (``CI=true``) a missing server fails the run; on a developer's machine it skips the tests
that need it, with the reason (``tests.helpers.unavailable``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from shared.db import dispose_engines
from shared.migrations import upgrade_all
from tests.helpers import POSTGRES_ADMIN_URL, REDIS_URL, unavailable


def pytest_configure(config: pytest.Config) -> None:
    """Before anything is imported or collected: tests keep the compiled classifier index and the
    embedded data (a command that sends a task writes to the file broker) in a folder of their own,
    not in the user's cache or the working tree."""
    folder = Path(tempfile.mkdtemp(prefix="rasid-tests-"))
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    os.environ["RASID_CACHE_DIR"] = str(folder / "classifier-cache")
    os.environ["RASID_DATA_DIR"] = str(folder / "data")


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            pass
    except psycopg.OperationalError as error:
        unavailable("PostgreSQL", error)
    return POSTGRES_ADMIN_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        unavailable("Redis", error)
    return REDIS_URL


@pytest.fixture
def fresh_postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped after the test."""
    name = f"rasid_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = postgres_admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    dispose_engines()
    with psycopg.connect(postgres_admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database, on SQLite and on PostgreSQL in turn."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'rasid.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    upgrade_all(url)
    return url
