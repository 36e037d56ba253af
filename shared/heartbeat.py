"""Worker heartbeats for the embedded mode, where Celery's remote control (``inspect ping``) is not
available: the file-system broker has no fan-out exchange to carry it.

A worker's main process, once ready, touches ``<data_dir>/heartbeats/<worker>.<pid>`` every
:data:`HEARTBEAT_SECONDS` and removes it when it shuts down. ``rasid status`` counts a worker alive
while its file is younger than :data:`STALE_AFTER_SECONDS`: a worker that was killed, or is stopped
(SIGSTOP) or hung, stops touching it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Final

from shared.db import make_private_folder
from shared.settings import RasidSettings

HEARTBEAT_SECONDS: Final = 2.0
# Several missed beats: a busy machine may delay one, not five.
STALE_AFTER_SECONDS: Final = 10.0


def heartbeat_folder(settings: RasidSettings) -> Path:
    """Where the embedded workers' heartbeat files are."""
    return settings.data_dir.resolve() / "heartbeats"


class Heartbeat:
    """A daemon thread touching this process's heartbeat file until :meth:`stop`."""

    def __init__(self, folder: Path, worker: str) -> None:
        self.path = folder / f"{worker}.{os.getpid()}"
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rasid-heartbeat", daemon=True)

    def start(self, **_: Any) -> None:
        """Start beating (a Celery ``worker_ready`` receiver)."""
        make_private_folder(self.path.parent)
        self._remove_stale()
        self._thread.start()

    def stop(self, **_: Any) -> None:
        """Stop beating and remove the file (a Celery ``worker_shutdown`` receiver)."""
        self._stopped.set()
        if self._thread.is_alive():  # a beat in progress must not write the file back
            self._thread.join(timeout=HEARTBEAT_SECONDS)
        self.path.unlink(missing_ok=True)

    def _remove_stale(self) -> None:
        """The files of this worker's processes that died without removing theirs."""
        worker = self.path.name.rpartition(".")[0]
        for path in self.path.parent.glob(f"{worker}.*"):
            with contextlib.suppress(FileNotFoundError):
                if time.time() - path.stat().st_mtime > STALE_AFTER_SECONDS:
                    path.unlink()

    def _run(self) -> None:
        while True:
            # A full or read-only disk must not stop the worker: status will report it as not alive.
            with contextlib.suppress(OSError):
                self.path.touch(mode=0o600)
                os.utime(self.path)
            if self._stopped.wait(HEARTBEAT_SECONDS):
                return


def keep_heartbeat(folder: Path, worker: str) -> Heartbeat:
    """Make this worker process beat from when Celery says it is ready until it shuts down."""
    from celery.signals import worker_ready, worker_shutdown

    heartbeat = Heartbeat(folder, worker)
    worker_ready.connect(heartbeat.start, weak=False)
    worker_shutdown.connect(heartbeat.stop, weak=False)
    return heartbeat


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
