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

Kombu builds a new redis-py client around the channel's connection pool for every command it sends
outside its polling loop (each message published, each acknowledgement): the client's set-up was about
a fifth of the CPU of publishing a message. A channel here keeps one client per pool and reuses it; a
client holds no connection of its own (it takes one from the pool for each command), so sharing it is
what redis-py intends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
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

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        """``client`` when given, else the channel's kept client of its current connection pool."""
        yield client or self._kept_client()

    def _kept_client(self) -> redis.Redis:
        # The pool is made again after a lost connection: a client of the old one is not reused.
        pool = self.pool
        kept: redis.Redis | None = getattr(self, "_client_of_pool", None)
        if kept is None or kept.connection_pool is not pool:
            kept = self._create_client()  # type: ignore[no-untyped-call]
            self._client_of_pool = kept
        return kept


class Transport(kombu_redis.Transport):
    """Kombu's Redis transport with :class:`Channel`."""

    Channel = Channel
