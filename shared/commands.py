"""What the services' commands share: a database session that first checks the schema is current,
one way to print rows as JSON lines (``--json``) for scripts, one way to make text from feeds and
files safe to print on a terminal line (:func:`printable`), and URLs shown without their credentials
(:func:`redacted_url`).

A command opens the database with :func:`command_session`; configuration errors, a schema that needs
``rasid db upgrade``, an unreachable database and the service's own errors end the command with their
message instead of a traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from shared.db import session_scope
from shared.errors import ConfigurationError, SchemaNotCurrentError
from shared.settings import RasidSettings, load_settings

CommandT = TypeVar("CommandT", bound=Callable[..., Any])

# C0 and C1 controls (ESC starts terminal escape sequences, U+009B is a one-byte CSI), DEL, the
# bidi embeddings, overrides and isolates (they reorder what follows them, even past the column),
# and the interlinear annotation marks. The marks Arabic needs (RLM, LRM, ALM, ZWJ, ZWNJ) stay.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufff9-\ufffb]")


def printable(text: str) -> str:
    """``text`` as one line that cannot drive a terminal or a mail header: every run of whitespace
    (line breaks included) becomes one space, and control characters and bidi overrides are removed."""
    return " ".join(_UNPRINTABLE.sub("", " ".join(text.split())).split())


def redacted_url(text: str) -> str:
    """``text`` with the password (or a lone token) of a URL's ``user:password@`` replaced by
    ``***``; anything that is not such a URL (an email address) is returned as it is."""
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    if not parts.scheme or "@" not in parts.netloc:
        return text
    userinfo, _, host = parts.netloc.rpartition("@")
    user, colon, _password = userinfo.partition(":")
    shown = f"{user}:***" if colon else "***"
    return urlunsplit(parts._replace(netloc=f"{shown}@{host}"))


@contextmanager
def command_session(
    settings_class: type[RasidSettings], *, errors: tuple[type[Exception], ...] = ()
) -> Iterator[Session]:
    """A session on the database of ``settings_class``, in a transaction that commits when the block
    ends; stops the command unless every installed service's schema is at the head of its migrations.

    ``errors`` are the service's own error classes whose message is meant for the user.
    """
    handled: tuple[type[Exception], ...] = (ConfigurationError, SchemaNotCurrentError, *errors)
    try:
        url = load_settings(settings_class).resolved_database_url
        _check_schema(url)
        with session_scope(url) as session:
            yield session
    except handled as error:
        raise click.ClickException(str(error)) from error


def _check_schema(url: str) -> None:
    # Alembic (and Mako under it) is 17 MB: imported only by a command, not by every worker that
    # imports this module for printable().
    from shared.migrations import require_current_schema

    try:
        require_current_schema(url)
    except OperationalError as error:
        shown = make_url(url).render_as_string(hide_password=True)
        raise click.ClickException(f"cannot open the database {shown}: {error.orig}") from error


def json_option(command: CommandT) -> CommandT:
    """The ``--json`` flag of a command that prints rows (passed as ``as_json``)."""
    flag = click.option("--json", "as_json", is_flag=True, help="One JSON object per line, for scripts.")
    return flag(command)


def fields_of(item: object, names: Iterable[str]) -> dict[str, Any]:
    """The named attributes of ``item`` as a JSON object's fields, in the order named."""
    return {name: getattr(item, name) for name in names}


def echo_json(row: Mapping[str, Any]) -> None:
    """Print one object on one line; Arabic stays readable, timestamps are ISO 8601."""
    click.echo(json.dumps(row, ensure_ascii=False, default=_jsonable))


def echo_json_lines(rows: Iterable[Mapping[str, Any]]) -> None:
    """Print each row as one JSON object on its own line; nothing at all for no rows."""
    for row in rows:
        echo_json(row)


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
