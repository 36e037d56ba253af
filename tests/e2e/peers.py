"""Real peers the stack talks to in end-to-end tests and benchmarks: an SMTP server (aiosmtpd)
and an HTTP webhook receiver, both on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class _MailHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.SMTP)
        assert isinstance(message, EmailMessage)
        with self.sink.lock:
            self.sink.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@dataclass
class SmtpSink:
    """An SMTP server that keeps every message it is sent."""

    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[tuple[list[str], EmailMessage]]:
        with self.lock:
            return list(self.messages)


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    controller = Controller(_MailHandler(sink), hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@dataclass(frozen=True)
class Delivery:
    """One request the webhook receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    received_at: float


@dataclass
class WebhookReceiver:
    """An HTTP server recording every POST (answered from a script of statuses per path, then 200)
    and serving ``pages`` (feeds) to GET."""

    port: int = field(default_factory=free_port)
    scripts: dict[str, list[int]] = field(default_factory=dict)
    pages: dict[str, bytes] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def received(self, path: str | None = None) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if path is None or d.path == path]

    def answer(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        with self.lock:
            script = self.scripts.get(path, [])
            status = script.pop(0) if script else 200
            self.deliveries.append(Delivery(path, headers, body, status, time.monotonic()))
            return status


def _handler_for(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {key.lower(): value for key, value in self.headers.items()}
            status = receiver.answer(self.path, body, headers)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def do_GET(self) -> None:  # serves feeds
            page = receiver.pages.get(self.path)
            self.send_response(200 if page is not None else 404)
            self.send_header("content-type", "application/rss+xml; charset=utf-8")
            self.send_header("content-length", str(len(page or b"")))
            self.end_headers()
            self.wfile.write(page or b"")

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    server = ThreadingHTTPServer(("127.0.0.1", receiver.port), _handler_for(receiver))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
