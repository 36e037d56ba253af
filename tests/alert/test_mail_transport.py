"""How alert emails reach the SMTP server: STARTTLS verifies the server's certificate (a self-signed
server is refused unless its certificate is the configured CA file), no password leaves in clear text
unless allowed, and one deadline bounds the whole conversation (a server that drips its replies is
cut off)."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pydantic import SecretStr, ValidationError

from alert_service.delivery import deliver_alert
from alert_service.settings import AlertSettings
from tests.alert.helpers import NOW, MessageFactory, add_subscription, alert, store
from tests.peers import SmtpSink, free_port


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return Certificate(cert, key)


@dataclass
class Credentials:
    """What an SMTP server's AUTH was told, and whether the connection was encrypted then."""

    seen: list[tuple[str, str, bool]] = field(default_factory=list)

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        encrypted = session.ssl is not None
        self.seen.append((auth_data.login.decode(), auth_data.password.decode(), encrypted))
        return AuthResult(success=True)


@contextmanager
def smtp_server(*, certificate: Certificate | None, credentials: Credentials) -> Iterator[SmtpSink]:
    """An SMTP server with AUTH, and with STARTTLS when given a certificate."""
    sink = SmtpSink()
    options: dict[str, Any] = {"authenticator": credentials, "auth_require_tls": False}
    if certificate:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificate.cert, certificate.key)
        options.update(tls_context=context, require_starttls=True)
    controller = Controller(sink, hostname=sink.host, port=sink.port, **options)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


def _settings(base: AlertSettings, sink: SmtpSink, **values: Any) -> AlertSettings:
    values = {"smtp_port": sink.port, "smtp_username": "rasid", "smtp_password": "s3cret", **values}
    return AlertSettings(**{**base.model_dump(), **values})


def _email_alert(url: str, make_message: MessageFactory) -> int:
    add_subscription(url, "email", "analyst@example.org", ["strikes"])
    [alert_id] = store(url, make_message())
    return alert_id


def test_a_self_signed_server_is_refused_by_default(
    database_url: str, settings: AlertSettings, make_message: MessageFactory, self_signed: Certificate
) -> None:
    credentials = Credentials()
    with smtp_server(certificate=self_signed, credentials=credentials) as sink:
        tls = _settings(settings, sink, smtp_starttls=True)
        alert_id = _email_alert(database_url, make_message)
        assert deliver_alert(database_url, alert_id, settings=tls, clock=lambda: NOW) == "pending"
        assert sink.received() == []
    assert credentials.seen == []
    assert "CERTIFICATE_VERIFY_FAILED" in (alert(database_url, alert_id).last_error or "")


def test_the_servers_certificate_as_ca_file_is_accepted(
    database_url: str, settings: AlertSettings, make_message: MessageFactory, self_signed: Certificate
) -> None:
    credentials = Credentials()
    with smtp_server(certificate=self_signed, credentials=credentials) as sink:
        tls = _settings(settings, sink, smtp_starttls=True, smtp_ca_file=self_signed.cert)
        alert_id = _email_alert(database_url, make_message)
        assert deliver_alert(database_url, alert_id, settings=tls, clock=lambda: NOW) == "delivered"
        assert len(sink.received()) == 1
    assert credentials.seen == [("rasid", "s3cret", True)]


def test_verification_can_be_turned_off_explicitly(
    database_url: str, settings: AlertSettings, make_message: MessageFactory, self_signed: Certificate
) -> None:
    credentials = Credentials()
    with smtp_server(certificate=self_signed, credentials=credentials) as sink:
        tls = _settings(settings, sink, smtp_starttls=True, smtp_verify=False)
        alert_id = _email_alert(database_url, make_message)
        assert deliver_alert(database_url, alert_id, settings=tls, clock=lambda: NOW) == "delivered"
    assert credentials.seen == [("rasid", "s3cret", True)]


def test_a_password_without_tls_stops_the_settings(settings: AlertSettings) -> None:
    values = {**settings.model_dump(), "smtp_username": "rasid", "smtp_password": SecretStr("s3cret")}
    with pytest.raises(ValidationError, match="RASID_SMTP_ALLOW_PLAINTEXT_AUTH"):
        AlertSettings(**values)


def test_a_password_without_tls_is_not_sent_even_past_the_settings_check(
    database_url: str, settings: AlertSettings, make_message: MessageFactory
) -> None:
    credentials = Credentials()
    with smtp_server(certificate=None, credentials=credentials) as sink:
        clear = _settings(settings, sink, smtp_allow_plaintext_auth=True).model_copy(
            update={"smtp_allow_plaintext_auth": False}
        )
        alert_id = _email_alert(database_url, make_message)
        assert deliver_alert(database_url, alert_id, settings=clear, clock=lambda: NOW) == "failed"
        assert sink.received() == []
    assert credentials.seen == []
    assert "RASID_SMTP_STARTTLS" in (alert(database_url, alert_id).last_error or "")


def test_plaintext_auth_when_allowed(
    database_url: str, settings: AlertSettings, make_message: MessageFactory
) -> None:
    credentials = Credentials()
    with smtp_server(certificate=None, credentials=credentials) as sink:
        clear = _settings(settings, sink, smtp_allow_plaintext_auth=True)
        alert_id = _email_alert(database_url, make_message)
        assert deliver_alert(database_url, alert_id, settings=clear, clock=lambda: NOW) == "delivered"
    assert credentials.seen == [("rasid", "s3cret", False)]


@contextmanager
def dripping_smtp_server(*, pause: float) -> Iterator[int]:
    """A server that greets, then answers EHLO one byte every ``pause`` seconds, without end."""
    listener = socket.create_server(("127.0.0.1", free_port()))
    stop = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.sendall(b"220 drip.example ESMTP\r\n")
            connection.recv(1024)
            while not stop.wait(pause):
                try:
                    connection.sendall(b"2")
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()


def test_a_dripping_server_is_cut_off_at_the_deadline(
    database_url: str, settings: AlertSettings, make_message: MessageFactory
) -> None:
    alert_id = _email_alert(database_url, make_message)
    with dripping_smtp_server(pause=0.2) as port:
        slow = settings.model_copy(update={"smtp_port": port, "smtp_timeout": 1.0})
        outcome: list[str | None] = []
        worker = threading.Thread(
            target=lambda: outcome.append(
                deliver_alert(database_url, alert_id, settings=slow, clock=lambda: NOW)
            ),
            daemon=True,
        )
        started = time.monotonic()
        worker.start()
        worker.join(30)
        assert not worker.is_alive(), "the send outlived its deadline"
    assert outcome == ["pending"]
    assert time.monotonic() - started < 30
    assert "deadline" in (alert(database_url, alert_id).last_error or "")
