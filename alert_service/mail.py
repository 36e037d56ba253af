"""Alert emails: an RTL HTML part and a plain-text part, sent with smtplib.

The ``Message-ID`` is derived from the alert id, so a retried alert is recognizably the same mail.
The subject carries an article title, which comes from anyone's feed: it is reduced to printable text
with no RFC 2047 encoded word in it, so no title can end the headers, add one or replace the body.
SMTP 4xx replies, refused connections and timeouts are retried; 5xx replies are permanent.
"""

from __future__ import annotations

import base64
import contextlib
import html
import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP
from functools import cache
from pathlib import Path

from alert_service.content import AlertContent
from alert_service.errors import DeliveryError, PermanentDeliveryError, RetryableDeliveryError
from alert_service.settings import AlertSettings
from shared.commands import printable
from shared.net import deadline

# A subject line, not the article: long titles are cut (the body has them whole).
SUBJECT_TITLE_CHARS = 200
# UTF-8 bytes per encoded word: 52 base64 characters, so "Subject: =?utf-8?b?...?=" fits in 78.
_ENCODED_WORD_BYTES = 39


def message_id(content: AlertContent, sender: str) -> str:
    """A Message-ID that is the same on every attempt of one alert."""
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<rasid.alert.{content.alert_id}.{content.article_id[:16]}@{domain}>"


def subject(content: AlertContent) -> str:
    """``[Rasid] strikes, withdrawal: <title>``, safe whatever the title holds."""
    topics = ", ".join(content.matched_topics or tuple(item.topic for item in content.topics))
    return f"[Rasid] {topics}: {subject_text(content.title)}"


def subject_text(title: str) -> str:
    """The title as header text: printable, cut to :data:`SUBJECT_TITLE_CHARS`, and with every
    ``=?`` broken up. Python's header parser decodes an encoded word found in a header's value
    (``=?utf-8?q?=0D=0A...?=``) and its folding writes the decoded CR LF out raw (CVE-2024-6923 and
    its relatives): without ``=?`` there is no encoded word to decode."""
    text = printable(title)
    if len(text) > SUBJECT_TITLE_CHARS:
        text = text[: SUBJECT_TITLE_CHARS - 1].rstrip() + "…"
    return text.replace("=?", "= ?")


def encode_header_text(text: str) -> str:
    """``text`` as RFC 2047 base64 encoded words, one per folded line, each line short enough that
    no policy folds it again. Spaces are encoded inside the words, so none is lost between them."""
    words: list[bytes] = []
    chunk = b""
    for char in text:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > _ENCODED_WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(word).decode('ascii')}?=" for word in words)


def build_email(content: AlertContent, *, sender: str) -> EmailMessage:
    """The alert as a multipart/alternative email in UTF-8."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = content.target
    # Set raw: the policy would parse the value and fold it again, and its folding drops the
    # spaces between encoded words (and, on some patch levels, writes decoded line breaks).
    message.set_raw("Subject", encode_header_text(subject(content)))
    message["Message-ID"] = message_id(content, sender)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Rasid-Alert-Id"] = str(content.alert_id)
    message["X-Rasid-Article-Id"] = content.article_id
    message["X-Rasid-Topics"] = ", ".join(item.topic for item in content.topics)
    message.set_content(plain_text(content), charset="utf-8")
    message.add_alternative(html_text(content), subtype="html", charset="utf-8")
    # Not a random boundary: every attempt of one alert, over SMTP or into the local mailbox, is the
    # same bytes. "=_" cannot occur in a base64 or quoted-printable part.
    message.set_boundary(f"=_rasid.alert.{content.alert_id}.{content.article_id[:16]}")
    return message


def _published(content: AlertContent) -> str:
    return content.published_at.isoformat() if content.published_at else "-"


def plain_text(content: AlertContent) -> str:
    """The plain-text part."""
    lines = [
        printable(content.title),
        "",
        f"المصدر / Source: {content.source}",
        f"الرابط / URL: {content.url or '-'}",
        f"النشر / Published: {_published(content)}",
        "الموضوعات / Topics: " + ", ".join(f"{item.topic} ({item.score:.2f})" for item in content.topics),
        "",
        "الشواهد / Evidence:",
        *(f"- {sentence}" for sentence in content.sentences),
    ]
    if content.also_reported_by:
        lines += ["", f"نشرته أيضا / Also reported by: {printable(', '.join(content.also_reported_by))}"]
    return "\n".join(lines) + "\n"


def html_text(content: AlertContent) -> str:
    """The right-to-left HTML part; every value is escaped."""
    esc = html.escape
    link = esc(content.url or "-")
    if content.url and content.url.startswith(("http://", "https://")):
        link = f'<a href="{esc(content.url, quote=True)}">{esc(content.url)}</a>'
    topics = "".join(f"<li>{esc(item.topic)} ({item.score:.2f})</li>" for item in content.topics)
    sentences = "".join(f"<blockquote>{esc(sentence)}</blockquote>" for sentence in content.sentences)
    if content.also_reported_by:
        sentences += f"\n<p>نشرته أيضا: {esc('، '.join(content.also_reported_by))}</p>"
    return (
        '<!DOCTYPE html>\n<html dir="rtl" lang="ar">\n<head><meta charset="utf-8">'
        f"<title>{esc(content.title)}</title></head>\n<body>\n"
        f"<h1>{esc(content.title)}</h1>\n"
        f"<p>المصدر: {esc(content.source)}<br>الرابط: {link}<br>النشر: {esc(_published(content))}</p>\n"
        f"<h2>الموضوعات</h2><ul>{topics}</ul>\n<h2>الشواهد</h2>{sentences}\n</body>\n</html>\n"
    )


def send_email(content: AlertContent, settings: AlertSettings) -> str:
    """Send the alert email; returns the server's reply, raises a :class:`DeliveryError`.

    ``RASID_SMTP_TIMEOUT`` is a deadline for the whole conversation: smtplib times each read only, so
    a server dripping its replies would hold the send (and the alert's claim) for ever. The deadline
    (:func:`shared.net.deadline`) shuts the socket down when it passes, wherever the conversation is.
    """
    return send_message(build_email(content, sender=settings.smtp_from), settings)


def send_message(message: EmailMessage, settings: AlertSettings) -> str:
    """Send a built email (an alert's or a digest's) as :func:`send_email` describes."""
    if settings.sends_password_in_clear:
        raise PermanentDeliveryError(
            "SMTP: not sending the password without TLS "
            "(RASID_SMTP_STARTTLS, RASID_SMTP_ALLOW_PLAINTEXT_AUTH)"
        )
    client = _Client(timeout=settings.smtp_timeout)
    limit = deadline(settings.smtp_timeout)
    limit.watch(lambda: client.sock)
    try:
        with limit:
            _converse(client, message, settings)
    except smtplib.SMTPRecipientsRefused as error:
        code, reply = next(iter(error.recipients.values()))
        raise smtp_failure(code, reply) from error
    except smtplib.SMTPResponseException as error:
        raise smtp_failure(error.smtp_code, error.smtp_error) from error
    except smtplib.SMTPNotSupportedError as error:
        raise PermanentDeliveryError(f"SMTP: {error}") from error
    except (smtplib.SMTPException, OSError) as error:
        if limit.passed:
            detail = f"SMTP: no complete exchange within the {settings.smtp_timeout:g}s deadline"
            raise RetryableDeliveryError(detail) from error
        # Disconnections, refused connections, timeouts, certificates: the server may be fixed later.
        raise RetryableDeliveryError(f"SMTP: {type(error).__name__}: {error}") from error
    finally:
        client.close()
    return "SMTP accepted"


class _Client(smtplib.SMTP):
    """smtplib's client, built unconnected so that the deadline guards the greeting too."""

    def open(self, host: str, port: int) -> None:
        """Connect and read the greeting; STARTTLS verifies the certificate against ``host``."""
        # smtplib only learns the name to verify when given it at construction, which also connects.
        self._host = host
        self.connect(host, port)


def _converse(client: _Client, message: EmailMessage, settings: AlertSettings) -> None:
    client.open(settings.smtp_host, settings.smtp_port)
    if settings.smtp_starttls:
        client.starttls(context=tls_context(settings.smtp_verify, settings.smtp_ca_file))
    if settings.smtp_username and settings.smtp_password:
        client.login(settings.smtp_username, settings.smtp_password.get_secret_value())
    client.send_message(message)
    # The server has the mail: a failed goodbye must not make the alert be sent again.
    with contextlib.suppress(smtplib.SMTPException, OSError):
        client.quit()


@cache
def tls_context(verify: bool, ca_file: Path | None) -> ssl.SSLContext:
    """The TLS settings of STARTTLS: the server's certificate and name verified against the system's
    CAs (or ``ca_file``), unless verification is turned off."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def smtp_failure(code: int, reply: bytes | str) -> DeliveryError:
    """A 4xx reply is temporary, anything else permanent."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    detail = f"SMTP {code} {text}".strip()
    if 400 <= code < 500:
        return RetryableDeliveryError(detail)
    return PermanentDeliveryError(detail)
