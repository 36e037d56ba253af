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

A message's envelope (Kombu's JSON of the body, its headers and properties) is written by
pydantic-core, in Rust, where it holds plain JSON values only (as Rasid's messages do), and with
Kombu's encoder otherwise; it is written twice a message, when it is sent and when a worker takes it
(the copy Redis keeps until it is acknowledged), and Kombu's took 4 ms for a batch of 200 articles,
pydantic-core under 1 ms. The body travels as the UTF-8 JSON it is (``body_encoding`` ``utf-8``),
not in base64, which made it a third larger and cost an encoding and a decoding for each message:
Kombu reads a body either way, by the encoding the message names, so messages sent by earlier
versions, still queued, are read as before.

A worker keeps the bytes Redis gave it as a message's copy for the ``unacked`` hash instead of writing
the message again, and reads a JSON body by pydantic-core (:func:`body_of`) where it holds none of the
objects Kombu's decoder tags: the alert worker's main process read each batch's envelope, wrote it
whole again, and read its body (the batch's articles) in Python's JSON module with Kombu's hook
called for every object; 71M instructions for a batch of 200 articles of the corpus, 52M now. The
envelope itself is still read by Kombu's decoder: it is mostly one long string (the body), which
Python's JSON module reads faster than pydantic-core.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from queue import Empty
from typing import Any

import pydantic_core
import redis
import redis.exceptions
from kombu.serialization import registry
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils import json as kombu_json
from kombu.utils.encoding import bytes_to_str

# The content type of JSON bodies, and how Kombu's encoder tags an object its JSON has no type for
# (a datetime, say): such an object is written as {"__type__": ..., "__value__": ...}.
JSON_CONTENT_TYPE = "application/json"
_KOMBU_TAG = b'"__type__"'


def envelope_json(value: Any) -> bytes | str:
    """The JSON Kombu would write for ``value``: by pydantic-core when ``value`` holds text, whole
    numbers, finite floats, booleans, null, lists and objects with text keys only, which both write
    alike, and bytes of UTF-8 text (a body: written as text, which a Kombu message gives as bytes
    again); by Kombu's encoder otherwise (it tags a datetime, say, for its decoder) and for text
    pydantic-core refuses (a lone surrogate)."""
    if _plain(value):
        try:
            return pydantic_core.to_json(value)
        except pydantic_core.PydanticSerializationError:
            pass
    return str(kombu_json.dumps(value))  # type: ignore[no-untyped-call]  # kombu is untyped


def _plain(value: Any) -> bool:
    if isinstance(value, str | bytes | bool | int) or value is None:
        return True
    if isinstance(value, float):
        return math.isfinite(value)  # pydantic-core writes null for NaN and infinity, Kombu not
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return all(_plain(item) for item in value)
    return False


def body_of(data: bytes) -> Any:
    """What Kombu's decoder reads of the JSON ``data`` (a message's body): by pydantic-core when no
    object in it is tagged for Kombu's decoder and pydantic-core reads it (it refuses a lone
    surrogate), by Kombu's decoder otherwise."""
    if _KOMBU_TAG not in data:
        try:
            return pydantic_core.from_json(data)
        except ValueError:
            pass
    return kombu_json.loads(data)  # type: ignore[no-untyped-call]  # kombu is untyped


def _kept_copy(received: bytes, exchange: str, routing_key: str) -> bytes:
    """The ``unacked`` hash's copy of a message received as ``received``, as Kombu restores it: the
    JSON list of the message, its exchange and its routing key."""
    separator = b","
    return (
        b"["
        + separator.join((received, pydantic_core.to_json(exchange), pydantic_core.to_json(routing_key)))
        + b"]"
    )


class Message(virtual.Message):
    """A message taken from Redis, whose JSON body is read by :func:`body_of`."""

    def _decode(self) -> Any:
        body = self.body
        accept = self.accept
        if (
            isinstance(body, bytes)
            and body
            and self.content_type == JSON_CONTENT_TYPE
            and (self.content_encoding or "utf-8").lower() == "utf-8"
            and accept is not None
            and JSON_CONTENT_TYPE in accept
            # Only where JSON is read by Kombu's decoder, as Rasid's apps register it.
            and registry._decoders.get(JSON_CONTENT_TYPE) is kombu_json.loads
        ):
            return body_of(body)
        return super()._decode()  # type: ignore[no-untyped-call]


class QoS(kombu_redis.QoS):
    """Kombu's acknowledgement emulation, keeping each unacknowledged message's copy in Redis: the
    bytes it was received as where the channel holds them (:meth:`Channel.received_as`), else as
    :func:`envelope_json` writes it."""

    def append(self, message: Any, delivery_tag: str) -> None:
        delivery = message.delivery_info
        received = self.channel.received_as(message._raw)
        if received is None:
            kept = envelope_json([message._raw, delivery["exchange"], delivery["routing_key"]])
        else:
            kept = _kept_copy(received, delivery["exchange"], delivery["routing_key"])
        with self.pipe_or_acquire() as pipe:
            pipe.zadd(self.unacked_index_key, {delivery_tag: time.time()}).hset(
                self.unacked_key, delivery_tag, kept
            ).execute()
            virtual.QoS.append(self, message, delivery_tag)  # type: ignore[no-untyped-call]


class Channel(kombu_redis.Channel):
    """A Redis channel whose connection settings, once collected, mean "no connection", whose
    messages are written by :func:`envelope_json` with their bodies as they are."""

    QoS = QoS
    Message = Message
    body_encoding = "utf-8"
    # The message being delivered and the bytes it was read from, while it is delivered.
    _received: tuple[Any, bytes] | None = None

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

    def _put(self, queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        """Push the message on its queue (a batch publish, or a queue that expires, as Kombu does)."""
        if kwargs.get("_publish_batch") is not None or (self._expires and queue in self._expires):
            super()._put(queue, message, **kwargs)  # type: ignore[no-untyped-call]
            return
        key = self._q_for_pri(queue, self._get_message_priority(message, reverse=False))  # type: ignore[no-untyped-call]
        with self.conn_or_acquire() as client:
            client.lpush(key, envelope_json(message))

    def _brpop_read(self, **options: Any) -> bool:
        """Kombu's (5.7), holding the bytes of the message while it is delivered, for
        :meth:`QoS.append` to keep."""
        try:
            try:
                dest_item = self.client.parse_response(self.client.connection, "BRPOP", **options)
            except self.connection_errors:
                # A lost connection: dropped, so the next poll connects again.
                self.client.connection.disconnect()
                raise
            if not dest_item:
                raise Empty()
            dest, item = dest_item
            dest = bytes_to_str(dest).rsplit(self.sep, 1)[0]  # type: ignore[no-untyped-call]
            self._queue_cycle.rotate(dest)
            payload = kombu_json.loads(item)  # type: ignore[no-untyped-call]  # kombu is untyped
            self._received = (payload, item)
            try:
                self.connection._deliver(payload, dest)
            finally:
                self._received = None
            return True
        finally:
            self._in_poll = None  # type: ignore[assignment]  # as Kombu resets it
            self._flush_brpop_reauth()  # type: ignore[no-untyped-call]

    def received_as(self, payload: Any) -> bytes | None:
        """The bytes ``payload`` was read from, while it is being delivered; else None."""
        received = self._received
        if received is None or received[0] is not payload:
            return None
        return received[1]

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
