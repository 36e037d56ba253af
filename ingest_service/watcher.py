"""The watched folder: notices files dropped in and hands each complete one on, once.

A file is complete when its writer closes it (inotify's close-after-write) or, as a fallback (polling
observers, files found by a rescan, writers we did not see open the file), when its size and mtime hold
still for ``settle_seconds`` while nobody we know of has it open. The folder is rescanned at start and
every ``rescan_seconds`` so nothing dropped while Rasid was down, or missed by the observer, is lost.

The watcher is thin and needs no database: it calls ``submit(FileReady)``; the worker does the rest.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from ingest_service.schemas import FileReady
from ingest_service.settings import IngestSettings
from shared.documents import SUPPORTED_SUFFIXES

log = logging.getLogger(__name__)

Submit = Callable[[FileReady], None]
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

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> WatchConfig:
        """The watch configuration the environment asks for."""
        return cls(
            watch_dir=settings.watch_dir,
            rejected_dir=settings.rejected_folder,
            polling=settings.watch_polling,
            settle_seconds=settings.settle_seconds,
            rescan_seconds=settings.rescan_seconds,
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
    if any(part.startswith(".") for part in parts):
        return True
    name = path.name
    if name.endswith("~") or name.startswith("#") or path.suffix.lower() in TEMPORARY_SUFFIXES:
        return True
    return path.suffix.lower() not in SUPPORTED_SUFFIXES


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


class FolderWatcher:
    """Watches ``watch_dir`` and calls ``submit`` once for each complete version of each file."""

    def __init__(self, config: WatchConfig, submit: Submit) -> None:
        self.watch_dir = config.watch_dir.resolve()
        self.rejected_dir = config.rejected_dir.resolve()
        self._submit = submit
        self._settle = config.settle_seconds
        self._rescan_every = config.rescan_seconds
        self._events: queue.Queue[tuple[Path, Signal]] = queue.Queue()
        self._pending: dict[Path, tuple[_Version, float]] = {}
        self._open_counts: dict[Path, int] = {}
        self._submitted: dict[Path, _Version] = {}
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
        """Consider every file in the folder, so files dropped while nobody watched are found."""
        present = set()
        for path in self._files():
            present.add(path)
            self._note_changed(path)
        for path in set(self._submitted) - present:
            del self._submitted[path]

    def _loop(self) -> None:
        next_rescan = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() >= next_rescan:
                self.rescan()
                next_rescan = time.monotonic() + self._rescan_every
            self._drain_events(timeout=self._settle / 3)
            self._submit_settled()

    def _drain_events(self, *, timeout: float) -> None:
        try:
            path, signal = self._events.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            self._handle(path, signal)
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
        elif self._submitted.get(path) != version:
            self._pending[path] = (version, time.monotonic())

    def _submit_settled(self) -> None:
        now = time.monotonic()
        for path, (version, since) in list(self._pending.items()):
            if now - since < self._settle or self._open_counts.get(path, 0):
                continue
            current = _current_version(path)
            if current is None:
                self._forget(path)
            elif current != version:
                self._pending[path] = (current, now)
            else:
                self._try_submit(path)

    def _try_submit(self, path: Path) -> None:
        version = _current_version(path)
        if version is None or self._submitted.get(path) == version:
            self._pending.pop(path, None)
            return
        ready = FileReady(path=str(path), size=version.size, mtime_ns=version.mtime_ns)
        try:
            self._submit(ready)
        except Exception:
            # The broker may be down: keep the file pending; it is offered again after settling.
            log.exception("watch.submit_failed", extra={"path": str(path)})
            self._pending[path] = (version, time.monotonic())
            return
        self._submitted[path] = version
        self._pending.pop(path, None)
        log.info("watch.file_ready", extra={"path": str(path), "size": version.size})

    def _forget(self, path: Path) -> None:
        self._pending.pop(path, None)
        self._submitted.pop(path, None)
        self._open_counts.pop(path, None)

    def _files(self) -> Iterator[Path]:
        for folder, folders, names in os.walk(self.watch_dir):
            here = Path(folder)
            folders[:] = [
                name for name in folders if not name.startswith(".") and here / name != self.rejected_dir
            ]
            for name in names:
                path = here / name
                if not is_ignored(path, watch_dir=self.watch_dir, rejected_dir=self.rejected_dir):
                    yield path


def _current_version(path: Path) -> _Version | None:
    try:
        stat = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return _Version(size=stat.st_size, mtime_ns=stat.st_mtime_ns)
