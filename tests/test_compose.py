"""docker-compose.yml is checked statically: it validates, and it runs exactly the processes that
``rasid run`` supervises in the embedded mode."""

from __future__ import annotations

import subprocess
from typing import Any

import click
import pytest
import yaml

from shared.cli import cli
from shared.services import supervised_processes
from tests.e2e.stack import COMPOSE_FILE, compose_commands
from tests.helpers import required_program

WATCH_DIR = "/srv/rasid/inbox"
CHILD_COMMANDS = [process.args for process in supervised_processes()]


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"]
    return services


def test_compose_file_validates() -> None:
    binary = required_program("docker-compose", needed_for="to check docker-compose.yml (Debian's package)")
    result = subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "config", "-q"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_compose_runs_what_rasid_run_supervises() -> None:
    commands = compose_commands()
    assert commands.pop("migrate") == ["db", "upgrade"]
    assert sorted(tuple(args) for args in commands.values()) == sorted(CHILD_COMMANDS)


@pytest.mark.parametrize("args", [["db", "upgrade"], *[list(c) for c in CHILD_COMMANDS]])
def test_every_compose_command_is_a_rasid_command(args: list[str]) -> None:
    context = click.Context(cli)
    command = cli.get_command(context, args[0])
    assert command is not None, args
    if isinstance(command, click.Group):
        assert command.get_command(context, args[1]) is not None, args
    else:
        command.make_context(args[0], args[1:])


def test_infrastructure_has_healthchecks_and_services_wait_for_them(services: dict[str, Any]) -> None:
    for name in ("redis", "postgres", "mailpit"):
        assert "healthcheck" in services[name], name
    for name, spec in services.items():
        if spec.get("image") == "rasid:latest" and name != "migrate":
            assert spec["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name
    assert services["migrate"]["restart"] == "no"


def test_watched_folder_is_a_writable_bind_mount_with_a_polling_switch(services: dict[str, Any]) -> None:
    for name in ("watcher", "ingest-worker"):
        (mount,) = services[name]["volumes"]
        assert mount.endswith(f":{WATCH_DIR}"), "writable: rejected files are moved aside"
        assert services[name]["environment"]["RASID_WATCH_DIR"] == WATCH_DIR
    assert "RASID_WATCH_POLLING" in services["watcher"]["environment"]


def test_the_watcher_and_the_ingest_worker_of_a_host_share_its_file_queue(services: dict[str, Any]) -> None:
    """The watcher sends to ingest.files.<RASID_HOST_NAME>; the ingest worker of its host consumes it."""
    names = {services[name]["environment"].get("RASID_HOST_NAME") for name in ("watcher", "ingest-worker")}
    assert len(names) == 1 and None not in names
