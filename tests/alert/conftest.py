"""Fixtures of the alert service's tests: a real SMTP server (aiosmtpd), a real HTTP receiver for
webhooks, settings pointing at them and a message factory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alert_service.settings import AlertSettings
from tests.alert.helpers import MessageFactory, classified_message
from tests.peers import ACCEPT, HttpPeer, SmtpSink, http_peer, smtp_sink


@pytest.fixture(autouse=True)
def private_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The receivers run on 127.0.0.1, which the outbound guard refuses unless the operator allows it."""
    monkeypatch.setenv("RASID_ALLOW_PRIVATE_TARGETS", "true")


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    with smtp_sink() as sink:
        yield sink


@pytest.fixture
def receiver() -> Iterator[HttpPeer]:
    """Accepts every webhook (200) unless a test scripts another answer."""
    with http_peer(fallback=ACCEPT) as receiver:
        yield receiver


@pytest.fixture
def settings(database_url: str, smtp_server: SmtpSink) -> AlertSettings:
    return AlertSettings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_timeout=5,
        webhook_timeout=5,
        max_attempts=8,
    )


@pytest.fixture
def make_message() -> MessageFactory:
    """An ArticleClassified built from the fixture file, with chosen id, tags and version."""
    return classified_message
