"""What a worker's main process prepares before its pool forks, so no pool child pays for it on its
first task: the result backend resolved, the database driver imported."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from celery.app import backends
from celery.signals import worker_init
from sqlalchemy.engine import URL

from shared.celery_app import create_celery_app, import_database_driver
from shared.settings import RasidSettings


class Worker:
    """What ``worker_init`` is sent by: a worker, with its app."""

    def __init__(self, app: Any) -> None:
        self.app = app


def test_the_backend_is_resolved_once_before_the_pool_forks(monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_celery_app("warm", RasidSettings(broker_url="memory://"))
    resolved: list[Any] = []

    def by_url(*args: Any, **kwargs: Any) -> Any:
        resolved.append(args)
        return real_by_url(*args, **kwargs)

    real_by_url = backends.by_url
    monkeypatch.setattr(backends, "by_url", by_url)
    worker_init.send(sender=Worker(app))
    assert len(resolved) == 1
    # A pool child's first send finds it resolved.
    app.backend  # noqa: B018
    assert len(resolved) == 1


def test_the_database_driver_is_imported_without_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    imported: list[str] = []

    def get_dialect(url: URL, **_: Any) -> SimpleNamespace:
        return SimpleNamespace(import_dbapi=lambda: imported.append(url.drivername))

    monkeypatch.setattr(URL, "get_dialect", get_dialect)
    import_database_driver("postgresql+psycopg://rasid@127.0.0.1:1/rasid")  # nothing listens on port 1
    assert imported == ["postgresql+psycopg"]


def test_the_sqlite_driver_is_imported_without_opening_the_database(tmp_path: Path) -> None:
    database = tmp_path / "rasid.db"
    import_database_driver(f"sqlite:///{database}")
    assert "sqlite3" in sys.modules
    assert not database.exists()
