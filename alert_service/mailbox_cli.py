"""``rasid mail``: read the local mailbox, where email alerts go when no SMTP host is set
(:mod:`alert_service.mailbox`).

``rasid mail list`` shows one line per message, alerts' and digests' (``--json``: one object per
line); ``rasid mail show ID`` (an alert id, or ``digest-N``) prints the headers and the plain-text
part and says where its ``.eml`` file is; ``--html`` prints the right-to-left HTML part instead, to
open in a browser.
"""

from __future__ import annotations

from typing import Any

import click

from alert_service.errors import AlertError
from alert_service.mailbox import StoredMail, find_mail, list_mail
from alert_service.settings import AlertSettings
from shared.commands import echo_json_lines, json_option, printable
from shared.errors import ConfigurationError
from shared.settings import load_settings

SHOWN_HEADERS = (
    "From",
    "To",
    "Subject",
    "Message-ID",
    "X-Rasid-Alert-Id",
    "X-Rasid-Article-Id",
    "X-Rasid-Topics",
)


def _settings() -> AlertSettings:
    try:
        return load_settings(AlertSettings)
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from error


def mail_json(mail: StoredMail) -> dict[str, Any]:
    """A message as ``rasid mail list --json`` prints it."""
    return {
        "id": mail.number,
        "kind": mail.kind,
        "name": mail.name,
        "to": mail.to,
        "subject": mail.subject,
        "message_id": mail.message_id,
        "written_at": mail.written_at,
        "path": str(mail.path),
    }


@click.group("mail")
def mail_group() -> None:
    """Read the local mailbox (email alerts, when RASID_SMTP_HOST is empty)."""


@mail_group.command("list")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@json_option
def mail_list(limit: int, as_json: bool) -> None:
    """Messages in the mailbox, the newest first: alert id (or digest-N), when written, recipient,
    subject."""
    settings = _settings()
    rows = list_mail(settings.mailbox_folder, limit=limit)
    if as_json:
        echo_json_lines(mail_json(row) for row in rows)
        return
    if not rows:
        click.echo(f"no mail in {settings.mailbox_folder}")
        return
    click.echo(f"{'ID':>9}  {'WRITTEN':<16}  {'TO':<28} SUBJECT")
    for row in rows:
        when = row.written_at.strftime("%Y-%m-%d %H:%M")
        click.echo(f"{row.name:>9}  {when:<16}  {printable(row.to):<28} {printable(row.subject)}")


@mail_group.command("show")
@click.argument("name")
@click.option("--html", "as_html", is_flag=True, help="Print the HTML part, e.g. to open in a browser.")
def mail_show(name: str, as_html: bool) -> None:
    """The email NAME (an alert id, or digest-N for a digest): its headers and text part, and where
    its .eml file is."""
    try:
        mail = find_mail(_settings().mailbox_folder, name)
    except AlertError as error:
        raise click.ClickException(str(error)) from error
    if as_html:
        click.echo(mail.part("html") or "", nl=False)
        return
    for header in SHOWN_HEADERS:
        for value in mail.message.get_all(header, []):
            click.echo(f"{header}: {printable(str(value))}")
    click.echo()
    # Line by line: the text quotes articles, and no line of it may drive the terminal.
    for line in (mail.part("plain") or "(no text part)").splitlines():
        click.echo(printable(line))
    click.echo()
    click.echo(f"message file: {mail.path}")
    click.echo(f"right-to-left HTML part: rasid mail show {mail.name} --html > {mail.path.stem}.html")
