"""The embedded broker: Kombu's file-system transport, with each message written atomically.

Kombu writes a message file in place, so a consumer listing the folder at that moment can take a
file that is still empty: the message is lost and the worker stops on the empty JSON. Here a message
is written under a name no consumer matches, then renamed into place (atomic on one file system), so
a consumer sees it whole or not at all.

A message holds article text: its file is readable by its owner only, and once a consumer has read
it, it is deleted. Kombu deletes a taken message only after moving it to the system's temporary
folder, a rename across file systems (so not atomic) on many machines; here it is renamed into the
``processed_folder`` beside the queue, read and deleted there.
"""

from __future__ import annotations

import os
import uuid
from queue import Empty
from time import monotonic_ns
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

PARTIAL_SUFFIX = ".part"


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

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        """The oldest message of ``queue``, taken by an atomic rename, read, and deleted."""
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


class Transport(filesystem.Transport):
    """Kombu's file-system transport with :class:`Channel`."""

    Channel = Channel
