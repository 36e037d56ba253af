"""Runs Rasid's services as local processes, with exactly the commands ``docker-compose.yml`` gives
its services, or as ``rasid run`` (the embedded mode), against real Redis/PostgreSQL or SQLite."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from shared.supervisor import die_with_parent
from tests.peers import wait_for

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
RASID = [sys.executable, "-m", "shared"]


def compose_commands() -> dict[str, list[str]]:
    """The ``rasid`` command of every compose service built from this repository's image."""
    services = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"]
    ours = {name: spec for name, spec in services.items() if spec.get("image") == "rasid:latest"}
    return {name: list(spec["command"]) for name, spec in ours.items()}


@dataclass
class Stack:
    """A set of running Rasid processes and the folder they share."""

    env: dict[str, str]
    workdir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def watch_dir(self) -> Path:
        return Path(self.env["RASID_WATCH_DIR"])

    @property
    def rejected_dir(self) -> Path:
        return self.watch_dir / "rejected"

    def rasid(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a one-shot ``rasid`` command with the stack's environment."""
        result = subprocess.run(
            [*RASID, *args], env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"rasid {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def start(self, name: str, args: list[str]) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [*RASID, *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - a killed test run leaves no workers behind
        )

    def alive(self) -> dict[str, bool]:
        return {name: process.poll() is None for name, process in self.processes.items()}

    def logs(self, *, tail: int | None = 6000) -> str:
        """What every process printed (the last ``tail`` characters of each)."""
        parts = []
        for name in self.processes:
            text = (self.workdir / f"{name}.log").read_text(encoding="utf-8", errors="replace")
            parts.append(f"----- {name} -----\n{text[-tail:] if tail else text}")
        return "\n".join(parts)

    def kill(self, name: str) -> None:
        """Kill a process and its children at once (SIGKILL), as a crash or an OOM kill would."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def interrupt(self, name: str, *, timeout: float = 30) -> int:
        """Send Ctrl-C (SIGINT) to one process and wait for it to end."""
        process = self.processes[name]
        process.send_signal(signal.SIGINT)
        return process.wait(timeout=timeout)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            # Nothing a test started may outlive it, not even an orphaned pool child.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stack_env(
    *, workdir: Path, database_url: str, broker_url: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment every process of a test stack gets."""
    watch_dir = workdir / "inbox"
    watch_dir.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("RASID_")}
    env.update(
        {
            "RASID_DATABASE_URL": database_url,
            "RASID_BROKER_URL": broker_url,
            "RASID_WATCH_DIR": str(watch_dir),
            "RASID_DATA_DIR": str(workdir / "data"),
            "RASID_CACHE_DIR": str(workdir / "cache"),
            "RASID_LOG_LEVEL": "INFO",
            "RASID_DELIVERY_SWEEP_SECONDS": "1",
            "RASID_RETRY_SCHEDULE": "0.5,1,2",
            "RASID_RESEND_AFTER_SECONDS": "5",
            "RASID_RESEND_SWEEP_SECONDS": "1",
            # The receivers and feeds of a test stack run on 127.0.0.1, which the guard refuses by default.
            "RASID_ALLOW_PRIVATE_TARGETS": "true",
            # Each stack's web process on a port of its own: stacks run side by side.
            "RASID_WEB_PORT": str(free_port()),
            "PYTHONUNBUFFERED": "1",
            **(extra or {}),
        }
    )
    return env


@contextmanager
def compose_stack(env: dict[str, str], workdir: Path) -> Iterator[Stack]:
    """Every compose service of Rasid as a local process: migrate once, then the long-running ones."""
    stack = Stack(env=env, workdir=workdir)
    commands = compose_commands()
    migrate = commands.pop("migrate")
    stack.rasid(*migrate)
    try:
        for name, args in commands.items():
            stack.start(name, args)
        yield stack
    finally:
        stack.stop()


@contextmanager
def embedded_stack(env: dict[str, str], workdir: Path) -> Iterator[Stack]:
    """``rasid run``: the supervisor and the children it starts."""
    stack = Stack(env=env, workdir=workdir)
    try:
        stack.start("run", ["run"])
        # ``rasid run`` upgrades the database before it starts anything; a one-shot command run
        # before that ends finds the schema not current, as it would for a user. The upgrade says so
        # on its output whatever the log level (the pipeline benchmark logs warnings only).
        wait_for(
            lambda: stack.alive()["run"] is False or "database upgraded:" in stack.logs(tail=None),
            timeout=120,
            what="rasid run to upgrade the database",
        )
        assert stack.alive()["run"], stack.logs()
        yield stack
    finally:
        stack.stop()


@contextmanager
def extra_host_stack(env: dict[str, str], workdir: Path, services: Sequence[str]) -> Iterator[Stack]:
    """Some compose services, with their compose commands, as if on another host joining a running
    stack's Redis and PostgreSQL: no migration, no beat or web of its own."""
    stack = Stack(env=env, workdir=workdir)
    commands = compose_commands()
    try:
        for name in services:
            stack.start(name, commands[name])
        yield stack
    finally:
        stack.stop()
