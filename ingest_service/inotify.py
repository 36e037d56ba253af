"""Linux inotify, read directly: the file events below the watched folder, for
:mod:`ingest_service.watcher`.

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

import ctypes
import ctypes.util
import errno
import logging
import os
import select
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

Signal = Literal["changed", "arrived", "opened", "closed", "gone"]
"""What happened to a file: written to, moved in (complete), opened, closed, moved out or deleted."""

# <sys/inotify.h>
_IN_MODIFY = 0x2
_IN_CLOSE_WRITE = 0x8
_IN_CLOSE_NOWRITE = 0x10
_IN_OPEN = 0x20
_IN_MOVED_FROM = 0x40
_IN_MOVED_TO = 0x80
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_Q_OVERFLOW = 0x4000
_IN_IGNORED = 0x8000
_IN_ONLYDIR = 0x01000000
_IN_DONT_FOLLOW = 0x02000000
_IN_ISDIR = 0x40000000
_WATCHED = (
    _IN_MODIFY
    | _IN_CLOSE_WRITE
    | _IN_CLOSE_NOWRITE
    | _IN_OPEN
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_ONLYDIR
    | _IN_DONT_FOLLOW
)
_SIGNALS: tuple[tuple[int, Signal], ...] = (
    (_IN_MOVED_TO, "arrived"),
    (_IN_CLOSE_WRITE | _IN_CLOSE_NOWRITE, "closed"),
    (_IN_OPEN, "opened"),
    (_IN_CREATE | _IN_MODIFY, "changed"),
    (_IN_MOVED_FROM | _IN_DELETE, "gone"),
)
# struct inotify_event: wd, mask, cookie, len, then the name (len bytes, NUL-padded).
_HEADER = struct.Struct("iIII")
# Enough for a few thousand events a read.
_READ_BYTES = 256 * 1024

Report = Callable[[Path, Signal], None]


class FolderEvents:
    """Reports the file events below ``root`` to ``report``, from a thread of its own, between
    :meth:`start` and :meth:`stop`."""

    def __init__(self, root: Path, report: Report, *, on_overflow: Callable[[], None]) -> None:
        self._libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._root = os.fsencode(root)
        self._report = report
        self._on_overflow = on_overflow
        self._folders: dict[int, bytes] = {}
        self._watches: dict[bytes, int] = {}
        self._descriptor = -1
        self._wake_read, self._wake_write = -1, -1
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Watch every folder below the root (before returning), then read events in a thread."""
        descriptor = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if descriptor < 0:
            number = ctypes.get_errno()
            raise OSError(number, f"cannot watch the folder: inotify_init1: {os.strerror(number)}")
        self._descriptor = descriptor
        self._wake_read, self._wake_write = os.pipe2(os.O_CLOEXEC)
        self._watch_tree(self._root, report=False)
        self._thread = threading.Thread(target=self._run, name="inotify", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop reading and close the watches."""
        if self._thread is not None:
            os.write(self._wake_write, b"x")
            self._thread.join()
            self._thread = None
        for descriptor in (self._descriptor, self._wake_read, self._wake_write):
            if descriptor >= 0:
                os.close(descriptor)
        self._descriptor = self._wake_read = self._wake_write = -1
        self._folders.clear()
        self._watches.clear()

    def _run(self) -> None:
        while True:
            readable, _, _ = select.select([self._descriptor, self._wake_read], [], [])
            if self._wake_read in readable:
                return
            try:
                data = os.read(self._descriptor, _READ_BYTES)
            except BlockingIOError:
                continue
            self._read_events(data)

    def _read_events(self, data: bytes) -> None:
        offset = 0
        while offset < len(data):
            watch, mask, _cookie, length = _HEADER.unpack_from(data, offset)
            start = offset + _HEADER.size
            name = data[start : start + length].rstrip(b"\0")
            offset = start + length
            try:
                self._handle(watch, mask, name)
            except Exception:
                # One event must not stop the reading: a rescan finds what it missed.
                log.exception("watch.event_failed", extra={"mask": mask})

    def _handle(self, watch: int, mask: int, name: bytes) -> None:
        if mask & _IN_Q_OVERFLOW:
            log.warning("watch.events_overflowed", extra={"watch_dir": os.fsdecode(self._root)})
            self._watch_tree(self._root, report=False)
            self._on_overflow()
            return
        if mask & _IN_IGNORED:
            folder = self._folders.pop(watch, None)
            if folder is not None and self._watches.get(folder) == watch:
                del self._watches[folder]
            return
        folder = self._folders.get(watch)
        if folder is None or not name:  # a watch since removed, or an event of the folder itself
            return
        path = os.path.join(folder, name)
        if mask & _IN_ISDIR:
            if mask & (_IN_CREATE | _IN_MOVED_TO):
                self._watch_tree(path, report=True)
            elif mask & (_IN_MOVED_FROM | _IN_DELETE):
                self._unwatch_tree(path)
            return
        for bits, signal in _SIGNALS:
            if mask & bits:
                self._report(Path(os.fsdecode(path)), signal)
                return

    def _watch_tree(self, top: bytes, *, report: bool) -> None:
        """Watch ``top`` and every folder below it; ``report``: each file found in them as changed
        (written before its folder was watched)."""
        for folder, _, names in os.walk(top):
            if not self._watch(folder) or not report:
                continue
            for name in names:
                self._report(Path(os.fsdecode(os.path.join(folder, name))), "changed")

    def _watch(self, folder: bytes) -> bool:
        watch = self._libc.inotify_add_watch(self._descriptor, folder, _WATCHED)
        if watch < 0:
            number = ctypes.get_errno()
            # Gone meanwhile, or not a folder (any more): nothing to watch. Anything else (the
            # system's limit of watches) leaves the folder to the rescans.
            if number not in (errno.ENOENT, errno.ENOTDIR):
                log.warning(
                    "watch.folder_unwatched",
                    extra={"folder": os.fsdecode(folder), "error": os.strerror(number)},
                )
            return False
        previous = self._folders.get(watch)
        if previous is not None and previous != folder:  # the same folder, moved: known by its new path
            self._watches.pop(previous, None)
        self._folders[watch] = folder
        self._watches[folder] = watch
        return True

    def _unwatch_tree(self, top: bytes) -> None:
        """Stop watching ``top`` and the folders below it (moved out, or deleted)."""
        inside = os.path.join(top, b"")
        for folder in [folder for folder in self._watches if folder == top or folder.startswith(inside)]:
            watch = self._watches.pop(folder)
            self._folders.pop(watch, None)
            # Deleted already, its watch is gone too (EINVAL): nothing left to do.
            self._libc.inotify_rm_watch(self._descriptor, watch)
