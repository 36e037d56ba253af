"""The watched folder: notices files dropped in and hands each complete one on, once.

A file is complete when its writer closes it (inotify's close-after-write) or, as a fallback (polling
observers, files found by a rescan, writers we did not see open the file), when its size and mtime hold
still for ``settle_seconds`` while nobody we know of has it open. The folder is rescanned at start and
every ``rescan_seconds`` so nothing dropped while Rasid was down, or missed by the observer, is lost.

The ledger decides what is done: at each rescan the watcher reads, in one query, every file version
the ledger has recorded (``recorded``), and submits again any file in the folder it has not, once
``resubmit_after_seconds`` have passed since it was last submitted: a message lost on the way, a
task that gave up while the database was down or a worker killed mid-file delays a file, never
drops it. In between, the watcher's memory of what it submitted only keeps it from sending one file
twice at once. The watcher calls ``submit(FileReady)``; the worker does the rest.

The watcher only looks at files (``lstat``), never opens them, so a FIFO or a link to a device cannot
block it; it hands them on like any file, and the worker rejects them with a reason. A name that is
not UTF-8 travels as its bytes (:mod:`ingest_service.paths`). Every step for one file is guarded: a
file that fails is logged and left for the next rescan, and the loop goes on.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from ingest_service.errors import WatchFolderError
from ingest_service.ledger import FileVersion
from ingest_service.paths import path_text, readable_path
from ingest_service.schemas import FileReady
from ingest_service.settings import IngestSettings
from shared.documents import SUPPORTED_SUFFIXES

log = logging.getLogger(__name__)

Submit = Callable[[FileReady], None]
# Reads the file versions the ledger has recorded (ingest_service.ledger.recorded_files).
Ledger = Callable[[], Collection[FileVersion]]
Signal = Literal["changed", "opened", "closed", "gone"]
TEMPORARY_SUFFIXES = frozenset(
    {".part", ".partial", ".tmp", ".temp", ".swp", ".swx", ".crdownload", ".download"}
)
_EVENT_SIGNALS: dict[str, Signal] = {
    "created": "changed",
    "modified": "changed",
    "moved": "changed",
    "opened": "opened",
    "closed": "closed",
    "closed_no_write": "closed",
    "deleted": "gone",
}


@dataclass(frozen=True)
class WatchConfig:
    """Where to watch and how patiently."""

    watch_dir: Path
    rejected_dir: Path
    polling: bool = False
    settle_seconds: float = 0.3
    rescan_seconds: float = 60.0
    polling_interval: float = 1.0
    # A file submitted this long ago that the ledger has not recorded is submitted again.
    resubmit_after_seconds: float = 300.0

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> WatchConfig:
        """The watch configuration the environment asks for."""
        return cls(
            watch_dir=settings.watch_dir,
            rejected_dir=settings.rejected_folder,
            polling=settings.watch_polling,
            settle_seconds=settings.settle_seconds,
            rescan_seconds=settings.rescan_seconds,
            resubmit_after_seconds=settings.resend_after_seconds,
        )


@dataclass(frozen=True)
class _Version:
    size: int
    mtime_ns: int


def is_ignored(path: Path, *, watch_dir: Path, rejected_dir: Path) -> bool:
    """Whether ``path`` is hidden, temporary, unsupported or under the rejected folder."""
    if path.is_relative_to(rejected_dir):
        return True
    parts = path.relative_to(watch_dir).parts if path.is_relative_to(watch_dir) else (path.name,)
    return any(part.startswith(".") for part in parts) or _ignored_name(path.name)


def _ignored_name(name: str) -> bool:
    """Whether a file named ``name`` is hidden, temporary or of a type Rasid does not read."""
    suffix = os.path.splitext(name)[1].lower()
    if name.startswith((".", "#")) or name.endswith("~") or suffix in TEMPORARY_SUFFIXES:
        return True
    return suffix not in SUPPORTED_SUFFIXES


class _EventRelay(FileSystemEventHandler):
    """Runs on the observer's thread; only queues (path, signal) for the watcher's loop."""

    def __init__(self, events: queue.Queue[tuple[Path, Signal]]) -> None:
        self._events = events

    def on_any_event(self, event: FileSystemEvent) -> None:
        signal = _EVENT_SIGNALS.get(event.event_type)
        if event.is_directory or signal is None:
            return
        if event.event_type == "moved":
            self._events.put((Path(os.fsdecode(event.src_path)), "gone"))
            self._events.put((Path(os.fsdecode(event.dest_path)), "changed"))
            return
        self._events.put((Path(os.fsdecode(event.src_path)), signal))


def check_folders(config: WatchConfig) -> None:
    """Raise :class:`WatchFolderError`, with advice, when the watched folder cannot be read or the
    rejected folder cannot be created or written (a bind-mounted folder of another user, say)."""
    watch_dir = config.watch_dir
    if watch_dir.is_dir() and not os.access(watch_dir, os.R_OK | os.X_OK):
        raise WatchFolderError(f"cannot read the watched folder {watch_dir}. {_owner_advice(watch_dir)}")
    rejected = config.rejected_dir
    existing = next((folder for folder in (rejected, *rejected.parents) if folder.exists()), None)
    if existing is None:
        return
    if not existing.is_dir():
        problem = f"{existing} is not a folder"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"{existing} is not writable"
    else:
        return
    raise WatchFolderError(
        f"cannot create or write the rejected folder {rejected} ({problem}). {_owner_advice(watch_dir)} "
        "Or set RASID_REJECTED_DIR to a folder Rasid can write."
    )


def _owner_advice(watch_dir: Path) -> str:
    try:
        info = watch_dir.stat()
    except OSError:
        return "Run Rasid as the user who owns the watched folder."
    owner = f"uid {info.st_uid}, gid {info.st_gid}"
    return (
        f"Run Rasid as the folder's owner ({owner}); with Docker Compose: "
        f"RASID_UID={info.st_uid} RASID_GID={info.st_gid} docker compose up."
    )


class FolderWatcher:
    """Watches ``watch_dir`` and calls ``submit`` for each complete version of each file until the
    ledger (``recorded``) has recorded it; without a ledger, once."""

    def __init__(self, config: WatchConfig, submit: Submit, *, recorded: Ledger | None = None) -> None:
        self.watch_dir = config.watch_dir.resolve()
        self.rejected_dir = config.rejected_dir.resolve()
        self._submit = submit
        self._recorded = recorded
        self._settle = config.settle_seconds
        self._rescan_every = config.rescan_seconds
        self._resubmit_after = config.resubmit_after_seconds
        self._events: queue.Queue[tuple[Path, Signal]] = queue.Queue()
        self._pending: dict[Path, tuple[_Version, float]] = {}
        self._open_counts: dict[Path, int] = {}
        # What was handed on, and when (None: the ledger has recorded it, so it is done).
        self._handed: dict[Path, tuple[_Version, float | None]] = {}
        self._stop = threading.Event()
        self._observer = PollingObserver(timeout=config.polling_interval) if config.polling else Observer()

    def run(self) -> None:
        """Watch until :meth:`stop` is called (from another thread or a signal handler)."""
        self.watch_dir.mkdir(parents=True, exist_ok=True)
        self._observer.schedule(_EventRelay(self._events), str(self.watch_dir), recursive=True)
        self._observer.start()
        log.info("watch.started", extra={"watch_dir": str(self.watch_dir)})
        try:
            self._loop()
        finally:
            self._observer.stop()
            self._observer.join()
            log.info("watch.stopped", extra={"watch_dir": str(self.watch_dir)})

    def stop(self) -> None:
        """Ask :meth:`run` to return."""
        self._stop.set()

    def rescan(self) -> None:
        """Consider every file in the folder, so files dropped while nobody watched are found, and
        files handed on but never recorded by the ledger are handed on again."""
        recorded = self._read_ledger()
        present = set()
        for path in self._files():
            present.add(path)
            self._guarded(path, partial(self._consider, path, recorded))
        for path in set(self._handed) - present:
            del self._handed[path]

    def submit_settled(self, *, now: float | None = None) -> None:
        """Hand on each pending file whose size and mtime have held still for ``settle_seconds``."""
        now = time.monotonic() if now is None else now
        for path, (version, since) in list(self._pending.items()):
            if now - since < self._settle or self._open_counts.get(path, 0):
                continue
            self._guarded(path, partial(self._submit_if_still, path, version))

    def _loop(self) -> None:
        next_rescan = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() >= next_rescan:
                try:
                    self.rescan()
                except Exception:
                    # One file's steps are guarded already; the walk itself failing must not stop
                    # the watching either: the next rescan tries again.
                    log.exception("watch.rescan_failed")
                next_rescan = time.monotonic() + self._rescan_every
            self._drain_events(timeout=self._settle / 3)
            self.submit_settled()

    def _read_ledger(self) -> set[FileVersion] | None:
        if self._recorded is None:
            return None
        try:
            return set(self._recorded())
        except Exception:
            # The database may be down: this rescan finds new files only; the next asks again.
            log.exception("watch.ledger_unavailable")
            return None

    def _consider(self, path: Path, recorded: set[FileVersion] | None) -> None:
        version = _current_version(path)
        if version is None:
            self._forget(path)
            return
        if recorded is not None:
            if (path_text(path), version.size, version.mtime_ns) in recorded:
                self._handed[path] = (version, None)
                self._pending.pop(path, None)
                return
            handed = self._handed.get(path)
            if handed and (handed[1] is None or time.monotonic() - handed[1] >= self._resubmit_after):
                # Handed on long ago and still not recorded: its message or its task was lost.
                del self._handed[path]
        if not self._was_handed(path, version):
            self._pending[path] = (version, time.monotonic())

    def _guarded(self, path: Path, step: Callable[[], None]) -> None:
        """Run one file's step; a failure is logged and the file left for the next rescan."""
        try:
            step()
        except Exception:
            log.exception("watch.file_failed", extra={"path": readable_path(path)})
            self._pending.pop(path, None)

    def _drain_events(self, *, timeout: float) -> None:
        try:
            path, signal = self._events.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            self._guarded(path, partial(self._handle, path, signal))
            try:
                path, signal = self._events.get_nowait()
            except queue.Empty:
                return

    def _handle(self, path: Path, signal: Signal) -> None:
        if is_ignored(path, watch_dir=self.watch_dir, rejected_dir=self.rejected_dir):
            return
        if signal == "opened":
            self._open_counts[path] = self._open_counts.get(path, 0) + 1
        elif signal == "closed":
            self._open_counts[path] = max(0, self._open_counts.get(path, 0) - 1)
            self._note_changed(path)
            if not self._open_counts.get(path, 0):
                self._try_submit(path)
        elif signal == "gone":
            self._forget(path)
        else:
            self._note_changed(path)

    def _note_changed(self, path: Path) -> None:
        version = _current_version(path)
        if version is None:
            self._forget(path)
        elif not self._was_handed(path, version):
            self._pending[path] = (version, time.monotonic())

    def _was_handed(self, path: Path, version: _Version) -> bool:
        handed = self._handed.get(path)
        return handed is not None and handed[0] == version

    def _submit_if_still(self, path: Path, version: _Version) -> None:
        current = _current_version(path)
        if current is None:
            self._forget(path)
        elif current != version:
            self._pending[path] = (current, time.monotonic())
        else:
            self._try_submit(path)

    def _try_submit(self, path: Path) -> None:
        version = _current_version(path)
        if version is None or self._was_handed(path, version):
            self._pending.pop(path, None)
            return
        ready = FileReady.of(path, size=version.size, mtime_ns=version.mtime_ns)
        try:
            self._submit(ready)
        except Exception:
            # The broker may be down: keep the file pending; it is offered again after settling.
            log.exception("watch.submit_failed", extra={"path": readable_path(path)})
            self._pending[path] = (version, time.monotonic())
            return
        self._handed[path] = (version, time.monotonic())
        self._pending.pop(path, None)
        log.debug("watch.file_ready", extra={"path": readable_path(path), "size": version.size})

    def _forget(self, path: Path) -> None:
        self._pending.pop(path, None)
        self._handed.pop(path, None)
        self._open_counts.pop(path, None)

    def _files(self) -> Iterator[Path]:
        for folder, folders, names in os.walk(self.watch_dir):
            here = Path(folder)
            folders[:] = [
                name for name in folders if not name.startswith(".") and here / name != self.rejected_dir
            ]
            # The walk skips hidden folders and the rejected one: only the name is left to check.
            yield from (here / name for name in names if not _ignored_name(name))


def _current_version(path: Path) -> _Version | None:
    """The file's size and mtime, or None when it is gone; of a link itself, never of its target
    (which may be a FIFO or a device: only the worker looks further, and rejects it)."""
    try:
        stat = path.lstat()
    except OSError:
        return None
    return _Version(size=stat.st_size, mtime_ns=stat.st_mtime_ns)
