"""The embedded broker never lets a consumer take a message that is still being written."""

from __future__ import annotations

import json
import socket
import stat
import threading
import time
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from kombu import Connection, Exchange, Queue, serialization

from shared import file_broker
from shared.celery_app import _embedded_broker_options, create_celery_app
from shared.settings import RasidSettings


@pytest.fixture
def channel(tmp_path: Path) -> Any:
    folders = {name: tmp_path / name for name in ("messages", "processed")}
    for folder in folders.values():
        folder.mkdir()
    options = {
        "data_folder_in": str(folders["messages"]),
        "data_folder_out": str(folders["messages"]),
        "processed_folder": str(folders["processed"]),
        "store_processed": True,
    }
    with Connection(transport=file_broker.Transport, transport_options=options) as connection:
        yield connection.channel()


def test_a_message_being_written_is_not_taken(channel: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seen_while_writing: list[str] = []
    real_dumps = file_broker.dumps

    def dumps_while_a_consumer_looks(payload: Any) -> str:
        try:
            channel._get("classify")
            seen_while_writing.append("taken")
        except Empty:
            seen_while_writing.append("empty")
        return str(real_dumps(payload))

    monkeypatch.setattr(file_broker, "dumps", dumps_while_a_consumer_looks)
    channel._put("classify", {"body": "مرحبا"})
    assert seen_while_writing == ["empty"]
    assert channel._get("classify") == {"body": "مرحبا"}


def test_messages_come_out_in_order_and_per_queue(channel: Any) -> None:
    for number in range(3):
        channel._put("classify", {"number": number})
    channel._put("alert", {"number": 99})
    assert [channel._get("classify")["number"] for _ in range(3)] == [0, 1, 2]
    assert channel._get("alert") == {"number": 99}
    with pytest.raises(Empty):
        channel._get("classify")


def test_embedded_broker_keeps_no_message_and_writes_each_for_its_owner_only(tmp_path: Path) -> None:
    settings = RasidSettings(data_dir=tmp_path / "var")
    options = _embedded_broker_options(settings)
    with Connection(transport=file_broker.Transport, transport_options=options) as connection:
        channel: Any = connection.channel()
        channel._put("ingest", {"body": "نص المقال"})
        (message,) = [path for path in (tmp_path / "var").rglob("*") if path.name.endswith(".msg")]
        assert stat.S_IMODE(message.stat().st_mode) == 0o600
        assert channel._get("ingest") == {"body": "نص المقال"}

    kept = [path for path in (tmp_path / "var").rglob("*") if path.is_file() and ".msg" in path.name]
    assert kept == []
    assert stat.S_IMODE(settings.broker_folder.stat().st_mode) == 0o700


def _consumer_and_sender(tmp_path: Path, received: list[Any]) -> tuple[Connection, Connection]:
    options = _embedded_broker_options(RasidSettings(data_dir=tmp_path / "var"))
    consumer = Connection(transport=file_broker.Transport, transport_options=options)
    sender = Connection(transport=file_broker.Transport, transport_options=options)
    queue = Queue("classify", Exchange("classify", type="direct"), routing_key="classify")
    consumer.Consumer(
        queue, callbacks=[lambda body, message: (received.append(body), message.ack())]
    ).consume()
    sender.Producer().publish({"n": 1}, exchange=queue.exchange, routing_key="classify", declare=[queue])
    return consumer, sender


def test_an_idle_consumer_waits_for_its_folder_and_takes_what_arrives(tmp_path: Path) -> None:
    received: list[Any] = []
    consumer, sender = _consumer_and_sender(tmp_path, received)
    with consumer, sender:
        consumer.drain_events(timeout=5)
        assert received == [{"n": 1}]
        with pytest.raises(socket.timeout):
            consumer.drain_events(timeout=0.2)
        transport: Any = consumer.transport
        assert transport.changes.available  # the idle wait above was on the folder, not a poll

        def send_later() -> None:
            time.sleep(0.3)
            sender.Producer().publish({"n": 2}, exchange="classify", routing_key="classify")

        threading.Thread(target=send_later).start()
        consumer.drain_events(timeout=10)
    assert received == [{"n": 1}, {"n": 2}]


def test_folder_changes_wake_a_wait_when_a_file_is_renamed_in(tmp_path: Path) -> None:
    changes = file_broker.FolderChanges(str(tmp_path))
    assert changes.available
    (tmp_path / "message.part").write_text("{}")
    (tmp_path / "message.part").rename(tmp_path / "message.msg")
    started = time.monotonic()
    changes.wait(30)
    assert time.monotonic() - started < 30  # it woke on the rename, not at the end of its wait
    changes.close()


def test_messages_are_utf8_json_and_ascii_escaped_ones_are_still_read(tmp_path: Path) -> None:
    app = create_celery_app("test", RasidSettings(data_dir=tmp_path / "var"))
    message = app.amqp.as_task_v2("id-1", "classifier.classify_articles", kwargs={"text": "قاعدة عين الأسد"})
    content_type, encoding, body = serialization.dumps(message.body, serializer="json")
    assert (content_type, encoding) == ("application/json", "utf-8")
    assert "قاعدة عين الأسد" in body
    # As an earlier version wrote it, with ASCII escapes.
    earlier = json.dumps(message.body)
    assert "\\u0642" in earlier
    assert serialization.loads(earlier, content_type, encoding) == serialization.loads(
        body, content_type, encoding
    )
