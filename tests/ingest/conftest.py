"""Fixtures of the ingest tests: fixture files, an ingest-only migrated database, a local feed server."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shared.messages import ArticleIngested

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ingest"
FEED_FIXTURES = FIXTURES / "feeds"
FILE_FIXTURES = FIXTURES / "files"


class Forwarded(list[ArticleIngested]):
    """Collects the articles handed on, in place of the broker."""

    def __call__(self, article: ArticleIngested) -> None:
        self.append(article)


@pytest.fixture
def forwarded() -> Forwarded:
    return Forwarded()


@dataclass
class FeedServer:
    """A real HTTP server on 127.0.0.1 serving the feed fixtures, with ETag/Last-Modified and 304."""

    base_url: str
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def headers_of(self, path: str) -> list[dict[str, str]]:
        return [headers for seen, headers in self.requests if seen == path]


LAST_MODIFIED = formatdate(1_520_000_000, usegmt=True)


def _handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            server.requests.append((self.path, {key.lower(): value for key, value in self.headers.items()}))
            route = routes.get(self.path.split("?")[0])
            if route is None:
                self.send_error(404)
                return
            route(self)

    def serve_fixture(name: str) -> Callable[[BaseHTTPRequestHandler], None]:
        body = (FEED_FIXTURES / name).read_bytes()
        etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'

        def respond(handler: BaseHTTPRequestHandler) -> None:
            if handler.headers.get("If-None-Match") == etag:
                handler.send_response(304)
                handler.send_header("ETag", etag)
                handler.end_headers()
                return
            handler.send_response(200)
            handler.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            handler.send_header("Content-Length", str(len(body)))
            handler.send_header("ETag", etag)
            handler.send_header("Last-Modified", LAST_MODIFIED)
            handler.end_headers()
            handler.wfile.write(body)

        return respond

    def error(handler: BaseHTTPRequestHandler) -> None:
        handler.send_error(500, "Internal Server Error")

    def huge_without_length(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.end_headers()  # no Content-Length: the body ends when the connection closes
        handler.close_connection = True
        for _ in range(100):
            handler.wfile.write(b"<!-- " + b"x" * 10_000 + b" -->\n")

    def huge_with_length(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(50 * 1024 * 1024))
        handler.end_headers()
        handler.close_connection = True

    def slow(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(2)
        with contextlib.suppress(BrokenPipeError):  # the client gave up, as it should
            error(handler)

    def not_a_feed(handler: BaseHTTPRequestHandler) -> None:
        body = "<html><body><p>صفحة عادية</p></body></html>".encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {
        "/bbc.xml": serve_fixture("bbc_arabic_middleeast_2018_sample.rss.xml"),
        "/bbc-mirror.xml": serve_fixture("bbc_arabic_middleeast_2018_sample.rss.xml"),
        "/cnn.xml": serve_fixture("cnnarabic_middleeast_2018_sample.rss.xml"),
        "/atom.xml": serve_fixture("atom_html.xml"),
        "/error.xml": error,
        "/huge.xml": huge_without_length,
        "/huge-declared.xml": huge_with_length,
        "/slow.xml": slow,
        "/page.html": not_a_feed,
    }
    return Handler


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    httpd.daemon_threads = True
    server = FeedServer(base_url=f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.RequestHandlerClass = _handler(server)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()
