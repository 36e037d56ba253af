"""Every command that opens the database first checks that each installed service's schema is at the
head of its migration scripts, and says ``run `rasid db upgrade``` when one is missing or behind."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from shared.db import get_engine
from shared.migrations import migration_locations, schema_status, upgrade_all, version_table
from tests.commands import run

# One command of each service that keeps tables: both go through the same check.
COMMANDS = [["feeds", "list"], ["alerts", "list"]]


def older_revisions() -> list[tuple[str, str, str]]:
    """(service, head, the revision before it) for each service with more than one migration."""
    found = []
    for service, location in migration_locations().items():
        script = ScriptDirectory(location)
        for head in script.get_heads():
            down = script.get_revision(head).down_revision
            if isinstance(down, str):
                found.append((service, head, down))
    return found


def stamp(url: str, service: str, revision: str) -> None:
    """Record ``revision`` as the service's version, as an older release of Rasid would have left it."""
    with get_engine(url).begin() as connection:
        connection.execute(text(f"UPDATE {version_table(service)} SET version_num = :rev"), {"rev": revision})


@pytest.mark.parametrize("command", COMMANDS)
def test_an_empty_database_names_every_service_and_the_fix(
    empty_database_url: str, command: list[str]
) -> None:
    result = run(empty_database_url, *command)
    assert result.exit_code == 1
    missing = ", ".join(f"{service}: missing" for service in migration_locations())
    assert f"the database schema is not current ({missing}): run `rasid db upgrade`" in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_after_upgrade_the_commands_work(empty_database_url: str, command: list[str]) -> None:
    assert run(empty_database_url, *command).exit_code == 1
    upgrade_all(empty_database_url)
    assert all(state.is_current for state in schema_status(empty_database_url))
    result = run(empty_database_url, *command, "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


# Each service with two migrations or more, its database left one revision behind.
@pytest.mark.parametrize(("service", "head", "older"), older_revisions())
def test_a_schema_behind_its_scripts_is_named_with_both_revisions(
    database_url: str, service: str, head: str, older: str
) -> None:
    stamp(database_url, service, older)
    for command in COMMANDS:
        result = run(database_url, *command)
        assert result.exit_code == 1
        assert f"not current ({service}: {older} < {head}): run `rasid db upgrade`" in result.output


def test_a_revision_the_scripts_do_not_know_is_named(database_url: str) -> None:
    stamp(database_url, "ingest", "9999")
    [state] = [state for state in schema_status(database_url) if state.service == "ingest"]
    assert not state.is_current
    assert state.describe() == f"ingest: 9999 (unknown; expected {','.join(state.heads)})"


def test_an_unreachable_database_is_a_clean_error() -> None:
    result = run("postgresql://rasid:secret-password@127.0.0.1:9/rasid", "alerts", "list")
    assert result.exit_code == 1
    assert "cannot open the database postgresql+psycopg://rasid:***@127.0.0.1:9/rasid" in result.output
    assert "secret-password" not in result.output
