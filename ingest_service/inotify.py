"""Linux inotify (its system calls through inotify_simple), read in one thread: the file events
below the watched folder, for :mod:`ingest_service.watcher`.

watchdog's inotify observer passed each event through three threads and, for every file renamed
in, scanned its queue of events not yet handed on twice for the other side of the move: in a burst
that queue holds thousands of events, and the watcher spent more CPU on a file than the ingest
worker spent reading it. Here one thread reads the events in bulk and reports each as a
(path, signal) pair; a move is its two sides, ``gone`` and ``arrived``, which is all the watcher
needs.

Every folder below the watched one is watched (links are not followed). A folder created or moved
in is watched as soon as its event is read, and the files already in it are reported as
``changed`` (they settle before they are handed on); a folder moved out or deleted is forgotten.
When the kernel's queue of events overflows, events are lost: the folders are watched again and
``on_overflow`` is called, for the watcher to rescan the folder.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from inotify_simple import INotify, flags

log = logging.getLogger(__name__)

Signal = Literal["changed", "arrived", "opened", "closed", "released", "gone"]
"""What happened to a file: written to, moved in (complete), opened, closed by a writer, closed by a
reader (it was not written through that descriptor), moved out or deleted."""

_WATCHED = (
    flags.MODIFY
    | flags.CLOSE_WRITE
    | flags.CLOSE_NOWRITE
    | flags.OPEN
    | flags.MOVED_FROM
    | flags.MOVED_TO
    | flags.CREATE
    | flags.DELETE
    | flags.ONLYDIR
    | flags.DONT_FOLLOW
)
_SIGNALS: tuple[tuple[int, Signal], ...] = (
    (flags.MOVED_TO, "arrived"),
    (flags.CLOSE_WRITE, "closed"),
    (flags.CLOSE_NOWRITE, "released"),
    (flags.OPEN, "opened"),
    (flags.CREATE | flags.MODIFY, "changed"),
    (flags.MOVED_FROM | flags.DELETE, "gone"),
)

Report = Callable[[Path, Signal], None]


class FolderEvents:
    """Reports the file events below ``root`` to ``report``, from a thread of its own, between
    :meth:`start` and :meth:`stop`."""

    def __init__(self, root: Path, report: Report, *, on_overflow: Callable[[], None]) -> None:
        self._root = os.fspath(root)
        self._report = report
        self._on_overflow = on_overflow
        self._folders: dict[int, str] = {}
        self._watches: dict[str, int] = {}
        self._inotify: INotify | None = None
        self._wake_read, self._wake_write = -1, -1
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Watch every folder below the root (before returning), then read events in a thread."""
        try:
            self._inotify = INotify(nonblocking=True)
        except OSError as error:
            raise OSError(error.errno, f"cannot watch the folder: inotify_init1: {error.strerror}") from error
        self._wake_read, self._wake_write = os.pipe2(os.O_CLOEXEC)
        self._watch_tree(self._root, report=False)
        self._thread = threading.Thread(target=self._run, args=(self._inotify,), name="inotify", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop reading and close the watches."""
        if self._thread is not None:
            os.write(self._wake_write, b"x")
            self._thread.join()
            self._thread = None
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None
        for descriptor in (self._wake_read, self._wake_write):
            if descriptor >= 0:
                os.close(descriptor)
        self._wake_read = self._wake_write = -1
        self._folders.clear()
        self._watches.clear()

    def _run(self, inotify: INotify) -> None:
        while True:
            readable, _, _ = select.select([inotify.fileno(), self._wake_read], [], [])
            if self._wake_read in readable:
                return
            for event in inotify.read(timeout=0):
                try:
                    self._handle(event.wd, event.mask, event.name)
                except Exception:
                    # One event must not stop the reading: a rescan finds what it missed.
                    log.exception("watch.event_failed", extra={"mask": event.mask})

    def _handle(self, watch: int, mask: int, name: str) -> None:
        if mask & flags.Q_OVERFLOW:
            log.warning("watch.events_overflowed", extra={"watch_dir": self._root})
            self._watch_tree(self._root, report=False)
            self._on_overflow()
            return
        if mask & flags.IGNORED:
            folder = self._folders.pop(watch, None)
            if folder is not None and self._watches.get(folder) == watch:
                del self._watches[folder]
            return
        folder = self._folders.get(watch)
        if folder is None or not name:  # a watch since removed, or an event of the folder itself
            return
        path = os.path.join(folder, name)
        if mask & flags.ISDIR:
            if mask & (flags.CREATE | flags.MOVED_TO):
                self._watch_tree(path, report=True)
            elif mask & (flags.MOVED_FROM | flags.DELETE):
                self._unwatch_tree(path)
            return
        for bits, signal in _SIGNALS:
            if mask & bits:
                self._report(Path(path), signal)
                return

    def _watch_tree(self, top: str, *, report: bool) -> None:
        """Watch ``top`` and every folder below it; ``report``: each file found in them as changed
        (written before its folder was watched)."""
        for folder, _, names in os.walk(top):
            if not self._watch(folder) or not report:
                continue
            for name in names:
                self._report(Path(folder, name), "changed")

    def _watch(self, folder: str) -> bool:
        assert self._inotify is not None
        try:
            watch: int = self._inotify.add_watch(folder, _WATCHED)
        except OSError as error:
            # Gone meanwhile, or not a folder (any more): nothing to watch. Anything else (the
            # system's limit of watches) leaves the folder to the rescans.
            if error.errno not in (errno.ENOENT, errno.ENOTDIR):
                log.warning("watch.folder_unwatched", extra={"folder": folder, "error": error.strerror})
            return False
        previous = self._folders.get(watch)
        if previous is not None and previous != folder:  # the same folder, moved: known by its new path
            self._watches.pop(previous, None)
        self._folders[watch] = folder
        self._watches[folder] = watch
        return True

    def _unwatch_tree(self, top: str) -> None:
        """Stop watching ``top`` and the folders below it (moved out, or deleted)."""
        assert self._inotify is not None
        inside = os.path.join(top, "")
        for folder in [folder for folder in self._watches if folder == top or folder.startswith(inside)]:
            watch = self._watches.pop(folder)
            self._folders.pop(watch, None)
            # Deleted already, its watch is gone too (EINVAL): nothing left to do.
            with contextlib.suppress(OSError):
                self._inotify.rm_watch(watch)
