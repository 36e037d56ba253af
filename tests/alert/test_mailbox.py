"""The local mailbox: with no SMTP host, an email alert is written once as a complete ``.eml`` file,
the very bytes the SMTP path sends, readable by its owner only; ``rasid mail`` reads it back."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from alert_service.content import load_content
from alert_service.delivery import deliver_alert
from alert_service.mailbox import file_email, find_mail, list_mail, mail_path
from alert_service.mailbox_cli import mail_group
from alert_service.settings import AlertSettings
from shared.db import session_scope
from tests.alert.helpers import NOW, MessageFactory, add_subscription, alert, attempts, store
from tests.peers import SmtpSink


@pytest.fixture
def mailbox_settings(settings: AlertSettings, tmp_path: Path) -> AlertSettings:
    """The same settings with no SMTP host: email goes to the mailbox under a data folder."""
    return settings.model_copy(update={"smtp_host": "", "data_dir": tmp_path / "data"})


def _email_alert(url: str, make_message: MessageFactory) -> int:
    add_subscription(url, "email", "analyst@example.org", ["strikes"])
    [alert_id] = store(url, make_message())
    return alert_id


def test_the_mailbox_holds_the_bytes_the_smtp_path_sends(
    database_url: str,
    settings: AlertSettings,
    mailbox_settings: AlertSettings,
    smtp_server: SmtpSink,
    make_message: MessageFactory,
) -> None:
    alert_id = _email_alert(database_url, make_message)
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW) == "delivered"
    with session_scope(database_url) as session:
        content = load_content(session, alert_id)
    path = file_email(content, mailbox_settings)
    [sent] = smtp_server.received()
    assert sent.raw and path.read_bytes() == sent.raw
    assert path == mailbox_settings.data_dir.resolve() / "mail" / f"alert-{alert_id}.eml"


def test_an_email_alert_without_smtp_host_is_delivered_to_the_mailbox(
    database_url: str, mailbox_settings: AlertSettings, smtp_server: SmtpSink, make_message: MessageFactory
) -> None:
    alert_id = _email_alert(database_url, make_message)
    assert deliver_alert(database_url, alert_id, settings=mailbox_settings, clock=lambda: NOW) == "delivered"
    path = mail_path(mailbox_settings.mailbox_folder, alert_id)
    assert alert(database_url, alert_id).status == "delivered"
    assert [attempt.detail for attempt in attempts(database_url, alert_id)] == [f"mailbox: {path}"]
    assert not smtp_server.received(), "no SMTP conversation"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    mail = find_mail(mailbox_settings.mailbox_folder, str(alert_id))
    assert mail.subject.startswith("[Rasid] strikes: غارات جوية")
    assert mail.to == "analyst@example.org"
    assert "strikes (0.93)" in (mail.part("plain") or "")
    assert '<html dir="rtl" lang="ar">' in (mail.part("html") or "")


def test_a_redelivered_alert_writes_no_second_file(
    database_url: str, mailbox_settings: AlertSettings, make_message: MessageFactory
) -> None:
    """A worker that dies after writing the file and before recording it sends the alert again: the
    file is there, and is neither written again nor doubled."""
    alert_id = _email_alert(database_url, make_message)
    with session_scope(database_url) as session:
        content = load_content(session, alert_id)
    first = file_email(content, mailbox_settings)
    first.write_bytes(first.read_bytes() + b"marker")
    assert deliver_alert(database_url, alert_id, settings=mailbox_settings, clock=lambda: NOW) == "delivered"
    assert first.read_bytes().endswith(b"marker"), "the existing file is not replaced"
    assert [path.name for path in first.parent.iterdir()] == [first.name], "no second or partial file"


def test_a_mailbox_that_cannot_be_written_is_retried(
    database_url: str, mailbox_settings: AlertSettings, make_message: MessageFactory, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the mailbox folder should be")
    blocked = mailbox_settings.model_copy(update={"mail_dir": blocker / "mail"})
    alert_id = _email_alert(database_url, make_message)
    assert deliver_alert(database_url, alert_id, settings=blocked, clock=lambda: NOW) == "pending"
    assert "mailbox: cannot write" in (alert(database_url, alert_id).last_error or "")


def test_rasid_mail_lists_and_shows_the_messages(
    database_url: str, mailbox_settings: AlertSettings, make_message: MessageFactory
) -> None:
    alert_id = _email_alert(database_url, make_message)
    deliver_alert(database_url, alert_id, settings=mailbox_settings, clock=lambda: NOW)
    env = {"RASID_DATA_DIR": str(mailbox_settings.data_dir)}
    runner = CliRunner()
    listed = runner.invoke(mail_group, ["list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    [row] = [json.loads(line) for line in listed.output.splitlines()]
    assert row["id"] == alert_id and row["to"] == "analyst@example.org"
    assert row["path"] == str(mail_path(mailbox_settings.mailbox_folder, alert_id))
    table = runner.invoke(mail_group, ["list"], env=env)
    assert f"{alert_id:>5}" in table.output and "غارات جوية" in table.output
    shown = runner.invoke(mail_group, ["show", str(alert_id)], env=env)
    assert shown.exit_code == 0, shown.output
    assert "Subject: [Rasid] strikes: غارات جوية" in shown.output
    assert "strikes (0.93)" in shown.output
    assert f"message file: {row['path']}" in shown.output
    html = runner.invoke(mail_group, ["show", str(alert_id), "--html"], env=env)
    assert html.output.startswith("<!DOCTYPE html>") and 'dir="rtl"' in html.output
    missing = runner.invoke(mail_group, ["show", "999999"], env=env)
    assert missing.exit_code == 1 and "no message 999999" in missing.output
    assert list_mail(mailbox_settings.data_dir / "nowhere") == []


def test_rasid_mail_lists_and_shows_digests_beside_alerts(
    database_url: str, mailbox_settings: AlertSettings, make_message: MessageFactory
) -> None:
    alert_id = _email_alert(database_url, make_message)
    deliver_alert(database_url, alert_id, settings=mailbox_settings, clock=lambda: NOW)
    folder = mailbox_settings.mailbox_folder
    digest = mail_path(folder, 3, "digest")
    digest.write_bytes(mail_path(folder, alert_id).read_bytes())
    (folder / "notes.txt").write_text("not a message", encoding="utf-8")
    env = {"RASID_DATA_DIR": str(mailbox_settings.data_dir)}
    runner = CliRunner()
    listed = runner.invoke(mail_group, ["list", "--json"], env=env)
    rows = {row["name"]: row for row in map(json.loads, listed.output.splitlines())}
    assert rows.keys() == {str(alert_id), "digest-3"}
    assert rows["digest-3"]["kind"] == "digest" and rows["digest-3"]["path"] == str(digest)
    shown = runner.invoke(mail_group, ["show", "digest-3"], env=env)
    assert shown.exit_code == 0 and f"message file: {digest}" in shown.output
    assert "rasid mail show digest-3 --html > digest-3.html" in shown.output
    assert find_mail(folder, "digest-3").kind == "digest"
    for name in ("digest-x", "../alert-1", "notes"):
        refused = runner.invoke(mail_group, ["show", name], env=env)
        assert refused.exit_code == 1 and "names no message" in refused.output, name
