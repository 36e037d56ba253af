"""The watched folder: notices files dropped in and hands the complete ones on, once, in batches.

A file is complete when its writer closes it (inotify's close-after-write), when it is renamed into
the folder (the usual way to drop a file whole: written elsewhere or under a temporary name, then
moved), or, as a fallback (polling observers, files found by a rescan, writers we did not see open
the file), when its size and mtime hold still for ``settle_seconds`` while nobody we know of has it
open. Whatever one pass of the loop found complete is handed on at once in one call of ``submit``
(at most ``batch_size`` files a call): a lone file goes alone, immediately, and a burst in few
messages (files found complete while a burst is handed on wait up to ``gather_seconds`` for their
batch to fill). The folder is rescanned at start and every ``rescan_seconds``, and at once when
inotify lost events, so nothing dropped while Rasid was down, or missed by the observer, is lost.
On Linux the events are read from inotify directly (:mod:`ingest_service.inotify`); elsewhere, and
when polling is asked for, from watchdog's observers.

The ledger decides what is done: at each rescan the watcher asks the ledger (``recorded``) which of
the folder's files it has recorded, a slice of the folder at a time, and submits again any file it
has not, once ``resubmit_after_seconds`` have passed since it was last submitted: a message lost on
the way, a task that gave up while the database was down or a worker killed mid-file delays a file,
never drops it. In between, the watcher's memory of what it submitted only keeps it from sending one
file twice at once, and holds a file only until the ledger has recorded it: the watcher's memory
follows the files in flight, not the files in the folder (an archive of 30,000 files kept it 60 MB
larger than idle, for good). A reader closing a file (the ingest worker, a backup) says nothing
new about it: only a file the watcher waits on is handed on at such a close. The watcher calls
``submit([FileReady, ...])``; the worker does the rest.

The watcher only looks at files (``lstat``), never opens them, so a FIFO or a link to a device cannot
block it; it hands them on like any file, and the worker rejects them with a reason. A name that is
not UTF-8 travels as its bytes (:mod:`ingest_service.paths`). Every step for one file is guarded: a
file that fails is logged and left for the next rescan, and the loop goes on.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from watchdog.events import (
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from ingest_service.errors import WatchFolderError
from ingest_service.inotify import FolderEvents, Signal
from ingest_service.ledger import FileVersion
from ingest_service.paths import path_text, readable_path
from ingest_service.schemas import FileReady
from ingest_service.settings import IngestSettings
from shared.documents import SUPPORTED_SUFFIXES
from shared.messages import MAX_BATCH

log = logging.getLogger(__name__)

# Hands a batch of complete files on (to the ingest workers of this host).
Submit = Callable[[Sequence[FileReady]], None]
# Reads which of these files (path texts) the ledger has recorded, and as which versions
# (ingest_service.ledger.recorded_files).
Ledger = Callable[[Sequence[str]], Collection[FileVersion]]
# Files looked up in the ledger in one query at a rescan: the folder is walked and checked a slice at a
# time, so neither all of the folder's files nor all of the ledger's are ever held at once.
LEDGER_SLICE = 500
TEMPORARY_SUFFIXES = frozenset(
    {".part", ".partial", ".tmp", ".temp", ".swp", ".swx", ".crdownload", ".download"}
)
_EVENT_SIGNALS: dict[str, Signal] = {
    "created": "changed",
    "modified": "changed",
    "moved": "changed",
    "opened": "opened",
    "closed": "closed",
    "closed_no_write": "released",
    "deleted": "gone",
}
# The events the watcher acts on: a file's, never a folder's. The observer drops the others before
# they are queued and dispatched (a folder "modified" comes with every file renamed or written in it).
_FILE_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileDeletedEvent,
]


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
    # Most files, and most bytes of them, handed on in one call of ``submit``: a batch is read in one
    # task, well within a task's time limit (a larger file goes alone).
    batch_size: int = MAX_BATCH
    batch_bytes: int = 16 * 1024 * 1024
    # While a burst is handed on (a batch went less than this long ago), files found complete wait
    # this long at most for more to fill their batch; a file dropped alone goes at once.
    gather_seconds: float = 0.05

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


@dataclass(frozen=True, slots=True)
class _Version:
    size: int
    mtime_ns: int


def is_ignored(path: Path, *, watch_dir: Path, rejected_dir: Path) -> bool:
    """Whether ``path`` is hidden, temporary, unsupported or under the rejected folder."""
    # Compared as text, as PurePath.is_relative_to compares parts (a path's text is normalized), for
    # a fraction of its cost: the watcher asks this of every event.
    text = str(path)
    if _is_under(text, str(rejected_dir)):
        return True
    folder = str(watch_dir)
    relative = text[len(folder) :].lstrip(os.sep) if _is_under(text, folder) else path.name
    hidden = relative.startswith(".") or f"{os.sep}." in relative
    return hidden or _ignored_name(path.name)


def _is_under(path: str, folder: str) -> bool:
    """Whether the normalized path ``path`` is ``folder`` or inside it."""
    return path == folder or path.startswith(os.path.join(folder, ""))


def _ignored_name(name: str) -> bool:
    """Whether a file named ``name`` is hidden, temporary or of a type Rasid does not read."""
    if name.startswith((".", "#")) or name.endswith("~"):
        return True
    # os.path.splitext's extension of a name that does not start with a dot: from its last dot on.
    dot = name.rfind(".")
    suffix = name[dot:].lower() if dot > 0 else ""
    return suffix in TEMPORARY_SUFFIXES or suffix not in SUPPORTED_SUFFIXES


class _EventRelay(FileSystemEventHandler):
    """Runs on the observer's thread; only queues (path, signal) for the watcher's loop."""

    def __init__(self, events: queue.Queue[tuple[Path, Signal]]) -> None:
        self._events = events

    def on_any_event(self, event: FileSystemEvent) -> None:
        signal = _EVENT_SIGNALS.get(event.event_type)
        if event.is_directory or signal is None:
            return
        if event.event_type == "moved":
            # With full events, a move from or to outside the watched folder names one side only.
            if event.src_path:
                self._events.put((Path(os.fsdecode(event.src_path)), "gone"))
            if event.dest_path:
                self._events.put((Path(os.fsdecode(event.dest_path)), "arrived"))
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
        self._batch_size = config.batch_size
        self._batch_bytes = config.batch_bytes
        self._gather = config.gather_seconds
        # When the last batch was handed on (monotonic): none yet.
        self._last_flush = -math.inf
        self._events: queue.Queue[tuple[Path, Signal]] = queue.Queue()
        self._pending: dict[Path, tuple[_Version, float]] = {}
        # Files open now (a file closed by everyone is dropped).
        self._open_counts: dict[Path, int] = {}
        # What was handed on, and when, by path (as text: a Path keeps its parts too), until the ledger
        # records it; without a ledger, for good.
        self._handed: dict[str, tuple[_Version, float]] = {}
        # Found complete since the last flush, to be handed on together.
        self._ready: dict[Path, tuple[_Version, FileReady]] = {}
        self._stop = threading.Event()
        # Set when inotify lost events: the loop rescans at once.
        self._overflowed = threading.Event()
        self._inotify: FolderEvents | None = None
        self._observer: BaseObserver | None = None
        if not config.polling and sys.platform.startswith("linux"):
            self._inotify = FolderEvents(self.watch_dir, self._queue_event, on_overflow=self._overflowed.set)
        else:
            polling = PollingObserver(timeout=config.polling_interval) if config.polling else None
            self._observer = polling or Observer()

    def run(self) -> None:
        """Watch until :meth:`stop` is called (from another thread or a signal handler)."""
        self.watch_dir.mkdir(parents=True, exist_ok=True)
        self._start_events()
        log.info("watch.started", extra={"watch_dir": str(self.watch_dir)})
        try:
            self._loop()
        finally:
            self._stop_events()
            log.info("watch.stopped", extra={"watch_dir": str(self.watch_dir)})

    def _start_events(self) -> None:
        if self._inotify is not None:
            self._inotify.start()
        elif self._observer is not None:
            relay = _EventRelay(self._events)
            self._observer.schedule(relay, str(self.watch_dir), recursive=True, event_filter=_FILE_EVENTS)
            self._observer.start()

    def _stop_events(self) -> None:
        if self._inotify is not None:
            self._inotify.stop()
        elif self._observer is not None:
            self._observer.stop()
            self._observer.join()

    def _queue_event(self, path: Path, signal: Signal) -> None:
        """Called on the inotify thread: the loop handles the event."""
        self._events.put((path, signal))

    def stop(self) -> None:
        """Ask :meth:`run` to return."""
        self._stop.set()

    def rescan(self) -> None:
        """Consider every file in the folder, so files dropped while nobody watched are found, and
        files handed on but never recorded by the ledger are handed on again."""
        still_here: set[str] = set()
        for paths in _slices(self._files(), LEDGER_SLICE):
            recorded = self._read_ledger(paths)
            still_here.update(str(path) for path in paths if str(path) in self._handed)
            for path in paths:
                self._guarded(path, partial(self._consider, path, recorded))
        for gone in self._handed.keys() - still_here:
            del self._handed[gone]

    def submit_settled(self, *, now: float | None = None) -> None:
        """Hand on each pending file whose size and mtime have held still for ``settle_seconds``,
        with every file found complete since the last call, in batches."""
        now = time.monotonic() if now is None else now
        for path, (version, since) in list(self._pending.items()):
            if now - since < self._settle or self._open_counts.get(path, 0):
                continue
            self._guarded(path, partial(self._submit_if_still, path, version))
        self._flush()

    def _flush(self) -> None:
        ready = list(self._ready.items())
        self._ready.clear()
        if ready:
            self._last_flush = time.monotonic()
        batch: list[tuple[Path, tuple[_Version, FileReady]]] = []
        held = 0
        for item in ready:
            size = item[1][0].size
            if batch and (len(batch) == self._batch_size or held + size > self._batch_bytes):
                self._submit_batch(batch)
                batch, held = [], 0
            batch.append(item)
            held += size
        if batch:
            self._submit_batch(batch)

    def _submit_batch(self, batch: list[tuple[Path, tuple[_Version, FileReady]]]) -> None:
        try:
            self._submit([ready for _, (_, ready) in batch])
        except Exception:
            # The broker may be down: keep the files pending; they are offered again after settling.
            log.exception("watch.submit_failed", extra={"files": len(batch)})
            for path, (version, _) in batch:
                self._pending[path] = (version, time.monotonic())
            return
        handed_at = time.monotonic()
        for path, (version, _) in batch:
            self._handed[str(path)] = (version, handed_at)
        log.debug("watch.files_ready", extra={"files": len(batch)})

    def _loop(self) -> None:
        next_rescan = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() >= next_rescan or self._overflowed.is_set():
                self._overflowed.clear()
                try:
                    self.rescan()
                except Exception:
                    # One file's steps are guarded already; the walk itself failing must not stop
                    # the watching either: the next rescan tries again.
                    log.exception("watch.rescan_failed")
                next_rescan = time.monotonic() + self._rescan_every
            self._drain_events(timeout=self._settle / 3)
            self.submit_settled()

    def _read_ledger(self, paths: Sequence[Path]) -> set[FileVersion] | None:
        """The versions of ``paths`` the ledger has recorded; None without a ledger."""
        if self._recorded is None:
            return None
        try:
            return set(self._recorded([path_text(path) for path in paths]))
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
                # Done: the ledger remembers it, the watcher need not.
                self._handed.pop(str(path), None)
                self._pending.pop(path, None)
                return
            handed = self._handed.get(str(path))
            if handed and time.monotonic() - handed[1] >= self._resubmit_after:
                # Handed on long ago and still not recorded: its message or its task was lost.
                del self._handed[str(path)]
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
            if len(self._ready) >= self._batch_size:
                # A burst of events: each full batch goes now, not once all of them are read, so the
                # first files are on their way sooner and no burst is held in memory whole.
                self._flush()
            try:
                path, signal = self._next_event()
            except queue.Empty:
                return

    def _next_event(self) -> tuple[Path, Signal]:
        """The next event queued; while a burst is handed on and files wait for their batch, the next
        to come within ``gather_seconds`` of the last batch. Renamed in one by one, a burst of files
        reaches the watcher as a trickle that each pass of the loop emptied: 5,000 files went in
        1,700 messages of two or three files, and every service downstream paid each message's
        costs (a transaction, a broker round trip, a store) 1,700 times instead of 25."""
        wait = self._last_flush + self._gather - time.monotonic() if self._ready else 0.0
        if wait <= 0:
            return self._events.get_nowait()
        return self._events.get(timeout=wait)

    def _handle(self, path: Path, signal: Signal) -> None:
        if is_ignored(path, watch_dir=self.watch_dir, rejected_dir=self.rejected_dir):
            return
        if signal == "opened":
            self._open_counts[path] = self._open_counts.get(path, 0) + 1
        elif signal == "released":
            self._note_closed(path)
            # A reader's close changes nothing, unless the file waited for its readers to close it.
            if path in self._pending:
                self._note_complete(path)
        elif signal in ("closed", "arrived"):
            if signal == "closed":
                self._note_closed(path)
            # Closed by its last writer, or renamed into place: complete now, no need to settle.
            self._note_complete(path)
        elif signal == "gone":
            self._forget(path)
        else:
            self._note_changed(path)

    def _note_closed(self, path: Path) -> None:
        still_open = self._open_counts.pop(path, 0) - 1
        if still_open > 0:
            self._open_counts[path] = still_open

    def _note_changed(self, path: Path) -> None:
        version = _current_version(path)
        if version is None:
            self._forget(path)
        elif not self._was_handed(path, version):
            self._pending[path] = (version, time.monotonic())

    def _note_complete(self, path: Path) -> None:
        """A file closed or renamed into place: ready now unless another writer still has it open, or
        already handed on as it is (a reader closing it: the ingest worker). One ``lstat``."""
        version = _current_version(path)
        if version is None:
            self._forget(path)
        elif self._open_counts.get(path, 0):
            if not self._was_handed(path, version):
                self._pending[path] = (version, time.monotonic())
        else:
            self._pending.pop(path, None)
            if not self._was_handed(path, version):
                self._make_ready(path, version)

    def _was_handed(self, path: Path, version: _Version) -> bool:
        handed = self._handed.get(str(path))
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
        self._pending.pop(path, None)
        if version is None or self._was_handed(path, version):
            return
        self._make_ready(path, version)

    def _make_ready(self, path: Path, version: _Version) -> None:
        self._ready[path] = (version, FileReady.of(path, size=version.size, mtime_ns=version.mtime_ns))
        log.debug("watch.file_ready", extra={"path": readable_path(path), "size": version.size})

    def _forget(self, path: Path) -> None:
        self._pending.pop(path, None)
        self._ready.pop(path, None)
        self._handed.pop(str(path), None)
        self._open_counts.pop(path, None)

    def _files(self) -> Iterator[Path]:
        for folder, folders, names in os.walk(self.watch_dir):
            here = Path(folder)
            folders[:] = [
                name for name in folders if not name.startswith(".") and here / name != self.rejected_dir
            ]
            # The walk skips hidden folders and the rejected one: only the name is left to check.
            yield from (here / name for name in names if not _ignored_name(name))


def _slices(paths: Iterator[Path], size: int) -> Iterator[list[Path]]:
    """``paths`` in lists of at most ``size``."""
    while chunk := list(itertools.islice(paths, size)):
        yield chunk


def _current_version(path: Path) -> _Version | None:
    """The file's size and mtime, or None when it is gone; of a link itself, never of its target
    (which may be a FIFO or a device: only the worker looks further, and rejects it)."""
    try:
        stat = os.lstat(path)
    except OSError:
        return None
    return _Version(size=stat.st_size, mtime_ns=stat.st_mtime_ns)
