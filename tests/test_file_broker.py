"""The embedded broker never lets a consumer take a message that is still being written."""

from __future__ import annotations

import stat
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from kombu import Connection

from shared import file_broker
from shared.celery_app import _embedded_broker_options
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
