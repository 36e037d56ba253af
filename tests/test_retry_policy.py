"""One retry policy: every task of every installed service retries database and broker
unavailability the same way, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kombu.exceptions
import pytest
import redis.exceptions
import sqlalchemy.exc
from celery import Celery

from shared import task_names
from shared.celery_app import TASK_OPTIONS, TRANSIENT_ERRORS, create_celery_app
from shared.services import workers
from shared.settings import RasidSettings, load_settings

# Task names start with the service's prefix: ingest., classifier., alert.
SERVICE_TASKS = ("ingest.", "classifier.", "alert.")


def test_every_task_of_every_service_follows_the_one_policy() -> None:
    tasks: dict[str, Any] = {}
    for worker in workers().values():
        app = worker.load_app()
        tasks.update((name, task) for name, task in app.tasks.items() if name.startswith(SERVICE_TASKS))
    # Every task a service addresses by name is installed, and checked below.
    named = {value for key, value in vars(task_names).items() if key.isupper()}
    assert named <= tasks.keys()
    for name, task in tasks.items():
        assert tuple(task.autoretry_for) == TRANSIENT_ERRORS, name
        for option in ("retry_backoff", "retry_backoff_max", "retry_jitter", "max_retries"):
            assert getattr(task, option) == TASK_OPTIONS[option], (name, option)


TRANSIENT: list[Callable[[], Exception]] = [
    lambda: sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("connection refused")),
    lambda: kombu.exceptions.OperationalError("broker unreachable"),
    lambda: redis.exceptions.ConnectionError("connection reset"),
    lambda: redis.exceptions.TimeoutError("timed out"),
]


@pytest.fixture
def app() -> Celery:
    settings = load_settings(RasidSettings).model_copy(update={"broker_url": "memory://"})
    return create_celery_app("retry-test", settings)


@pytest.mark.parametrize("error", TRANSIENT, ids=lambda make: type(make()).__name__)
def test_a_transient_error_is_retried_up_to_the_limit(app: Celery, error: Callable[[], Exception]) -> None:
    calls = _failing_task(app, error)
    # Run in this process: the retries happen at once, without their backoff delay.
    result = app.tasks["test.failing"].apply()
    assert result.failed()
    assert len(calls) == 1 + TASK_OPTIONS["max_retries"]


def test_a_bad_message_fails_at_once(app: Celery) -> None:
    calls = _failing_task(app, lambda: ValueError("payload does not validate"))
    assert app.tasks["test.failing"].apply().failed()
    assert len(calls) == 1


def _failing_task(app: Celery, error: Callable[[], Exception]) -> list[int]:
    calls: list[int] = []

    @app.task(name="test.failing", shared=False, **TASK_OPTIONS)
    def failing() -> None:
        calls.append(1)
        raise error()

    return calls
