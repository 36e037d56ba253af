"""What every test shares: where the PostgreSQL and Redis servers the tests use are, and what a test
does when one cannot be reached (fail in CI, skip with the reason on a developer's machine)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import pytest
import redis

POSTGRES_ADMIN_URL = os.environ.get(
    "RASID_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("RASID_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# The key that marks a Redis database as taken by one test run.
BROKER_LOCK = "rasid-test-broker-lock"


def missing(message: str) -> NoReturn:
    """Stop a test that lacks what it needs: a failure in CI (``CI=true``), a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def unavailable(what: str, error: Exception) -> NoReturn:
    """Stop the test that needs ``what``, a server it could not reach."""
    missing(f"{what} is not reachable: {error}")


def required_program(name: str, *, needed_for: str) -> str:
    """The path of the program ``name``, or the test stops (see :func:`missing`)."""
    found = shutil.which(name)
    if found is None:
        missing(f"{name} is not installed; it is needed {needed_for}")
    return found


@contextmanager
def own_redis_database(redis_url: str = REDIS_URL) -> Iterator[str]:
    """A Redis database of the caller's own: another test run on the machine at the same time must not
    consume its stack's messages. A database is taken with a lock key (1 to 15; 0 is left alone)."""
    base = redis_url.rsplit("/", 1)[0]
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        unavailable("Redis", error)
    for index in range(1, 16):
        client = redis.Redis.from_url(f"{base}/{index}")
        if client.set(BROKER_LOCK, "taken", nx=True, ex=1800):
            break
    else:
        pytest.fail("every Redis database 1-15 is taken by another test run")
    for key in client.scan_iter():
        if key != BROKER_LOCK.encode():
            client.delete(key)
    try:
        yield f"{base}/{index}"
    finally:
        client.flushdb()
