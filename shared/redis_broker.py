"""The Redis broker: Kombu's Redis transport, with a channel that cannot be rebuilt once its connection
is gone reporting a lost connection instead of crashing the worker.

When a worker loses the broker, Celery first collects the broken connection (``Connection.collect``,
which drops the transport's reference to the connection's settings) and then closes it. If the
channel's first close failed (it was waiting for a BRPOP answer that will never come), the second
close tries to hand the channel's unacknowledged messages back to Redis and, with no settings left to
connect with, raised ``AttributeError: 'NoneType' object has no attribute 'hostname'``. That is not one
of the errors Celery expects from a lost connection: the consumer stopped for good ("Unrecoverable
error"), and the worker either exited or hung while shutting down, taking no more messages.

Here that attempt raises a Redis ``ConnectionError``, which Celery's teardown ignores, as it does when
Redis refuses the connection. The messages stay in Redis's ``unacked`` hash and are handed out again
after the visibility timeout (and a file's ingest is submitted again by the watcher well before).
"""

from __future__ import annotations

from typing import Any

import redis.exceptions
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    """A Redis channel whose connection settings, once collected, mean "no connection"."""

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        transport = self.connection
        if transport is None or transport.client is None:
            raise redis.exceptions.ConnectionError("the broker connection of this channel was closed")
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)  # type: ignore[no-untyped-call]
        return params


class Transport(kombu_redis.Transport):
    """Kombu's Redis transport with :class:`Channel`."""

    Channel = Channel
