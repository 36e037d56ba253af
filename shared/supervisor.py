"""``rasid run``: the embedded mode. Upgrades the database, then starts and supervises one child
process per command the services declare (every worker, beat, and processes such as a folder
watcher: the same commands the compose services run), restarting a child that dies and stopping all
of them on Ctrl-C or SIGTERM, first those that bring work in.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from types import FrameType

from shared.services import supervised_processes
from shared.settings import RasidSettings

log = logging.getLogger("rasid.supervisor")

STOP_GRACE_SECONDS = 15.0
PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
MAX_RESTART_DELAY_SECONDS = 30.0


@dataclass
class Child:
    """One supervised process and its restart state."""

    args: tuple[str, ...]
    stop_first: bool = False
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = " ".join(self.args)

    def start(self) -> None:
        # A session of its own: Ctrl-C reaches the supervisor only, which then stops children in order.
        command = [sys.executable, "-m", "shared", *self.args]
        self.process = subprocess.Popen(command, start_new_session=True, preexec_fn=die_with_parent)  # noqa: PLW1509 - no threads here
        log.info("child.started", extra={"child": self.name, "pid": self.process.pid})

    def check(self, now: float) -> None:
        """Restart the child, with growing delay, if it has exited."""
        if self.process is None:
            if now >= self.next_start:
                self.start()
            return
        code = self.process.poll()
        if code is None:
            return
        self.restarts += 1
        delay = min(2.0**self.restarts, MAX_RESTART_DELAY_SECONDS)
        log.warning("child.exited", extra={"child": self.name, "code": code, "restart_in": delay})
        self.process, self.next_start = None, now + delay

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, deadline: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            log.warning("child.killed", extra={"child": self.name})
            self.process.kill()
            self.process.wait()


def die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM if the supervisor dies, even by SIGKILL,
    so that no worker outlives ``rasid run``."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run_stack(settings: RasidSettings) -> int:
    """Run the embedded stack until interrupted; the exit code of ``rasid run``."""
    upgrade = _upgrade_database()
    if upgrade != 0:
        return upgrade
    log.info("database.upgraded", extra={"url": _redacted(settings)})
    # Started in this order and stopped in the reverse one.
    children = [Child(process.args, stop_first=process.stop_first) for process in supervised_processes()]
    stopping = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stack.stopping", extra={"signal": signal.Signals(signum).name})
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        while not stopping.is_set():
            now = time.monotonic()
            for child in children:
                child.check(now)
            stopping.wait(0.5)
    finally:
        _stop_all(children)
    log.info("stack.stopped")
    return 0


def _upgrade_database() -> int:
    """``rasid db upgrade`` in a process of its own (it prints its own error); its exit code. The
    supervisor runs as long as the stack does, and would keep what the migrations load (Alembic and
    every service's models, 30 MB) for good."""
    command = [sys.executable, "-m", "shared", "db", "upgrade"]
    return subprocess.run(command, check=False, preexec_fn=die_with_parent).returncode


def _stop_all(children: list[Child]) -> None:
    # What brings work in stops first, so the workers finish what it handed them.
    for child in reversed(children):
        child.stop()
        if child.stop_first:
            child.wait(time.monotonic() + STOP_GRACE_SECONDS)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in reversed(children):
        child.wait(deadline)


def _redacted(settings: RasidSettings) -> str:
    url = settings.resolved_database_url
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
