"""The embedded broker never lets a consumer take a message that is still being written."""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import shutil
import socket
import stat
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from kombu import Connection, Exchange, Queue, serialization

from shared import file_broker
from shared.celery_app import _embedded_broker_options, create_celery_app, send_message
from shared.messages import ArticleIngested
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


def _consumer_and_sender(
    tmp_path: Path, received: list[Any], name: str = "classify"
) -> tuple[Connection, Connection]:
    options = _embedded_broker_options(RasidSettings(data_dir=tmp_path / "var"))
    consumer = Connection(transport=file_broker.Transport, transport_options=options)
    sender = Connection(transport=file_broker.Transport, transport_options=options)
    # Kombu keeps bindings per process, not per folder: each folder gets a queue of its own name.
    queue = Queue(name, Exchange(name, type="direct"), routing_key=name)
    consumer.Consumer(
        queue, callbacks=[lambda body, message: (received.append(body), message.ack())]
    ).consume()
    sender.Producer().publish({"n": 1}, exchange=queue.exchange, routing_key=name, declare=[queue])
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


def _arrive(folder: Path, name: str) -> None:
    (folder / f"{name}.part").write_text("{}")
    (folder / f"{name}.part").rename(folder / name)


def test_folder_changes_wait_with_a_descriptor_past_1024(tmp_path: Path) -> None:
    # A busy worker may hold over 1,024 files: select() refuses such a descriptor, poll() does not.
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        changes = file_broker.FolderChanges(str(tmp_path))
        assert changes.descriptor >= 1024
        _arrive(tmp_path, "message.msg")
        started = time.monotonic()
        changes.wait(30)
        assert time.monotonic() - started < 30
        changes.close()
    finally:
        for descriptor in held:
            os.close(descriptor)


def test_folder_changes_still_wake_once_the_folder_is_made_again(tmp_path: Path) -> None:
    folder = tmp_path / "messages"
    folder.mkdir()
    changes = file_broker.FolderChanges(str(folder))
    shutil.rmtree(folder)
    folder.mkdir()
    changes.wait(0.5)  # told the folder went: it watches the new one
    _arrive(folder, "message.msg")
    started = time.monotonic()
    changes.wait(30)
    assert time.monotonic() - started < 30
    # Moved away and replaced: the folder at the path is the one watched.
    folder.rename(tmp_path / "old")
    folder.mkdir()
    changes.wait(0.5)
    _arrive(folder, "second.msg")
    started = time.monotonic()
    changes.wait(30)
    assert time.monotonic() - started < 30
    changes.close()


def test_a_message_sent_between_a_look_and_the_wait_wakes_it(tmp_path: Path) -> None:
    received: list[Any] = []
    consumer, sender = _consumer_and_sender(tmp_path, received, "between")
    with consumer, sender:
        consumer.drain_events(timeout=5)
        transport: Any = consumer.transport
        real_wait = transport.changes.wait

        def send_then_wait(seconds: float) -> None:
            if not received[1:]:
                sender.Producer().publish({"n": 2}, exchange="between", routing_key="between")
            real_wait(30)  # a lost wake-up would sleep the whole 30 s

        transport.changes.wait = send_then_wait
        started = time.monotonic()
        consumer.drain_events(timeout=60)
        assert time.monotonic() - started < 30
    assert received == [{"n": 1}, {"n": 2}]


def test_idle_consumers_leave_no_descriptor_open(tmp_path: Path) -> None:
    def open_descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    received: list[Any] = []
    consumer, sender = _consumer_and_sender(tmp_path, received, "leak")
    with consumer, sender:
        consumer.drain_events(timeout=5)
    before = open_descriptors()
    for _ in range(20):
        consumer, sender = _consumer_and_sender(tmp_path, received, "leak")
        with consumer, sender:
            consumer.drain_events(timeout=5)
            for _ in range(3):
                with pytest.raises(socket.timeout):
                    consumer.drain_events(timeout=0.01)
    assert open_descriptors() == before
    assert len(received) == 21


@pytest.mark.parametrize("title", ["\U0001f600 قاعدة عين الأسد", "قاعدة \ud800 عين الأسد", "\udfff"])
def test_a_title_outside_the_bmp_or_with_a_lone_surrogate_travels_whole(tmp_path: Path, title: str) -> None:
    app = create_celery_app("test", RasidSettings(data_dir=tmp_path / "var"))
    article = ArticleIngested(
        article_id="a" * 32,
        title=title,
        text="نص المقال",
        source="s.txt",
        source_kind="file",
        ingested_at=datetime(2026, 11, 30, tzinfo=UTC),
    )
    send_message(app, "classifier.classify_articles", article)
    (sent,) = [path for path in (tmp_path / "var").rglob("*.msg")]
    envelope = json.loads(sent.read_bytes())
    body = base64.b64decode(envelope["body"])  # bytes, as the transport hands them on
    content_type, encoding = envelope["content-type"], envelope["content-encoding"]
    _, kwargs, _ = serialization.loads(body, content_type, encoding)
    assert ArticleIngested.from_payload(kwargs["payload"]) == article


def test_without_inotify_an_idle_consumer_polls_and_takes_what_arrives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_inotify(*args: Any, **kwargs: Any) -> Any:
        raise OSError("no libc here")

    monkeypatch.setattr(file_broker.ctypes, "CDLL", no_inotify)
    received: list[Any] = []
    consumer, sender = _consumer_and_sender(tmp_path, received, "polled")
    with consumer, sender:
        consumer.drain_events(timeout=5)
        transport: Any = consumer.transport
        assert not transport.changes.available
        threading.Timer(
            0.2, lambda: sender.Producer().publish({"n": 2}, exchange="polled", routing_key="polled")
        ).start()
        consumer.drain_events(timeout=10)
    assert received == [{"n": 1}, {"n": 2}]


def _bind_at_once(
    control: str, queue: str, start: Any, failures: Any, *, transport: type[Any] = file_broker.Transport
) -> None:
    """One process declaring its queue on the ``tasks`` exchange, as each worker does at start."""
    options = {"data_folder_in": control, "data_folder_out": control, "control_folder": control}
    try:
        with Connection(transport=transport, transport_options=options) as connection:
            channel = connection.channel()
            start.wait(timeout=30)
            Queue(queue, Exchange("tasks", type="direct"), routing_key=queue)(channel).declare()
    except Exception as error:  # any failure of the bind is what the test reports
        failures.put(f"{queue}: {error!r}")


def test_workers_declaring_their_queues_at_once_on_a_new_stack_all_bind(tmp_path: Path) -> None:
    # A new stack's workers start together: each creates or rewrites the exchange's table as it
    # declares its queue. None may fail on a table another is creating, or empty one another wrote.
    context = multiprocessing.get_context("fork")
    for attempt in range(10):
        control = tmp_path / f"control-{attempt}"
        control.mkdir()
        start, failures = context.Barrier(6), context.Queue()
        queues = [f"queue{number}" for number in range(6)]
        binders = [
            context.Process(target=_bind_at_once, args=(str(control), queue, start, failures))
            for queue in queues
        ]
        for binder in binders:
            binder.start()
        for binder in binders:
            binder.join(timeout=60)
        reported = []
        while not failures.empty():
            reported.append(failures.get(timeout=1))
        assert reported == []
        table = json.loads((control / "tasks.exchange").read_text())
        assert sorted(binding[2] for binding in table) == queues


def test_an_exchange_table_being_created_is_read_as_no_binding_and_bound_onto(tmp_path: Path) -> None:
    folder = str(tmp_path)
    options = {"data_folder_in": folder, "data_folder_out": folder, "control_folder": folder}
    (tmp_path / "tasks.exchange").write_bytes(b"")  # made by another process, not yet written
    with Connection(transport=file_broker.Transport, transport_options=options) as connection:
        channel: Any = connection.channel()
        assert channel.get_table("tasks") == []
        channel._queue_bind("tasks", "classify", "", "classify")
        channel._queue_bind("tasks", "classify", "", "classify")
        assert [binding.queue for binding in channel.get_table("tasks")] == ["classify"]
