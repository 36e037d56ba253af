"""Alert emails through a real SMTP server (aiosmtpd): UTF-8 subject, text and RTL HTML parts,
4xx retried, 5xx permanent."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest

from alert_service.content import load_content
from alert_service.delivery import deliver_alert
from alert_service.mail import build_email
from alert_service.settings import AlertSettings
from shared.db import session_scope
from tests.alert.helpers import (
    NOW,
    MessageFactory,
    add_subscription,
    alert,
    at,
    attempts,
    load_fixture,
    store,
)
from tests.peers import SmtpSink, free_port

SMTP_CASES = load_fixture("smtp_replies.json")


def _email_alert(url: str, make_message: MessageFactory, topics: list[str] | None = None) -> int:
    add_subscription(url, "email", "analyst@example.org", topics or ["strikes"])
    [alert_id] = store(url, make_message())
    return alert_id


def _received(smtp_server: SmtpSink) -> EmailMessage:
    [mail] = smtp_server.received()
    return mail.message


def test_email_arrives_with_utf8_subject_text_and_rtl_html(
    database_url: str, settings: AlertSettings, smtp_server: SmtpSink, make_message: MessageFactory
) -> None:
    alert_id = _email_alert(database_url, make_message)
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW) == "delivered"
    message = _received(smtp_server)
    assert smtp_server.received()[0].recipients == ["analyst@example.org"]
    assert message["subject"] == "[Rasid] strikes: غارات جوية على مواقع قرب الحدود <عاجل>"
    assert message["x-rasid-topics"] == "strikes, withdrawal"
    assert message["from"] == "rasid@localhost"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    plain, rich = text.get_content(), html.get_content()
    assert "شنت طائرات حربية غارات جوية على مواقع قرب الحدود فجر اليوم." in plain
    assert "strikes (0.93)" in plain
    assert '<html dir="rtl" lang="ar">' in rich
    assert "&lt;عاجل&gt;" in rich
    assert "<عاجل>" not in rich
    assert 'href="https://news.example.org/ar/2026/strikes?id=7&amp;lang=ar"' in rich


def test_message_id_is_the_same_on_every_attempt(database_url: str, make_message: MessageFactory) -> None:
    alert_id = _email_alert(database_url, make_message)
    with session_scope(database_url) as session:
        content = load_content(session, alert_id)
    first, second = (
        build_email(content, sender="rasid@example.org"),
        build_email(content, sender="rasid@example.org"),
    )
    assert first["message-id"] == second["message-id"]
    assert first["message-id"].startswith(f"<rasid.alert.{alert_id}.")
    assert first["message-id"].endswith("@example.org>")


@pytest.mark.parametrize("case", SMTP_CASES, ids=lambda case: case["reply"][:3])
def test_smtp_replies_decide_retry_or_failure(
    database_url: str,
    settings: AlertSettings,
    smtp_server: SmtpSink,
    make_message: MessageFactory,
    case: dict[str, Any],
) -> None:
    replies = smtp_server.rcpt_replies if case["stage"] == "rcpt" else smtp_server.data_replies
    replies.append(case["reply"])
    alert_id = _email_alert(database_url, make_message)
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW) == case["status"]
    record = alert(database_url, alert_id)
    assert record.attempts == case["attempts"]
    assert (record.last_error or "").startswith(f"SMTP {case['reply'][:3]}")
    assert smtp_server.received() == []


def test_451_then_accepted_delivers_one_mail_on_the_second_attempt(
    database_url: str, settings: AlertSettings, smtp_server: SmtpSink, make_message: MessageFactory
) -> None:
    smtp_server.data_replies.append("451 4.3.0 Try again later")
    alert_id = _email_alert(database_url, make_message)
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW) == "pending"
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: at(2)) == "delivered"
    assert len(smtp_server.received()) == 1
    assert [row.outcome for row in attempts(database_url, alert_id)] == ["retry", "delivered"]


def test_550_is_not_retried(
    database_url: str, settings: AlertSettings, smtp_server: SmtpSink, make_message: MessageFactory
) -> None:
    smtp_server.rcpt_replies.append("550 5.1.1 No such user")
    alert_id = _email_alert(database_url, make_message)
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW) == "failed"
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: at(2)) is None
    assert smtp_server.received() == []


def test_unreachable_smtp_server_is_retried(
    database_url: str, settings: AlertSettings, make_message: MessageFactory
) -> None:
    alert_id = _email_alert(database_url, make_message)
    down = settings.model_copy(update={"smtp_port": free_port()})
    assert deliver_alert(database_url, alert_id, settings=down, clock=lambda: NOW) == "pending"
    assert "ConnectionRefused" in (alert(database_url, alert_id).last_error or "")
