"""Fixtures of the alert service's tests: a migrated database, a real SMTP server (aiosmtpd),
a real HTTP receiver for webhooks, settings pointing at them and message factories."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from alert_helpers import load_fixture

from alert_service.settings import AlertSettings
from shared.messages import ArticleClassified
from tests.peers import SmtpSink, WebhookReceiver, smtp_sink, webhook_receiver


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    with smtp_sink() as sink:
        yield sink


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
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


MessageFactory = Callable[..., ArticleClassified]


@pytest.fixture
def make_message() -> MessageFactory:
    """An ArticleClassified built from the fixture file, with chosen id, tags and version."""

    def build(
        article_id: str | None = None, *, tags: list[str] | None = None, version: str | None = None
    ) -> ArticleClassified:
        payload = load_fixture("classified_article.json")
        if article_id:
            payload["article"]["article_id"] = article_id
        if tags is not None:
            payload["classification"]["tags"] = tags
            payload["classification"]["scores"] = {tag: 0.8 for tag in tags}
            payload["classification"]["evidence"] = [
                item for item in payload["classification"]["evidence"] if item["topic"] in tags
            ]
        if version:
            payload["classification"]["classifier_version"] = version
        return ArticleClassified.from_payload(payload)

    return build
