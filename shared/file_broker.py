"""The embedded broker: Kombu's file-system transport, with each message written atomically.

Kombu writes a message file in place, so a consumer listing the folder at that moment can take a
file that is still empty: the message is lost and the worker stops on the empty JSON. Here a message
is written under a name no consumer matches, then renamed into place (atomic on one file system), so
a consumer sees it whole or not at all.

A message holds article text: its file is readable by its owner only, and once a consumer has read
it, it is deleted. Kombu deletes a taken message only after moving it to the system's temporary
folder, a rename across file systems (so not atomic) on many machines; here it is renamed into the
``processed_folder`` beside the queue, read and deleted there.

Kombu keeps each exchange's bindings in a table file that every process declaring a queue rewrites.
It creates a missing table by opening it for writing, which empties it, before it locks it: a
process binding at that moment read an empty file and failed (a worker's first send on a new
stack), or a second creator emptied a table another had just written, and a queue's binding was
lost. Here a table is created without being emptied, read and written under its lock, and an empty
one is an exchange with no binding yet.

Kombu's transport looks for new files every ``polling_interval`` (0.01 s: a worker holding its
prefetched messages waits that long before taking more), which kept each idle worker at about 1.3% of
a core. Here a consumer that found no message for its queues waits for the folder to change instead
(inotify, on Linux): a message renamed into place wakes it at once, and an idle stack costs next to
nothing. It still looks every ``IDLE_LOOK_SECONDS`` in case an event was missed, and polls as Kombu
does when it is busy (its prefetch is full) or where inotify is unavailable.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import select
import struct
import uuid
from collections.abc import Iterator
from queue import Empty
from time import monotonic, monotonic_ns, sleep
from typing import IO, Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

PARTIAL_SUFFIX = ".part"
# Longest wait of an idle consumer between two looks at its folder, should an event be missed.
IDLE_LOOK_SECONDS = 1.0
# From <sys/inotify.h>: a file renamed into the folder, or a file written there closed; the folder
# itself deleted or moved away, and a watch removed (after either).
IN_MOVED_TO = 0x00000080
IN_CLOSE_WRITE = 0x00000008
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_IGNORED = 0x00008000
_WATCH_GONE = IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED
# struct inotify_event: wd, mask, cookie, len, then len bytes of name.
_EVENT = struct.Struct("iIII")
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC


class FolderChanges:
    """Waits until a file arrives in ``folder`` (inotify) or a time passes; where inotify is
    unavailable, :attr:`available` is False and :meth:`wait` only sleeps.

    A folder deleted or moved away (and made again) is watched again at its path, so a consumer
    whose folder was replaced is still woken by its messages."""

    def __init__(self, folder: str) -> None:
        self.descriptor = -1
        self._folder = os.fsencode(folder)
        self._watch = -1
        try:
            self._libc = ctypes.CDLL(None, use_errno=True)
            descriptor = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        except (OSError, AttributeError):
            return
        if descriptor < 0:
            return
        self.descriptor = descriptor
        if not self._watch_folder():
            self.close()

    @property
    def available(self) -> bool:
        return self.descriptor >= 0

    def wait(self, seconds: float) -> None:
        """Return when a file arrived since the last call, or after ``seconds``."""
        if not self.available:
            sleep(seconds)
            return
        if self._watch < 0:
            # The folder went away: once it is back and watched, the caller looks at it again, for
            # a message may have come before the watch.
            if not self._watch_folder():
                sleep(seconds)
            return
        # poll(), not select(): a process with over 1,024 files open has descriptors select() refuses.
        waiting = select.poll()
        waiting.register(self.descriptor, select.POLLIN)
        if waiting.poll(seconds * 1000):
            self._drain()

    def _watch_folder(self) -> bool:
        mask = IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF
        self._watch = self._libc.inotify_add_watch(self.descriptor, self._folder, mask)
        return self._watch >= 0

    def _drain(self) -> None:
        events = b""
        try:
            while chunk := os.read(self.descriptor, 65536):
                events += chunk
        except BlockingIOError:
            pass
        offset, gone = 0, False
        while offset + _EVENT.size <= len(events):
            watch, mask, _, length = _EVENT.unpack_from(events, offset)
            offset += _EVENT.size + length
            gone = gone or (watch == self._watch and bool(mask & _WATCH_GONE))
        if gone:
            self._libc.inotify_rm_watch(self.descriptor, self._watch)  # a moved folder's watch
            self._watch_folder()

    def close(self) -> None:
        if self.available:
            os.close(self.descriptor)
            self.descriptor = -1


class Channel(filesystem.Channel):
    """A file-system channel whose messages appear whole."""

    # Kombu's own base classes disagree on the second parameter's name; this one follows filesystem's.
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # Consumers take files in name order: a zero-padded clock keeps that the order of sending.
        name = f"{monotonic_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL_SUFFIX  # ends in ".part": no queue's consumer takes it
        try:
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            with open(descriptor, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as error:
            raise ChannelError(f"cannot add message {name!r} to {self.data_folder_out!r}") from error

    def get_table(self, exchange: str) -> list[filesystem.exchange_queue_t]:
        """The bindings of ``exchange``: none while its table does not exist or is being created."""
        try:
            with self._locked_table(exchange, exclusive=False) as table:
                return _bindings(table.read())
        except FileNotFoundError:
            return []

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        """Add a binding to ``exchange``'s table, made if missing, read and rewritten under its lock."""
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self.control_folder.mkdir(exist_ok=True)
        with self._locked_table(exchange, exclusive=True, create=True) as table:
            bindings = _bindings(table.read())
            if binding not in bindings:
                bindings.insert(0, binding)
                table.seek(0)
                table.write(str_to_bytes(dumps(bindings)))
                table.truncate()

    @contextlib.contextmanager
    def _locked_table(self, exchange: str, *, exclusive: bool, create: bool = False) -> Iterator[IO[bytes]]:
        path = self._exchange_file(exchange)
        flags = (os.O_RDWR if exclusive else os.O_RDONLY) | os.O_CLOEXEC | (os.O_CREAT if create else 0)
        try:
            descriptor = os.open(path, flags, 0o600)
        except OSError as error:
            if isinstance(error, FileNotFoundError) and not create:
                raise  # no table yet: the caller's answer is "no binding"
            raise ChannelError(f"cannot open the exchange table {str(path)!r}") from error
        with open(descriptor, "r+b" if exclusive else "rb", buffering=0) as table:
            fcntl.flock(table.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield table  # closing the file releases the lock

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        """The oldest message of ``queue``, taken by an atomic rename, read, and deleted."""
        self.connection.looked = True
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            taken = os.path.join(self.processed_folder, name)
            try:
                os.rename(os.path.join(self.data_folder_in, name), taken)
            except OSError:
                continue  # another consumer took it first
            try:
                with open(taken, "rb") as file:
                    payload = file.read()
                os.remove(taken)
            except OSError as error:
                raise ChannelError(f"cannot read message {name!r} of queue {queue!r}") from error
            return loads(bytes_to_str(payload))
        raise Empty()


def _bindings(table: bytes) -> list[filesystem.exchange_queue_t]:
    """The bindings an exchange table holds; an empty table (just created) holds none."""
    return [filesystem.exchange_queue_t(*binding) for binding in loads(bytes_to_str(table))] if table else []


class Transport(filesystem.Transport):
    """Kombu's file-system transport with :class:`Channel`, whose idle consumers wait for their
    folder to change rather than poll it."""

    Channel = Channel
    # Set by a channel that listed the folder: it is not merely waiting for its prefetch to free.
    looked = False
    changes: FolderChanges | None = None

    # Kombu's base transport takes **kwargs; its virtual transport, which this follows, a timeout.
    def drain_events(self, connection: Any, timeout: float | None = None) -> None:  # type: ignore[override]
        """Deliver one message; wait up to ``timeout`` seconds for one (``socket.timeout`` then)."""
        assert self.client is not None and self.cycle is not None
        started = monotonic()
        if self.changes is None:
            # Watched before the first look, so a message arriving after that look wakes the wait.
            self.changes = FolderChanges(self.client.transport_options["data_folder_in"])
        while True:
            self.looked = False
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                left = IDLE_LOOK_SECONDS if timeout is None else timeout - (monotonic() - started)
                if left <= 0:
                    raise TimeoutError from None  # socket.timeout, which Celery expects
            if self.looked and self.changes.available:
                self.changes.wait(min(left, IDLE_LOOK_SECONDS))
            else:
                sleep(min(left, self.polling_interval or 0.0))

    def close_connection(self, connection: Any) -> None:
        if self.changes is not None:
            self.changes.close()
            self.changes = None
        super().close_connection(connection)
