"""Redis broker connections: a broker that accepts a connection and never answers (one that died behind
a NAT or a proxy, or hangs) fails a send with a broker error instead of holding the sending process for
ever; and a worker that loses Redis while it holds messages goes through Celery's teardown of the lost
connection with a connection error, not a crash (:mod:`shared.redis_broker`)."""

from __future__ import annotations

import math
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from kombu import Connection, Queue
from kombu.common import ignore_errors
from kombu.exceptions import OperationalError
from kombu.utils import json as kombu_json

from shared import celery_app, redis_broker
from shared.redis_broker import body_of, envelope_json
from shared.settings import RasidSettings, load_settings
from shared.task_names import INGEST_FILE
from tests.faults.servers import private_redis

HANG_GUARD_SECONDS = 60  # not a timing assertion: only so that a hanging send fails the test


def _settings(**update: Any) -> RasidSettings:
    return load_settings(RasidSettings).model_copy(update=update)


def test_a_broker_that_never_answers_fails_the_send_instead_of_holding_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(celery_app, "BROKER_SOCKET_TIMEOUT_SECONDS", 0.5)
    # The kernel completes connections to a listening socket by itself: this broker is reached, and
    # never says a word.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        app = celery_app.create_celery_app("silent", _settings(broker_url=url))
        outcome: list[BaseException | None] = []

        def send() -> None:
            try:
                app.send_task(INGEST_FILE, kwargs={})
                outcome.append(None)
            except Exception as error:  # handed to the test's thread below
                outcome.append(error)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        sender.join(HANG_GUARD_SECONDS)
        assert not sender.is_alive(), "the send is still waiting for a broker that never answers"
    assert isinstance(outcome[0], OperationalError), outcome


def test_a_channel_holding_messages_closed_after_its_connection_was_collected_reports_a_lost_connection(
    tmp_path: Path,
) -> None:
    with private_redis(tmp_path / "redis") as server:
        app = celery_app.create_celery_app("lost", _settings(broker_url=server.url))
        connection = app.connection_for_read()
        channel = connection.default_channel
        queue = Queue("held", routing_key="held")
        connection.Producer().publish({"n": 1}, routing_key="held", declare=[queue])
        assert channel.basic_get("held", no_ack=False) is not None  # taken, not acknowledged
        server.crash()
        # What a worker's consumer is left with when Redis dies and the channel's first close fails:
        # Connection.collect() has dropped the transport's connection settings, the channel is still
        # open and holds the message. Celery then closes it again, ignoring connection errors only;
        # anything else stops the worker's consumer for good.
        channel.connection.client = None
        ignore_errors(connection, channel.close)
        assert channel.closed


def test_a_channel_publishes_through_one_client_of_its_pool_and_a_new_one_after_the_pool_is_replaced(
    tmp_path: Path,
) -> None:
    with private_redis(tmp_path / "redis") as server:
        app = celery_app.create_celery_app("publisher", _settings(broker_url=server.url))
        connection = app.connection_for_write()
        channel = connection.default_channel
        queue = Queue("kept", routing_key="kept")
        producer = connection.Producer()
        producer.publish({"n": 1}, routing_key="kept", declare=[queue])
        first = channel._kept_client()
        producer.publish({"n": 2}, routing_key="kept")
        assert channel._kept_client() is first
        # What a lost connection does to the channel: its pools are dropped and made again when next used.
        channel._disconnect_pools()
        producer.publish({"n": 3}, routing_key="kept")
        replaced = channel._kept_client()
        assert replaced is not first
        assert replaced.connection_pool is channel.pool
        bodies = []
        while (message := channel.basic_get("kept", no_ack=True)) is not None:
            bodies.append(message.decode())
        assert bodies == [{"n": 1}, {"n": 2}, {"n": 3}]


ARABIC_ARTICLE = {
    "title": "انسحاب القوات",
    "text": 'نص "مقتبس" \\ بسطرين\nو\tجدولة 🚀',
    "n": 3,
    "score": 0.25,
}


def test_a_message_travels_as_utf8_json_and_its_kept_copy_is_read_back_alike(tmp_path: Path) -> None:
    with private_redis(tmp_path / "redis") as server:
        app = celery_app.create_celery_app("utf8", _settings(broker_url=server.url))
        connection = app.connection_for_write()
        channel = connection.default_channel
        queue = Queue("plain", routing_key="plain")
        connection.Producer().publish(
            ARABIC_ARTICLE, routing_key="plain", declare=[queue], serializer=celery_app.MESSAGE_SERIALIZER
        )
        client = redis.Redis.from_url(server.url)
        (queued,) = client.lrange("plain", 0, -1)
        # The article's text as it is, not in base64 nor in ASCII escapes.
        assert "انسحاب القوات".encode() in queued
        message = channel.basic_get("plain", no_ack=False)
        assert message is not None and message.decode() == ARABIC_ARTICLE
        # The copy kept until the message is acknowledged is what Kombu restores from.
        (kept,) = client.hvals(channel.unacked_key)
        raw, exchange, routing_key = kombu_json.loads(kept)
        assert (raw["body"], exchange, routing_key) == (message.body.decode(), "", "plain")
        message.ack()
        assert client.hlen(channel.unacked_key) == 0


def test_a_message_queued_in_base64_by_an_earlier_version_is_read(tmp_path: Path) -> None:
    with private_redis(tmp_path / "redis") as server:
        queue = Queue("earlier", routing_key="earlier")
        # Kombu's own Redis transport, as earlier versions sent with: the body in base64.
        with Connection(server.url) as earlier:
            earlier.Producer().publish(ARABIC_ARTICLE, routing_key="earlier", declare=[queue])
        (queued,) = redis.Redis.from_url(server.url).lrange("earlier", 0, -1)
        assert kombu_json.loads(queued)["properties"]["body_encoding"] == "base64"
        app = celery_app.create_celery_app("later", _settings(broker_url=server.url))
        message = app.connection_for_read().default_channel.basic_get("earlier", no_ack=True)
        assert message is not None and message.decode() == ARABIC_ARTICLE


@pytest.mark.parametrize(
    "value",
    [
        {"body": '{"text": "نص"}', "headers": {"retries": 0, "eta": None, "timelimit": [None, 1.5]}},
        ["plain", 1, 2.5, True, None, {"nested": ["a", {"b": "ج"}]}],
        # Kombu's encoder tags these for its decoder, or writes what pydantic-core refuses or writes
        # otherwise: written by Kombu's encoder.
        {"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)},
        {"broken": "نص \ud800 مكسور"},
        {"ratio": math.inf, "other": math.nan},
        {1: "a number as a key"},
    ],
)
def test_an_envelope_reads_back_as_kombus_own_json_of_it_does(value: Any) -> None:
    # Compared as text: NaN is not equal to itself.
    assert repr(kombu_json.loads(envelope_json(value))) == repr(kombu_json.loads(kombu_json.dumps(value)))


def test_a_consumed_message_is_kept_as_the_bytes_it_was_queued_as_until_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with private_redis(tmp_path / "redis") as server:
        app = celery_app.create_celery_app("consumer", _settings(broker_url=server.url))
        queue = Queue("consumed", routing_key="consumed")
        with app.connection_for_write() as sender:
            sender.Producer().publish(
                ARABIC_ARTICLE,
                routing_key="consumed",
                declare=[queue],
                serializer=celery_app.MESSAGE_SERIALIZER,
            )
        client = redis.Redis.from_url(server.url)
        (queued,) = client.lrange("consumed", 0, -1)

        def written_again(value: Any) -> bytes | str:
            raise AssertionError(f"the consumed message was written again: {value!r}")

        monkeypatch.setattr(redis_broker, "envelope_json", written_again)
        received: list[Any] = []
        with (
            app.connection_for_read() as connection,
            connection.Consumer(
                queue, callbacks=[lambda body, message: received.append((body, message))], accept=["json"]
            ) as consumer,
        ):
            connection.drain_events(timeout=10)  # a worker's way: BRPOP, then the message delivered
            ((body, message),) = received
            assert body == ARABIC_ARTICLE
            channel = consumer.channel
            (kept,) = client.hvals(channel.unacked_key)
            # Not written again: the bytes Redis gave, in the list Kombu restores from.
            assert kept == b"[" + queued + b',"","consumed"]'
            assert kombu_json.loads(kept) == [kombu_json.loads(queued), "", "consumed"]
            assert channel.received_as(message._raw) is None  # held only while it is delivered
            # Handed back, as a worker that died holding it would have it: read again alike.
            channel.qos.restore_by_tag(message.delivery_tag, client=client)
            (again,) = client.lrange("consumed", 0, -1)
            assert kombu_json.loads(again)["body"] == kombu_json.loads(queued)["body"]
            message.ack()
            assert client.hlen(channel.unacked_key) == 0


@pytest.mark.parametrize(
    "value",
    [
        {"body": '{"text": "نص"}', "headers": {"retries": 0, "eta": None, "timelimit": [None, 1.5]}},
        [[], {"payload": {"text": 'نص "مقتبس" \\ 🚀', "n": 12345678901234567890, "score": 0.1}}, {}],
        # Read by Kombu's decoder: a tagged object, and what pydantic-core refuses (a lone surrogate).
        {"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)},
        {"broken": "نص \ud800 مكسور"},
        {"ratio": math.inf, "other": math.nan},
    ],
)
def test_a_body_is_read_as_kombus_decoder_reads_it(value: Any) -> None:
    # As Kombu writes it, and as Rasid does (UTF-8, which keeps a lone surrogate in an ASCII escape).
    for written in (kombu_json.dumps(value), celery_app._utf8_json(value)):
        # Compared as text: NaN is not equal to itself.
        assert repr(body_of(written.encode())) == repr(kombu_json.loads(written))
