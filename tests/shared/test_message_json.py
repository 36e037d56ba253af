"""The JSON of the messages services send each other: what send_message writes reads back as sent, by
the decoder of every version (Kombu's, for application/json), whatever the text holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kombu import serialization

from shared.celery_app import MESSAGE_SERIALIZER, create_celery_app
from shared.messages import ArticleClassified, ArticleIngested, ArticlesClassified, Classification, content_id
from shared.settings import RasidSettings

TITLE = 'عنوان "مقتبس" \\ مائل'
TEXT = "أعلنت وزارة الدفاع 🚀 سحب القوات\nمن القاعدة\tخلال الأشهر المقبلة."


def classified() -> ArticlesClassified:
    article = ArticleIngested(
        article_id=content_id(TITLE, TEXT),
        title=TITLE,
        text=TEXT,
        source="inbox/a.txt",
        source_kind="file",
        ingested_at=datetime(2026, 11, 30, 8, 0, 0, 123456, tzinfo=UTC),
    )
    classification = Classification(
        tags=("strikes",),
        scores={"strikes": 0.1 + 0.2, "protests": 1e-05, "troop_movements": 0.0},
        classifier_version="v1",
    )
    return ArticlesClassified(items=(ArticleClassified(article=article, classification=classification),))


def body_of(tmp_path: Any, payload: dict[str, Any]) -> Any:
    """The body Celery builds for a task sent with ``payload``."""
    app = create_celery_app("test", RasidSettings(data_dir=tmp_path / "var"))
    return app.amqp.as_task_v2("id-1", "alert.store_classified_batch", kwargs={"payload": payload}).body


def read(content_type: str, encoding: str, data: bytes | str) -> Any:
    return serialization.loads(data, content_type, encoding, accept={"application/json"})


def test_a_message_body_is_utf8_json_read_back_as_sent_by_every_version(tmp_path: Any) -> None:
    message = classified()
    body = body_of(tmp_path, message.to_payload())

    content_type, encoding, data = serialization.dumps(body, serializer=MESSAGE_SERIALIZER)

    assert (content_type, encoding) == ("application/json", "utf-8")
    assert "القاعدة" in bytes(data).decode("utf-8")  # the letters themselves, not ASCII escapes
    # The same structure as the JSON every earlier version wrote for it.
    assert read(content_type, encoding, data) == read(*serialization.dumps(body, serializer="json"))
    (_, kwargs, _) = read(content_type, encoding, data)
    assert ArticlesClassified.from_payload(kwargs["payload"]) == message


def test_text_that_does_not_encode_in_utf8_is_sent_as_ascii_escapes(tmp_path: Any) -> None:
    payload = {"title": "نص \ud800 مكسور"}
    body = body_of(tmp_path, payload)

    content_type, encoding, data = serialization.dumps(body, serializer=MESSAGE_SERIALIZER)

    (_, kwargs, _) = read(content_type, encoding, data)
    assert kwargs["payload"] == payload
