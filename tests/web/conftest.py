"""Fixtures of the web tests: the whole app on a migrated database (SQLite and PostgreSQL in turn),
called in process through its ASGI interface, and tokens of both kinds."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from alert_service.settings import alert_settings
from shared.db import session_scope
from shared.web.app import create_app
from shared.web.settings import WebSettings
from shared.web.tokens import create_token
from tests.peers import free_port, wait_for
from tests.web.browser import PASSWORD


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
def private_targets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Webhook and feed URLs in the tests name 127.0.0.1, which the outbound guard refuses unless
    allowed. The alert settings are read once a process: read again under this setting (an earlier
    test in the same worker may have read them without it), and again after it."""
    monkeypatch.setenv("RASID_ALLOW_PRIVATE_TARGETS", "true")
    alert_settings.cache_clear()
    yield
    alert_settings.cache_clear()


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


@pytest.fixture
def web_url(api: Api, tmp_path: Path) -> Iterator[str]:
    """``rasid web`` alone, as its own process, on the database of ``api``: for browser tests of
    pages over articles a test stores itself (the rule editor's)."""
    port = free_port()
    env = os.environ | {
        "RASID_DATABASE_URL": api.database_url,
        "RASID_DATA_DIR": str(tmp_path),
        "RASID_WEB_PORT": str(port),
        "RASID_ADMIN_PASSWORD": PASSWORD,
    }
    process = subprocess.Popen([sys.executable, "-m", "shared", "web"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:

        def answers() -> bool:
            try:
                httpx.get(f"{url}/healthz", timeout=2)
            except httpx.TransportError:
                assert process.poll() is None, "rasid web stopped"
                return False
            return True

        wait_for(answers, timeout=60, what="rasid web to answer", interval=0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
