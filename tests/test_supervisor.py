"""``rasid run`` supervises one child per service command; none outlives it, even if it is killed."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from shared.services import supervised_processes
from tests.e2e.stack import stack_env
from tests.peers import wait_for

pytestmark = pytest.mark.e2e


def test_children_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    env = stack_env(workdir=tmp_path, database_url="", broker_url="filesystem://")
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "shared", "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        children = wait_for(
            lambda: (
                len(psutil.Process(supervisor.pid).children()) == len(supervised_processes())
                and psutil.Process(supervisor.pid).children()
            ),
            timeout=60,
            what="every child to start",
        )
        supervisor.send_signal(signal.SIGKILL)
        supervisor.wait()
        _gone, alive = psutil.wait_procs(children, timeout=45)
        assert alive == [], f"children outlived the supervisor: {alive}"
    finally:
        for child in psutil.Process().children(recursive=True):
            child.kill()


def test_a_database_that_cannot_be_upgraded_stops_the_stack_before_any_child_starts(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file where the database's folder should be")
    env = stack_env(
        workdir=tmp_path, database_url=f"sqlite:///{tmp_path}/taken/rasid.db", broker_url="filesystem://"
    )
    result = subprocess.run(
        [sys.executable, "-m", "shared", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0
    assert "rasid.db" in result.stderr or "database" in result.stderr
    assert "child.started" not in result.stderr
