"""Fixtures of the web tests: the whole app on a migrated database (SQLite and PostgreSQL in turn),
called in process through its ASGI interface, and tokens of both kinds."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from shared.db import session_scope
from shared.web.app import create_app
from shared.web.settings import WebSettings
from shared.web.tokens import create_token


@dataclass(frozen=True)
class Api:
    """A client of the app, the database behind it, and a read-write and a read-only token."""

    client: TestClient
    database_url: str
    writer: dict[str, str]
    reader: dict[str, str]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(autouse=True)
def private_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Webhook and feed URLs in the tests name 127.0.0.1, which the outbound guard refuses unless allowed."""
    monkeypatch.setenv("RASID_ALLOW_PRIVATE_TARGETS", "true")


@pytest.fixture
def api(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    settings = WebSettings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
    )
    with session_scope(database_url) as session:
        writer = create_token(session, "analyst", read_only=False).token
        reader = create_token(session, "grafana", read_only=True).token
    with TestClient(create_app(settings)) as client:
        yield Api(client, database_url, bearer(writer), bearer(reader))
