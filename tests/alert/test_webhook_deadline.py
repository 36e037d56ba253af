"""One deadline per webhook POST and a capped response: a receiver that drips its headers or its body
is cut off at ``RASID_WEBHOOK_TIMEOUT`` (its alert is retried, never sent twice in parallel), and a
huge response is not read into memory."""

from __future__ import annotations

import socket
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from alert_service.delivery import deliver_alert
from alert_service.settings import AlertSettings
from tests.alert.helpers import NOW, MessageFactory, add_subscription, alert, store
from tests.peers import HttpPeer, free_port, huge_body, slow_drip


def _webhook_alert(url: str, target: str, make_message: MessageFactory) -> int:
    add_subscription(url, "webhook", target, ["strikes"])
    [alert_id] = store(url, make_message())
    return alert_id


def _within(seconds: float, send: Callable[[], str | None]) -> str | None:
    """``send()``'s result, failing the test if it is still running after ``seconds``."""
    result: list[str | None] = []
    worker = threading.Thread(target=lambda: result.append(send()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"the send was still running after {seconds}s"
    return result[0]


@contextmanager
def header_dripper(*, pause: float) -> Iterator[int]:
    """An HTTP server that sends a status line, then one header byte every ``pause`` seconds."""
    listener = socket.create_server(("127.0.0.1", free_port()))
    stop = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nX-Drip: ")
            while not stop.wait(pause):
                try:
                    connection.sendall(b"z")
                except OSError:
                    return

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()


def test_a_receiver_dripping_its_headers_is_cut_off_and_retried(
    database_url: str, settings: AlertSettings, make_message: MessageFactory
) -> None:
    with header_dripper(pause=0.2) as port:
        alert_id = _webhook_alert(database_url, f"http://127.0.0.1:{port}/hook", make_message)
        quick = settings.model_copy(update={"webhook_timeout": 1.0})
        status = _within(20, lambda: deliver_alert(database_url, alert_id, settings=quick, clock=lambda: NOW))
    assert status == "pending"
    assert "deadline" in (alert(database_url, alert_id).last_error or "")


def test_a_receiver_dripping_its_body_does_not_hold_the_send(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    # 200 bytes at one every 0.5 s: each read is quick, the whole would take 100 s.
    receiver.route("/drip", slow_drip(b"x" * 200, pause=0.5))
    alert_id = _webhook_alert(database_url, receiver.url("/drip"), make_message)
    quick = settings.model_copy(update={"webhook_timeout": 1.0})
    status = _within(20, lambda: deliver_alert(database_url, alert_id, settings=quick, clock=lambda: NOW))
    # The receiver said 200 before it started dripping: the alert is delivered, once.
    assert status == "delivered"
    assert len(receiver.received("/drip")) == 1


@pytest.mark.parametrize("declare_length", [True, False], ids=["with-length", "until-close"])
def test_a_huge_response_is_not_read_whole(
    database_url: str,
    settings: AlertSettings,
    receiver: HttpPeer,
    make_message: MessageFactory,
    declare_length: bool,
) -> None:
    receiver.route("/huge", huge_body(64 * 1024 * 1024, declare_length=declare_length))
    alert_id = _webhook_alert(database_url, receiver.url("/huge"), make_message)
    tracemalloc.start()
    try:
        status = deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == "delivered"
    assert peak < 16 * 1024 * 1024, f"{peak / 2**20:.0f} MiB held while sending"


@pytest.mark.parametrize("deadline", ["smtp_timeout", "webhook_timeout"])
def test_the_lease_must_outlive_twice_the_longer_deadline(settings: AlertSettings, deadline: str) -> None:
    values = {**settings.model_dump(), "delivery_lease_seconds": 60.0, deadline: 30.0}
    with pytest.raises(ValueError, match="RASID_DELIVERY_LEASE_SECONDS") as caught:
        AlertSettings(**values)
    assert "RASID_SMTP_TIMEOUT" in str(caught.value) and "RASID_WEBHOOK_TIMEOUT" in str(caught.value)
    AlertSettings(**{**values, "delivery_lease_seconds": 61.0})
