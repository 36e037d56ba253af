"""The local mailbox: email alerts written as ``.eml`` files when no SMTP host is set.

A new user's embedded stack has no mail server; rather than fail every email alert against one, each
alert's email is written to the mailbox folder (``var/mail/`` by default), one complete message per
file: the very bytes the SMTP path hands the server (:func:`alert_service.mail.build_email`,
flattened as ``smtplib`` flattens it). A file is named after its alert (``alert-42.eml``), written
under a temporary name and linked into place, which never replaces an existing file: a redelivered
alert finds its file there and writes no second one. Files are readable by their owner only, like
the rest of the data. ``rasid mail list`` and ``rasid mail show`` read them back.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import io
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import getaddresses
from pathlib import Path
from typing import Literal

from alert_service.content import AlertContent
from alert_service.errors import AlertError, RetryableDeliveryError
from alert_service.mail import build_email, send_email
from alert_service.settings import AlertSettings
from shared.db import make_private_folder

# A message's file is named after what it sends: ``alert-42.eml`` or ``digest-7.eml``.
MAIL_NAME = re.compile(r"(alert|digest)-(\d+)\.eml")
MailKind = Literal["alert", "digest"]


class MailNotFoundError(AlertError):
    """No message of that alert in the mailbox."""


def deliver_email(content: AlertContent, settings: AlertSettings) -> str:
    """The email channel: through the SMTP server when ``RASID_SMTP_HOST`` is set, else into the
    local mailbox. Returns what is recorded as the delivery's detail."""
    if settings.smtp_host:
        return send_email(content, settings)
    return f"mailbox: {file_email(content, settings)}"


def mail_path(folder: Path, number: int, kind: MailKind = "alert") -> Path:
    """The mailbox file of one alert (or digest)."""
    return folder / f"{kind}-{number}.eml"


def message_bytes(message: EmailMessage) -> bytes:
    """``message`` as ``smtplib.SMTP.send_message`` flattens it for the server: CRLF line ends, and
    the UTF-8 policy only when an address is not ASCII (SMTPUTF8)."""
    addresses = getaddresses([str(value) for key in ("From", "To") for value in message.get_all(key, [])])
    international = any(not address.isascii() for _name, address in addresses)
    policy = message.policy
    if international and isinstance(policy, EmailPolicy):
        policy = policy.clone(utf8=True)
    with io.BytesIO() as buffer:
        BytesGenerator(buffer, policy=policy).flatten(message, linesep="\r\n")
        return buffer.getvalue()


def file_email(content: AlertContent, settings: AlertSettings) -> Path:
    """Write the alert's email into the mailbox once; returns its file. A full or read-only disk is
    retried like an SMTP server that is down."""
    final = mail_path(settings.mailbox_folder, content.alert_id)
    return file_message(final, lambda: build_email(content, sender=settings.smtp_from))


def file_message(final: Path, build: Callable[[], EmailMessage]) -> Path:
    """Write the email ``build`` makes at ``final`` (an alert's or a digest's) once."""
    try:
        make_private_folder(final.parent)
        if not final.exists():
            _write_once(final, message_bytes(build()))
    except OSError as error:
        raise RetryableDeliveryError(f"mailbox: cannot write {final}: {error.strerror or error}") from error
    return final


def _write_once(final: Path, data: bytes) -> None:
    """``data`` at ``final`` whole or not at all, unless ``final`` already exists."""
    partial = final.with_name(f".{final.name}.{uuid.uuid4().hex}.part")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with open(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        # link(), not rename(): it fails on an existing name, so a second writer changes nothing.
        with contextlib.suppress(FileExistsError):
            os.link(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    directory = os.open(final.parent, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


@dataclass(frozen=True)
class StoredMail:
    """One message in the mailbox: an alert's or a digest's."""

    kind: MailKind
    number: int
    path: Path
    written_at: datetime
    message: EmailMessage

    @property
    def name(self) -> str:
        """How ``rasid mail`` names it: the alert's id, or ``digest-N``."""
        return str(self.number) if self.kind == "alert" else f"digest-{self.number}"

    @property
    def to(self) -> str:
        return str(self.message.get("To", ""))

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def message_id(self) -> str:
        return str(self.message.get("Message-ID", ""))

    def part(self, subtype: str) -> str | None:
        """The text of the message's ``text/<subtype>`` part, if it has one."""
        body = self.message.get_body(preferencelist=(subtype,))
        return None if body is None else str(body.get_content())


def read_mail(path: Path) -> StoredMail:
    """The message in the mailbox file ``path`` (named as :data:`MAIL_NAME` says)."""
    match = MAIL_NAME.fullmatch(path.name)
    if match is None:
        raise MailNotFoundError(f"{path.name} is not a message of the mailbox")
    data = path.read_bytes()
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    written_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    kind: MailKind = "alert" if match.group(1) == "alert" else "digest"
    number = int(match.group(2))
    return StoredMail(kind=kind, number=number, path=path, written_at=written_at, message=message)


def list_mail(folder: Path, *, limit: int | None = None) -> list[StoredMail]:
    """The mailbox's messages, the newest first."""
    if not folder.is_dir():
        return []
    found = sorted(
        (path for path in folder.iterdir() if MAIL_NAME.fullmatch(path.name)),
        key=lambda path: (path.stat().st_mtime, path.name),
        reverse=True,
    )
    return [read_mail(path) for path in found[:limit]]


def find_mail(folder: Path, name: str) -> StoredMail:
    """The message named ``name`` (an alert's id, or ``digest-N``); :class:`MailNotFoundError` when
    the mailbox has none."""
    if name.isdigit():
        path = mail_path(folder, int(name))
    elif MAIL_NAME.fullmatch(f"{name}.eml"):
        path = folder / f"{name}.eml"
    else:
        raise MailNotFoundError(f"{name!r} names no message: give an alert id or digest-N")
    if not path.is_file():
        raise MailNotFoundError(f"no message {name} in {folder}")
    return read_mail(path)
