"""What a worker's main process prepares before its pool forks, so no pool child pays for it on its
first task: the result backend resolved, the database driver imported."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from celery.app import backends
from celery.signals import worker_init
from sqlalchemy.engine import URL

from shared.celery_app import create_celery_app
from shared.settings import RasidSettings, base_settings


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


def test_the_database_driver_is_imported_before_the_pool_forks(monkeypatch: pytest.MonkeyPatch) -> None:
    imported: list[str] = []
    monkeypatch.setenv("RASID_DATABASE_URL", "postgresql+psycopg://rasid@127.0.0.1:5432/rasid")
    base_settings.cache_clear()
    monkeypatch.setattr(
        URL,
        "get_dialect",
        lambda url, **_: SimpleNamespace(import_dbapi=lambda: imported.append(url.drivername)),
    )
    worker_init.send(sender=Worker(None))
    base_settings.cache_clear()
    assert imported == ["postgresql+psycopg"]
