"""The embedded broker: Kombu's file-system transport, with each message written atomically.

Kombu writes a message file in place, so a consumer listing the folder at that moment can take a
file that is still empty: the message is lost and the worker stops on the empty JSON. Here a message
is written under a name no consumer matches, then renamed into place (atomic on one file system), so
a consumer sees it whole or not at all.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic_ns
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

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
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as error:
            raise ChannelError(f"cannot add message {name!r} to {self.data_folder_out!r}") from error


class Transport(filesystem.Transport):
    """Kombu's file-system transport with :class:`Channel`."""

    Channel = Channel
