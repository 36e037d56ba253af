"""Heartbeats: how ``rasid status`` tells a live process from one killed, stopped or hung.

Workers on Redis answer Celery's remote control (``inspect ping``); the embedded file broker has no
fan-out exchange to carry it, so there a worker's main process, once ready, touches
``<data_dir>/heartbeats/<worker>.<pid>`` every :data:`HEARTBEAT_SECONDS` and removes it when it
shuts down. The processes that are not workers (beat, the folder watcher) answer no ping on either
broker, so they beat too: into the same folder on the embedded stack, and on Redis into a key
``rasid:alive:<name>:<host>:<pid>`` that expires after :data:`STALE_AFTER_SECONDS` (a process that dies
leaves nothing to clean up). A process counts as alive while its beat is younger than
:data:`STALE_AFTER_SECONDS`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from shared.settings import EMBEDDED_BROKER_URL, RasidSettings

if TYPE_CHECKING:
    import redis

HEARTBEAT_SECONDS: Final = 2.0
# Several missed beats: a busy machine may delay one, not five.
STALE_AFTER_SECONDS: Final = 10.0
REDIS_PREFIX: Final = "rasid:alive:"
# A beat or a count that waits longer on Redis is given up: the next beat tries again.
REDIS_SECONDS: Final = 3.0


def heartbeat_folder(settings: RasidSettings) -> Path:
    """Where the embedded workers' heartbeat files are."""
    return settings.data_dir.resolve() / "heartbeats"


class _Beating(ABC):
    """A daemon thread beating every :data:`HEARTBEAT_SECONDS` until :meth:`stop`; where a beat goes
    is the subclass's."""

    def __init__(self) -> None:
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rasid-heartbeat", daemon=True)

    def start(self, **_: Any) -> None:
        """Start beating (a Celery ``worker_ready`` receiver)."""
        self._prepare()
        self._thread.start()

    def stop(self, **_: Any) -> None:
        """Stop beating and remove the beat (a Celery ``worker_shutdown`` receiver)."""
        self._stopped.set()
        if self._thread.is_alive():  # a beat in progress must not write the beat back
            self._thread.join(timeout=HEARTBEAT_SECONDS)
        self._clear()

    def _run(self) -> None:
        while True:
            self._beat()
            if self._stopped.wait(HEARTBEAT_SECONDS):
                return

    def _prepare(self) -> None:  # noqa: B027 - most beats need nothing made ready first
        """Make ready what beating needs (nothing, unless a subclass says so)."""

    @abstractmethod
    def _beat(self) -> None: ...

    @abstractmethod
    def _clear(self) -> None: ...


class Heartbeat(_Beating):
    """A heartbeat kept as a file's modification time: a worker on the embedded file broker, or any
    process of the embedded stack."""

    def __init__(self, folder: Path, worker: str) -> None:
        super().__init__()
        self.path = folder / f"{worker}.{os.getpid()}"

    def _prepare(self) -> None:
        # Imported here: beat and the watcher need no database driver to beat.
        from shared.db import make_private_folder

        make_private_folder(self.path.parent)
        self._remove_stale()

    def _beat(self) -> None:
        # A full or read-only disk must not stop the process: status will report it as not alive.
        with contextlib.suppress(OSError):
            self.path.touch(mode=0o600)
            os.utime(self.path)

    def _clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def _remove_stale(self) -> None:
        """The files of this worker's processes that died without removing theirs."""
        worker = self.path.name.rpartition(".")[0]
        for path in self.path.parent.glob(f"{worker}.*"):
            with contextlib.suppress(FileNotFoundError):
                if time.time() - path.stat().st_mtime > STALE_AFTER_SECONDS:
                    path.unlink()


class RedisHeartbeat(_Beating):
    """A heartbeat kept as a Redis key that expires unless renewed: a process that is not a worker,
    on the Redis broker."""

    def __init__(self, broker_url: str, name: str) -> None:
        super().__init__()
        self.key = f"{REDIS_PREFIX}{name}:{socket.gethostname()}:{os.getpid()}"
        self._client = _redis_client(broker_url)

    def _beat(self) -> None:
        # Redis down or restarting must not stop the process: status will report it as not alive.
        with contextlib.suppress(OSError, *_redis_errors()):
            self._client.set(self.key, "1", px=int(STALE_AFTER_SECONDS * 1000))

    def _clear(self) -> None:
        with contextlib.suppress(OSError, *_redis_errors()):
            self._client.delete(self.key)


def keep_heartbeat(folder: Path, worker: str) -> Heartbeat:
    """Make this worker process beat from when Celery says it is ready until it shuts down."""
    from celery.signals import worker_ready, worker_shutdown

    heartbeat = Heartbeat(folder, worker)
    worker_ready.connect(heartbeat.start, weak=False)
    worker_shutdown.connect(heartbeat.stop, weak=False)
    return heartbeat


def keep_process_alive(settings: RasidSettings, name: str) -> _Beating:
    """Make this process (``beat``, ``watcher``: not a worker) beat until it exits, on either broker."""
    heartbeat: _Beating
    if settings.broker_url.startswith(EMBEDDED_BROKER_URL):
        heartbeat = Heartbeat(heartbeat_folder(settings), name)
    else:
        heartbeat = RedisHeartbeat(settings.broker_url, name)
    heartbeat.start()
    atexit.register(heartbeat.stop)
    return heartbeat


def live_processes(settings: RasidSettings) -> Counter[str]:
    """How many processes of each name beat lately, on the stack's broker (raises the broker's
    errors when Redis cannot be reached)."""
    if settings.broker_url.startswith(EMBEDDED_BROKER_URL):
        return live_workers(heartbeat_folder(settings))
    client = _redis_client(settings.broker_url)
    try:
        keys = client.scan_iter(match=f"{REDIS_PREFIX}*", count=500)
        return Counter(key.decode()[len(REDIS_PREFIX) :].partition(":")[0] for key in keys)
    finally:
        client.close()


def _redis_client(broker_url: str) -> redis.Redis:
    import redis

    return redis.Redis.from_url(
        broker_url, socket_timeout=REDIS_SECONDS, socket_connect_timeout=REDIS_SECONDS
    )


def _redis_errors() -> tuple[type[Exception], ...]:
    import redis.exceptions

    return (redis.exceptions.RedisError,)


def live_workers(folder: Path, *, now: float | None = None) -> Counter[str]:
    """How many processes of each worker beat within :data:`STALE_AFTER_SECONDS`."""
    now = time.time() if now is None else now
    alive: Counter[str] = Counter()
    if not folder.is_dir():
        return alive
    for path in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):  # a worker shutting down removed it
            if now - path.stat().st_mtime <= STALE_AFTER_SECONDS:
                alive[path.name.rpartition(".")[0]] += 1
    return alive
