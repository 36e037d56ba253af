"""The Celery app factory every Rasid process uses, so that all of them agree on the broker,
serialization, routing and reliability settings, and the one retry policy every task follows.

Reliability: acks are late and a task whose worker dies is re-queued, so every task must be safe to
run twice. Services address each other only by task name, through :func:`send_message`; a process
that only sends (the CLI, the folder watcher) uses :func:`producer`, which registers no task.

Retries: a task that fails because the database or the broker is briefly unavailable
(:data:`TRANSIENT_ERRORS`) is retried with exponential backoff and jitter (:data:`TASK_OPTIONS`);
anything else (a malformed message, a bug) fails at once. Every task is declared with
``@app.task(name=..., **TASK_OPTIONS)``.

Time limits: every task of every app made here is asked to stop after ``RASID_TASK_SOFT_TIME_LIMIT``
seconds (``SoftTimeLimitExceeded`` is raised in it) and its process is killed after
``RASID_TASK_TIME_LIMIT``; the worker replaces the process and goes on with the next message. Both
are below the broker's visibility timeout, so a task still running is never handed to a second worker.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Any, Final

import pydantic_core
import redis.exceptions
import sqlalchemy.exc
from celery import Celery
from celery.signals import worker_init
from kombu.exceptions import OperationalError as BrokerUnavailable
from kombu.serialization import registry
from kombu.utils import json as kombu_json
from sqlalchemy.engine import make_url

from shared.errors import ConfigurationError
from shared.messages import Message
from shared.services import task_routes
from shared.settings import EMBEDDED_BROKER_URL, RasidSettings, base_settings

# Errors that say "try again later", not "this message is wrong": the database cannot be reached,
# dropped the connection, is locked or hit a deadlock (SQLAlchemy's OperationalError covers all of
# these on SQLite and PostgreSQL), or the broker cannot take the next message.
TRANSIENT_ERRORS: Final[tuple[type[Exception], ...]] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.DisconnectionError,
    BrokerUnavailable,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
# The n-th retry waits a random time below min(2**n, 300) seconds (full jitter, so workers that lost
# the database together do not come back together): ten retries span at most about 13 minutes.
TASK_OPTIONS: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "autoretry_for": TRANSIENT_ERRORS,
        "retry_backoff": True,
        "retry_backoff_max": 300,
        "retry_jitter": True,
        "max_retries": 10,
    }
)

# Redis re-delivers a message not acknowledged within this time (a worker died holding it). Longer
# than any task may run (the task time limits, checked against it when an app is made); a
# re-delivery of a task that is still running is harmless, since every task is idempotent.
VISIBILITY_TIMEOUT_SECONDS = 600
# Every Redis connection of every process (kombu's transport options): a broker command waits at most
# BROKER_SOCKET_TIMEOUT_SECONDS for its answer, so a connection that died without closing (a broker
# that crashed or failed over behind a NAT or proxy) fails and is reconnected instead of holding a
# publish or a consumer's cleanup for ever; an idle connection is checked with a PING before it is
# used again, and kombu drops a consumer's BRPOP or pub/sub connection whose answer is overdue by the
# health-check interval. Kombu's BRPOP asks the server to answer within 1 s, far inside the timeout.
BROKER_SOCKET_TIMEOUT_SECONDS = 30.0
BROKER_CONNECT_TIMEOUT_SECONDS = 10.0
BROKER_HEALTH_CHECK_SECONDS = 10
# Kombu's Redis transport, whose channels report a collected connection as a lost connection
# (shared.redis_broker), for the URL schemes that name Redis.
REDIS_TRANSPORT = "shared.redis_broker:Transport"
REDIS_SCHEMES = ("redis://", "rediss://")
# The serializer of the bodies send_message writes: JSON, as "json" (application/json, UTF-8).
MESSAGE_SERIALIZER: Final = "rasid-json"
# Kombu's file-system transport, writing each message atomically.
EMBEDDED_TRANSPORT = "shared.file_broker:Transport"
# How often the embedded broker looks for new message files while a worker's prefetch is full: it
# waits this long before taking more, so it bounds throughput (0.05 s gave 18 articles/s, 0.01 s gives
# 55). A worker with nothing to do waits for the folder to change instead (shared.file_broker): polling
# this often when idle cost about 4% of one core for the stack, waiting costs under 1%.
EMBEDDED_POLL_SECONDS = 0.01


def create_celery_app(name: str, settings: RasidSettings | None = None) -> Celery:
    """A Celery app named ``name`` configured from the environment."""
    settings = settings or base_settings()
    _write_json_as_utf8()
    app = Celery(f"rasid.{name}", broker=settings.broker_url, set_as_current=False)
    app.conf.update(_common_config(settings))
    return app


@cache
def producer() -> Celery:
    """A Celery app for sending only (it registers no task), built once per process."""
    return create_celery_app("producer")


def send_message(app: Celery, task_name: str, message: Message, **options: Any) -> None:
    """Send ``message`` to the task named ``task_name``; logs show its summary, never its body."""
    payload = {"payload": message.to_payload()}
    app.send_task(
        task_name, kwargs=payload, kwargsrepr=message.summary(), serializer=MESSAGE_SERIALIZER, **options
    )


def _resolve_backend_before_fork(sender: Any = None, **_: Any) -> None:
    """Resolve the app's result backend (none: results are ignored) in the worker's main process,
    before the pool forks, so the children share it: Celery resolves it on a process's first send by
    reading the entry points of every installed distribution, 10 ms or more of CPU that each pool
    child paid on its first task."""
    app = getattr(sender, "app", None)
    if isinstance(app, Celery):
        app.backend  # noqa: B018  # the property resolves and keeps it


worker_init.connect(_resolve_backend_before_fork, weak=False)


def import_database_driver(database_url: str) -> None:
    """Import the driver of ``database_url`` (psycopg), as the first engine of a process would: for a
    worker's main process to do before the pool forks, so its children share it instead of each
    paying 50 to 100 ms of CPU on its first task. Nothing that holds a connection is made: one shared
    across the fork would hang."""
    make_url(database_url).get_dialect().import_dbapi()


def _write_json_as_utf8() -> None:
    """Messages are JSON written in UTF-8, not with Kombu's ASCII escapes: Arabic text took six bytes a
    letter (eight once the transport's base64 is added), two now, so a batch message is 2.5 times
    smaller on the broker (and in Redis's memory while a burst waits in a queue) and half as long
    to write and read. It is the same JSON of the same content type: a message written either way,
    by this version or an earlier one, reads the same."""
    registry.register(  # type: ignore[no-untyped-call]  # kombu is untyped
        "json",
        _utf8_json,
        kombu_json.loads,
        content_type="application/json",
        content_encoding="utf-8",
    )
    # The same JSON, the same content type (so read by the same decoder, here and by earlier versions),
    # for the bodies of send_message only.
    registry.register(  # type: ignore[no-untyped-call]  # kombu is untyped
        MESSAGE_SERIALIZER,
        _message_json,
        kombu_json.loads,
        content_type="application/json",
        content_encoding="utf-8",
    )


def _utf8_json(value: Any) -> str:
    """``value`` as JSON that encodes in UTF-8: a lone surrogate (a JSON file's ``"\\ud800"``) is
    kept as an ASCII escape, as is the whole message then, instead of failing the send."""
    text: str = kombu_json.dumps(value, ensure_ascii=False)  # type: ignore[no-untyped-call]
    try:
        # Encoding is the check (a lone surrogate does not encode): faster in C than a search for one.
        text.encode("utf-8")
    except UnicodeEncodeError:
        return str(kombu_json.dumps(value))  # type: ignore[no-untyped-call]
    return text


def _message_json(value: Any) -> bytes | str:
    """:func:`_utf8_json` of a body made by :func:`send_message`, written by pydantic-core (in Rust, in
    a fifth of the json module's time, as UTF-8 bytes, so with no second pass to encode them). Such a
    body holds a message's JSON-mode payload and Celery's empty fields: text, numbers, booleans,
    null, lists and objects, which both write as the same JSON (not a datetime, say, which Kombu's
    encoder tags for its decoder). A lone surrogate, which pydantic-core refuses, goes the other way."""
    try:
        return pydantic_core.to_json(value)
    except pydantic_core.PydanticSerializationError:
        return _utf8_json(value)


def _common_config(settings: RasidSettings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_backend": None,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_routes": task_routes(),
        "task_default_queue": "default",
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "timezone": "UTC",
        **_time_limits(settings),
    }
    if settings.broker_url.startswith(EMBEDDED_BROKER_URL):
        config["broker_transport"] = EMBEDDED_TRANSPORT
        config["broker_transport_options"] = _embedded_broker_options(settings)
        # The file transport has no fan-out exchange for remote control.
        config["worker_enable_remote_control"] = False
    else:
        config["broker_transport_options"] = _redis_broker_options()
        if settings.broker_url.startswith(REDIS_SCHEMES):
            config["broker_transport"] = REDIS_TRANSPORT
    return config


def _redis_broker_options() -> dict[str, Any]:
    return {
        "visibility_timeout": VISIBILITY_TIMEOUT_SECONDS,
        "socket_timeout": BROKER_SOCKET_TIMEOUT_SECONDS,
        "socket_connect_timeout": BROKER_CONNECT_TIMEOUT_SECONDS,
        "socket_keepalive": True,
        "health_check_interval": BROKER_HEALTH_CHECK_SECONDS,
    }


def _time_limits(settings: RasidSettings) -> dict[str, float]:
    """Every task's soft and hard time limits (prefork workers enforce them, with either broker)."""
    if settings.task_time_limit >= VISIBILITY_TIMEOUT_SECONDS:
        raise ConfigurationError(
            f"invalid configuration: RASID_TASK_TIME_LIMIT ({settings.task_time_limit:g}) must be below "
            f"the broker's visibility timeout ({VISIBILITY_TIMEOUT_SECONDS} s)"
        )
    return {
        "task_soft_time_limit": settings.task_soft_time_limit,
        "task_time_limit": settings.task_time_limit,
    }


def _embedded_broker_options(settings: RasidSettings) -> dict[str, Any]:
    # The ORM under shared.db is 8 MB that a worker opening no database (the classifier's) would
    # carry in every process: imported only with the embedded broker.
    from shared.db import make_private_folder

    folder = settings.broker_folder
    messages, taken, control = folder / "messages", folder / "taken", folder / "control"
    make_private_folder(folder)
    # Messages hold article text: the broker's folder is its owner's only (another user's is theirs).
    with contextlib.suppress(PermissionError):
        folder.chmod(0o700)
    for path in (messages, taken, control):
        path.mkdir(exist_ok=True)
    # Messages kept by earlier versions, article text included.
    shutil.rmtree(folder / "processed", ignore_errors=True)
    # A taken message is renamed into ``taken`` (same file system, so the rename is atomic and two
    # workers never take the same message), read, and deleted (shared.file_broker).
    return {
        "data_folder_in": str(messages),
        "data_folder_out": str(messages),
        "processed_folder": str(taken),
        "store_processed": False,
        "control_folder": str(control),
        "polling_interval": EMBEDDED_POLL_SECONDS,
    }
