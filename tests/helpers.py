"""What every test shares: where the PostgreSQL and Redis servers the tests use are, and what a test
does when one cannot be reached (fail in CI, skip with the reason on a developer's machine)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "RASID_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("RASID_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unavailable(what: str, error: Exception) -> NoReturn:
    """Stop the test that needs ``what``: a failure in CI (``CI=true``), a skip elsewhere."""
    message = f"{what} is not reachable: {error}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
