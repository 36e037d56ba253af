"""Helpers of the alert service's tests: the fixture files, a clock, database short-cuts, and the
real peers: an SMTP recorder for aiosmtpd and an HTTP receiver for webhooks."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select, update

from alert_service.models import Alert, DeliveryAttempt
from alert_service.store import store_classified
from alert_service.subscriptions import Channel, NewSubscription, subscribe
from shared.db import session_scope
from shared.messages import ArticleClassified

FIXTURES = Path(__file__).parent.parent / "fixtures" / "alert"
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def at(hours: float) -> datetime:
    """A moment ``hours`` after NOW; two hours apart is past any backoff (capped at one hour)."""
    return NOW + timedelta(hours=hours)


def add_subscription(url: str, channel: Channel, target: str, topics: list[str]) -> NewSubscription:
    with session_scope(url) as session:
        return subscribe(session, channel, target=target, topics=topics, now=NOW)


def store(url: str, message: ArticleClassified) -> list[int]:
    with session_scope(url) as session:
        return store_classified(session, message, now=NOW)


def alert(url: str, alert_id: int) -> Alert:
    with session_scope(url) as session:
        return session.execute(select(Alert).where(Alert.id == alert_id)).scalar_one()


def attempts(url: str, alert_id: int) -> list[DeliveryAttempt]:
    with session_scope(url) as session:
        query = (
            select(DeliveryAttempt)
            .where(DeliveryAttempt.alert_id == alert_id)
            .order_by(DeliveryAttempt.attempt)
        )
        return list(session.execute(query).scalars())


def make_due(url: str, alert_id: int, when: datetime) -> None:
    """Move an alert's next attempt to ``when`` (instead of waiting for the backoff)."""
    with session_scope(url) as session:
        session.execute(update(Alert).where(Alert.id == alert_id).values(next_attempt_at=when))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SmtpRecorder:
    """An aiosmtpd handler that keeps what it accepts and answers scripted replies first."""

    messages: list[Envelope] = field(default_factory=list)
    rcpt_replies: list[str] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)
    port: int = 0

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.data_replies:
            return self.data_replies.pop(0)
        self.messages.append(envelope)
        return "250 2.0.0 Queued"


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """A real HTTP server that records each POST and answers scripted statuses per path (200 after)."""

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self.statuses: dict[str, list[int]] = {}
        self.delay_seconds: dict[str, float] = {}
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def received(self, path: str) -> list[ReceivedRequest]:
        return [request for request in self.requests if request.path == path]

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            self.requests.append(ReceivedRequest(path, headers, body))
            scripted = self.statuses.get(path, [])
            return scripted.pop(0) if scripted else 200

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = receiver._answer(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                delay = receiver.delay_seconds.get(self.path)
                if delay:
                    threading.Event().wait(delay)
                try:
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header("location", f"{receiver.url}/moved")
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client timed out and left: that is what the timeout test wants

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
