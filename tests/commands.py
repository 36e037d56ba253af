"""Running ``rasid`` commands in tests: the real group (service commands come from the entry points)
through click's runner against one database, and the objects a list command prints with ``--json``."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner, Result

from shared.cli import cli


def run(url: str, *args: str) -> Result:
    """``rasid ARGS`` with ``RASID_DATABASE_URL=url``."""
    return CliRunner().invoke(cli, list(args), env={"RASID_DATABASE_URL": url})


def json_rows(url: str, *args: str) -> list[dict[str, Any]]:
    """What ``rasid ARGS --json`` prints: one object a line; the command must succeed."""
    result = run(url, *args, "--json")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]
