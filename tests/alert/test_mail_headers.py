"""No article title can change an alert email's headers or body: encoded words, line breaks, other
control characters and 10 KB titles, checked on the bytes the mail is sent as and on what a real SMTP
server receives."""

from __future__ import annotations

import base64
import email
import email.policy
from email.message import EmailMessage

import pytest

from alert_service.content import AlertContent, TopicScore, load_content
from alert_service.delivery import deliver_alert
from alert_service.mail import build_email, plain_text
from alert_service.settings import AlertSettings
from shared.db import session_scope
from tests.alert.helpers import NOW, MessageFactory, add_subscription, store
from tests.peers import SmtpSink


def _encoded(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


HOSTILE_TITLES = {
    "q-encoded CRLF and Bcc": "=?utf-8?q?hi=0D=0ABcc:_victim@example.net=0D=0A=0D=0Aphishing?=",
    "q-encoded body replacement": "breaking =?utf-8?q?x=0D=0A=0D=0AClick_here?= now",
    "b-encoded headers": _encoded("x\r\nBcc: victim@example.net\r\nX-Evil: 1\r\n\r\nbody"),
    "encoded word split by a NUL": "=\x00?utf-8?q?a=0D=0ABcc:_v@example.net?=",
    "raw CRLF and Bcc": "title\r\nBcc: victim@example.net\r\n\r\nbody",
    "bare LF and CR": "a\nTo: victim@example.net\rCc: other@example.net",
    "terminal and other controls": "a\x1b[31mred\x1b[0m\x07\x00\x0b\x0c\x1c\x85\x9b2J\u2028\u2029b",
    "bidi override": "\u202eمقلوب\u202c and \u2066isolate\u2069",
    "10 KB run of one letter": "a" * 10_000,
    "10 KB of encoded words": "=?utf-8?q?=0D=0ABcc:_v@example.net?=" * 300,
    "10 KB of Arabic words": "غارات جوية " * 1000,
    "10 KB of Arabic without spaces": "غارات" * 2000,
    "encoded word after a long run": "x" * 5000 + " =?utf-8?q?=0D=0ABcc:_v@example.net=0D=0A=0D=0Abody?=",
}
EXPECTED_HEADERS = [
    "From",
    "To",
    "Subject",
    "Message-ID",
    "Auto-Submitted",
    "X-Rasid-Alert-Id",
    "X-Rasid-Article-Id",
    "X-Rasid-Topics",
    "MIME-Version",
    "Content-Type",
]


def _content(title: str) -> AlertContent:
    return AlertContent(
        alert_id=7,
        subscription_id=3,
        channel="email",
        target="analyst@example.org",
        secret=None,
        subscribed_topics=("strikes",),
        article_id="a" * 32,
        title=title,
        source="feed: x",
        url=None,
        published_at=None,
        topics=(TopicScore("strikes", 0.9),),
        evidence=({"topic": "strikes", "sentence": "شنت طائرات حربية غارات جوية."},),
    )


@pytest.mark.parametrize("title", HOSTILE_TITLES.values(), ids=HOSTILE_TITLES.keys())
def test_no_title_adds_a_header_or_replaces_the_body(title: str) -> None:
    built = build_email(_content(title), sender="rasid@example.org")
    raw = built.as_bytes()
    head = raw.partition(b"\r\n\r\n")[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed.keys() == EXPECTED_HEADERS
    assert parsed["Subject"] == built["Subject"]
    subject = str(parsed["Subject"])
    assert subject.startswith("[Rasid] strikes: ")
    assert "=?" not in subject
    assert all(char.isprintable() for char in subject), repr(subject)
    assert len(subject) < 300
    text, html = parsed.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content().replace("\r\n", "\n") == plain_text(_content(title))


def test_a_hostile_title_reaches_a_real_smtp_server_as_one_subject(
    database_url: str, settings: AlertSettings, smtp_server: SmtpSink, make_message: MessageFactory
) -> None:
    add_subscription(database_url, "email", "analyst@example.org", ["strikes"])
    title = HOSTILE_TITLES["q-encoded CRLF and Bcc"] + " " + HOSTILE_TITLES["raw CRLF and Bcc"]
    message = make_message()
    hostile = message.model_copy(update={"article": message.article.model_copy(update={"title": title})})
    [alert_id] = store(database_url, hostile)
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW) == "delivered"
    [mail] = smtp_server.received()
    assert mail.recipients == ["analyst@example.org"]
    assert mail.message.keys() == EXPECTED_HEADERS
    with session_scope(database_url) as session:
        built = build_email(load_content(session, alert_id), sender=settings.smtp_from)
    assert mail.message["Subject"] == built["Subject"]
    assert "=?" not in str(mail.message["Subject"])
    text = mail.message.get_body(("plain",))
    assert text is not None
    assert "شنت طائرات حربية" in text.get_content()
