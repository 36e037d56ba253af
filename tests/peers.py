"""Real peers Rasid talks to, for tests and benchmarks, both on 127.0.0.1: an SMTP server (aiosmtpd)
and one HTTP server that receives webhooks and serves feeds. Each records what it gets and can be
scripted to fail: SMTP replies per command, HTTP replies per path (an error status, a redirect, a huge
body, a slow drip, a long silence)."""

from __future__ import annotations

import email
import email.policy
import hashlib
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


@dataclass(frozen=True)
class Mail:
    """One message the SMTP server accepted."""

    recipients: list[str]
    message: EmailMessage
    # The message's bytes as the client sent them (after the SMTP dot-unstuffing).
    raw: bytes = b""


@dataclass
class SmtpSink:
    """An SMTP server (aiosmtpd handler) that keeps what it accepts; scripted replies come first."""

    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    mails: list[Mail] = field(default_factory=list)
    rcpt_replies: list[str] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

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
        message = email.message_from_bytes(envelope.original_content or b"", policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.mails.append(Mail(list(envelope.rcpt_tos), message, envelope.original_content or b""))
        return "250 2.0.0 Queued"

    def received(self) -> list[Mail]:
        with self.lock:
            return list(self.mails)


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@dataclass(frozen=True)
class Request:
    """One request the HTTP peer got, and the status it answered with."""

    method: str
    path: str  # without the query string
    headers: dict[str, str]  # names in lower case
    body: bytes
    received_at: float  # time.monotonic() when it arrived
    status: int | None = None  # None only while its route decides


@dataclass(frozen=True)
class Reply:
    """What the peer answers: the status line comes after ``delay`` seconds, then the headers, then the
    body one chunk at a time with ``pause`` seconds between chunks. ``length`` is the Content-Length
    declared; with None there is none and the body ends when the connection closes."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    chunks: Iterable[bytes] = ()
    length: int | None = 0
    delay: float = 0.0
    pause: float = 0.0


Route = Callable[[Request], Reply]
"""How a path answers: it reads the request (its headers, say) and returns the reply. The functions
below build the routes tests need."""


def answer(status: int = 200, body: bytes = b"", *, content_type: str | None = None) -> Route:
    """The same reply to every request: a status and a body of known length."""
    headers = {"Content-Type": content_type} if content_type else {}
    reply = Reply(status, headers, [body] if body else [], len(body))
    return lambda _request: reply


def error(status: int) -> Route:
    """An error status with its reason as a short plain-text body."""
    return answer(status, f"{status} {HTTPStatus(status).phrase}".encode(), content_type="text/plain")


ACCEPT = answer(200, b"ok")
"""What a webhook receiver says to anything: 200."""

NOT_FOUND = error(404)
"""What the peer says on a path nobody routed, unless told otherwise."""


def redirect(location: str, *, status: int = 302) -> Route:
    """A redirect to ``location``, with no body."""
    return lambda _request: Reply(status, {"Location": location})


def serve_file(path: Path, *, content_type: str) -> Route:
    """A file as a web server serves it: ETag and Last-Modified, and 304 to a request that names the
    ETag it already has."""
    body = path.read_bytes()
    etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
    last_modified = formatdate(path.stat().st_mtime, usegmt=True)

    def respond(request: Request) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(304, {"ETag": etag}, length=None)
        headers = {"Content-Type": content_type, "ETag": etag, "Last-Modified": last_modified}
        return Reply(200, headers, [body], len(body))

    return respond


CHUNK = 64 * 1024


def huge_body(size: int, *, declare_length: bool, content_type: str = "application/octet-stream") -> Route:
    """``size`` bytes, written lazily (a client that stops reading stops the writing), with their
    Content-Length or without one (the body ends when the connection closes)."""

    def chunks() -> Iterator[bytes]:
        for start in range(0, size, CHUNK):
            yield b"x" * min(CHUNK, size - start)

    length = size if declare_length else None
    return lambda _request: Reply(200, {"Content-Type": content_type}, chunks(), length)


def slow_drip(body: bytes, *, pause: float, content_type: str = "application/octet-stream") -> Route:
    """``body`` one byte every ``pause`` seconds: each read is quick, the whole takes long."""
    chunks = [body[index : index + 1] for index in range(len(body))]
    return lambda _request: Reply(200, {"Content-Type": content_type}, chunks, len(body), pause=pause)


def delayed(route: Route, seconds: float) -> Route:
    """``route``'s reply, after ``seconds`` of silence."""
    return lambda request: replace(route(request), delay=seconds)


@contextmanager
def header_dripper(*, pause: float) -> Iterator[int]:
    """A raw TCP server on 127.0.0.1 (yields its port) that answers one request with a status line and
    then one header byte every ``pause`` seconds, without end: no single read is slow, the headers
    never finish. (The HTTP peer cannot: its headers go out in one write.)"""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n")
            while not stop.is_set():
                try:
                    connection.sendall(b"X")
                except OSError:
                    return  # the client gave up, as such a test wants
                time.sleep(pause)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        server.close()


class HttpPeer:
    """An HTTP server on 127.0.0.1 (start it with :func:`http_peer`) that records every request and
    answers each path from its script first (each scripted reply is used once, in order), then from its
    route; a path with neither gets ``fallback``."""

    def __init__(self, port: int, *, fallback: Route) -> None:
        self.port = port
        self.fallback = fallback
        self._routes: dict[str, Route] = {}
        self._scripts: dict[str, list[Route]] = {}
        self._requests: list[Request] = []
        self._lock = threading.Lock()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, route: Route) -> None:
        """Answer ``path`` with ``route`` (once its script, if any, is used up)."""
        with self._lock:
            self._routes[path] = route

    def script(self, path: str, *answers: Route) -> None:
        """Answer the next requests to ``path`` with ``answers``, one each, in order."""
        with self._lock:
            self._scripts.setdefault(path, []).extend(answers)

    def received(self, path: str | None = None) -> list[Request]:
        """The requests so far, oldest first; only those to ``path`` if given."""
        with self._lock:
            return [request for request in self._requests if path is None or request.path == path]

    def reply_to(self, request: Request) -> Reply:
        """Pick the reply to ``request`` and record the request with its status."""
        with self._lock:
            script = self._scripts.get(request.path)
            route = script.pop(0) if script else self._routes.get(request.path, self.fallback)
        reply = route(request)
        with self._lock:
            self._requests.append(replace(request, status=reply.status))
        return reply


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a reply still dripping when the test ends does not hold it up

    def __init__(self, *, fallback: Route) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.peer = HttpPeer(self.server_address[1], fallback=fallback)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._exchange()

    def do_POST(self) -> None:
        self._exchange()

    def _exchange(self) -> None:
        path, _, _query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {key.lower(): value for key, value in self.headers.items()}
        reply = self.server.peer.reply_to(Request(self.command, path, headers, body, time.monotonic()))
        try:
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up (a timeout, a size limit), as such a test wants

    def _send(self, reply: Reply) -> None:
        time.sleep(reply.delay)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.length is not None:
            self.send_header("Content-Length", str(reply.length))
        self.end_headers()
        for chunk in reply.chunks:
            self.wfile.write(chunk)
            self.wfile.flush()
            time.sleep(reply.pause)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def http_peer(*, fallback: Route = NOT_FOUND) -> Iterator[HttpPeer]:
    """An :class:`HttpPeer` serving on a free port of 127.0.0.1 until the block ends."""
    server = _Server(fallback=fallback)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server.peer
    finally:
        server.shutdown()
        server.server_close()
