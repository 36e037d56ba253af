"""Every task has a soft and a hard time limit, below the broker's visibility timeout, so no task
runs for minutes and none still running is handed to a second worker; a real worker kills a task
past its hard limit and goes on with the next message, with the file broker and with Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.celery_app import VISIBILITY_TIMEOUT_SECONDS, create_celery_app
from shared.errors import ConfigurationError
from shared.services import workers
from shared.settings import RasidSettings, load_settings
from shared.supervisor import die_with_parent

SERVICE_TASKS = ("ingest.", "classifier.", "alert.")


def _settings(**update: Any) -> RasidSettings:
    return load_settings(RasidSettings).model_copy(update=update)


def test_every_task_of_every_service_has_time_limits_below_the_visibility_timeout() -> None:
    names: set[str] = set()
    for worker in workers().values():
        app = worker.load_app()
        soft, hard = app.conf.task_soft_time_limit, app.conf.task_time_limit
        assert 0 < soft < hard < VISIBILITY_TIMEOUT_SECONDS, worker.name
        for name, task in app.tasks.items():
            if name.startswith(SERVICE_TASKS):
                names.add(name)
                # A task that set its own limits would not have the app's.
                assert (task.soft_time_limit, task.time_limit) == (soft, hard), name
    assert len(names) >= 9


@pytest.mark.parametrize("broker_url", ["filesystem://", "redis://127.0.0.1:6379/0"])
def test_both_brokers_get_the_limits(broker_url: str, tmp_path: Path) -> None:
    settings = _settings(broker_url=broker_url, data_dir=tmp_path, task_soft_time_limit=5, task_time_limit=7)
    app = create_celery_app("limits", settings)
    assert (app.conf.task_soft_time_limit, app.conf.task_time_limit) == (5, 7)


def test_a_hard_limit_at_the_visibility_timeout_stops_the_app() -> None:
    settings = _settings(task_time_limit=VISIBILITY_TIMEOUT_SECONDS)
    with pytest.raises(ConfigurationError, match=r"RASID_TASK_TIME_LIMIT .* visibility timeout"):
        create_celery_app("limits", settings)


def test_the_soft_limit_must_come_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASID_TASK_SOFT_TIME_LIMIT", "30")
    monkeypatch.setenv("RASID_TASK_TIME_LIMIT", "30")
    expected = r"RASID_TASK_SOFT_TIME_LIMIT .* below RASID_TASK_TIME_LIMIT"
    with pytest.raises(ConfigurationError, match=expected):
        load_settings(RasidSettings)


def test_a_worker_stops_at_start_on_a_hard_limit_past_the_visibility_timeout(tmp_path: Path) -> None:
    env = {**os.environ, "RASID_TASK_TIME_LIMIT": "900", "RASID_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "shared", "worker", "classify"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "RASID_TASK_TIME_LIMIT" in result.stderr and "Traceback" not in result.stderr


# A worker of the shared app factory with two test tasks: one that outlives its soft limit (it
# ignores the request to stop) and would outlive its hard one, and one that leaves a mark.
WORKER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from celery.exceptions import SoftTimeLimitExceeded
    from shared.celery_app import create_celery_app

    folder = Path(sys.argv[1])
    app = create_celery_app("limits-test")

    @app.task(name="test.stubborn")
    def stubborn() -> None:
        (folder / "started").write_text(str(os.getpid()))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                time.sleep(0.1)
            except SoftTimeLimitExceeded:
                (folder / "soft").touch()
        (folder / "finished").touch()

    @app.task(name="test.mark")
    def mark() -> None:
        (folder / "marked").write_text(str(os.getpid()))

    app.worker_main(["worker", f"--queues={sys.argv[2]}", "--concurrency=1", "--pool=prefork",
                     "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"])
    """
)


@pytest.fixture(params=["filesystem", "redis"])
def broker_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "RASID_DATA_DIR": str(tmp_path / "var")}
    env["RASID_TASK_SOFT_TIME_LIMIT"], env["RASID_TASK_TIME_LIMIT"] = "1", "3"
    if request.param == "redis":
        env["RASID_BROKER_URL"] = request.getfixturevalue("redis_url")
    else:
        env["RASID_BROKER_URL"] = "filesystem://"
    return env


@pytest.fixture
def worker(broker_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Path, str, subprocess.Popen[bytes]]]:
    folder, queue = tmp_path / "marks", f"limits-{uuid.uuid4().hex}"
    folder.mkdir()
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(script), str(folder), queue],
        env=broker_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - a killed test run leaves no worker behind
    )
    try:
        yield folder, queue, process
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _wait_for(path: Path, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.1)
    return False


def test_a_task_past_its_hard_limit_is_killed_and_the_worker_goes_on(
    broker_env: dict[str, str], worker: tuple[Path, str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    folder, queue, process = worker
    settings = RasidSettings(
        broker_url=broker_env["RASID_BROKER_URL"], data_dir=Path(broker_env["RASID_DATA_DIR"])
    )
    producer = create_celery_app("limits-producer", settings)
    producer.send_task("test.stubborn", queue=queue)
    producer.send_task("test.mark", queue=queue)

    log = tmp_path / "worker.log"
    assert _wait_for(folder / "marked", seconds=90), log.read_text(errors="replace")
    assert (folder / "soft").exists()
    assert not (folder / "finished").exists()
    # The stubborn task's process was killed; a new one took the next message.
    assert (folder / "started").read_text() != (folder / "marked").read_text()
    assert process.poll() is None
    assert "Hard time limit (3" in log.read_text(errors="replace")
