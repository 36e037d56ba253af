"""Fixtures of the ingest tests: a collector of the articles handed on, and a local feed server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ingest.helpers import Forwarded, feed_routes
from tests.peers import HttpPeer, http_peer


@pytest.fixture(autouse=True)
def private_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The feed server runs on 127.0.0.1, which the outbound guard refuses unless the operator allows it."""
    monkeypatch.setenv("RASID_ALLOW_PRIVATE_TARGETS", "true")


@pytest.fixture
def forwarded() -> Forwarded:
    return Forwarded()


@pytest.fixture
def feed_server() -> Iterator[HttpPeer]:
    """A real HTTP server on 127.0.0.1 serving the feed fixtures and scripted failures; 404 elsewhere."""
    with http_peer() as server:
        for path, route in feed_routes().items():
            server.route(path, route)
        yield server
