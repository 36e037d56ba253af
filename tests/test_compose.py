"""docker-compose.yml is checked statically: it validates, and it runs exactly the processes that
``rasid run`` supervises in the embedded mode."""

from __future__ import annotations

import os
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


# Settings a user gives at `docker compose up` (README: Configuration); compose passes on only the
# variables it names, so each must be named to reach the containers.
PASSED_ON = {
    "RASID_ALLOW_PRIVATE_TARGETS": "true",
    "RASID_ADMIN_PASSWORD": "a passphrase",
    "RASID_WEB_SECRET": "a signing key",
    "RASID_SMTP_USERNAME": "rasid",
    "RASID_SMTP_PASSWORD": "a password",
    "RASID_SMTP_STARTTLS": "true",
    "RASID_SMTP_FROM": "alerts@example.org",
    "RASID_LOG_FORMAT": "json",
}


def _resolved_services(env: dict[str, str]) -> dict[str, Any]:
    binary = required_program("docker-compose", needed_for="to check docker-compose.yml (Debian's package)")
    clean = {name: value for name, value in os.environ.items() if not name.startswith("RASID_")}
    result = subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "config"],
        capture_output=True,
        text=True,
        check=True,
        env={**clean, **env},
    )
    resolved: dict[str, Any] = yaml.safe_load(result.stdout)["services"]
    return resolved


def test_settings_set_in_the_shell_reach_every_rasid_service() -> None:
    """RASID_ALLOW_PRIVATE_TARGETS=true docker compose up lets a webhook reach a receiver on the LAN."""
    for name, spec in _resolved_services(PASSED_ON).items():
        if spec.get("image") == "rasid:latest":
            environment = spec["environment"]
            assert {key: environment.get(key) for key in PASSED_ON} == PASSED_ON, name


def test_settings_not_set_in_the_shell_stay_unset() -> None:
    """Unset, a setting keeps its default in the container: an empty value would be a value."""
    environment = _resolved_services({})["alert-worker"]["environment"]
    assert environment["RASID_SMTP_FROM"] == "rasid@localhost"
    assert environment.get("RASID_ADMIN_PASSWORD") is None
    assert environment.get("RASID_ALLOW_PRIVATE_TARGETS") is None
