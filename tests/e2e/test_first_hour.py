"""A new user's first hour, with real worker processes: ``rasid run`` with no SMTP server writes email
alerts to the local mailbox, byte for byte what the SMTP path sends; an idle stack prints nothing at
INFO; ``rasid status`` tells a stopped worker from a healthy stack, on the embedded stack and on the
compose services (Redis and PostgreSQL)."""

from __future__ import annotations

import email
import email.policy
import json
import signal
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psutil
import pytest

from alert_service.content import load_content
from alert_service.mail import send_email
from alert_service.settings import AlertSettings
from shared.db import dispose_engines, session_scope
from tests.e2e.stack import Stack, compose_commands, compose_stack, embedded_stack, stack_env
from tests.e2e.test_pipeline import SEED, TOPIC, drop, json_rows, subscribe
from tests.helpers import own_redis_database
from tests.peers import smtp_sink, wait_for

pytestmark = pytest.mark.e2e

IDLE_SECONDS = 30.0
# Startup lines (banners, "ready") may still be on their way when the stack first reports healthy.
SETTLE_SECONDS = 5.0


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Stack]:
    """``rasid run`` with no SMTP host: the embedded defaults of a new user."""
    env = stack_env(
        workdir=tmp_path, database_url="", broker_url="filesystem://", extra={"RASID_RESCAN_SECONDS": "5"}
    )
    assert "RASID_SMTP_HOST" not in env
    with embedded_stack(env, tmp_path) as stack:
        yield stack
        print(stack.logs())


def status(stack: Stack) -> tuple[int, dict[str, Any]]:
    """``rasid status --json``: its exit code and its report."""
    result = stack.rasid("status", "--json", check=False)
    return result.returncode, json.loads(result.stdout)


def wait_until_healthy(stack: Stack) -> dict[str, Any]:
    def healthy() -> dict[str, Any] | None:
        code, report = status(stack)
        return report if code == 0 else None

    report: dict[str, Any] = wait_for(healthy, timeout=120, what="rasid status to say healthy", interval=1)
    return report


def test_email_alerts_go_to_the_mailbox_as_the_smtp_path_would_send_them(embedded: Stack) -> None:
    stack = embedded
    wait_until_healthy(stack)
    subscribe(stack, "email", "analyst@example.org")
    drop(stack, "coalition.txt", SEED.read_bytes())
    [mail] = wait_for(lambda: json_rows(stack, "mail", "list"), timeout=120, what="the mail")
    path = Path(mail["path"])
    assert path.parent == Path(stack.env["RASID_DATA_DIR"]).resolve() / "mail"
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)

    data = path.read_bytes()
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert "بريطانيا تتطلع" in str(message["subject"]) and message["to"] == "analyst@example.org"
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    assert TOPIC in plain.get_content() and 'dir="rtl"' in html.get_content()

    [alert] = json_rows(stack, "alerts", "list")
    assert alert["status"] == "delivered" and alert["id"] == mail["id"]
    shown = stack.rasid("mail", "show", str(mail["id"])).stdout
    assert f"message file: {path}" in shown and "بريطانيا تتطلع" in shown
    assert smtp_bytes(stack, alert["id"]) == data, "the same bytes as over SMTP"
    time.sleep(3)
    assert [p.name for p in path.parent.iterdir()] == [path.name], "one file, written once"


def smtp_bytes(stack: Stack, alert_id: int) -> bytes:
    """The bytes the SMTP path sends for the alert: read from the stack's database, sent to a real
    SMTP server."""
    url = f"sqlite:///{Path(stack.env['RASID_DATA_DIR']).resolve() / 'rasid.db'}"
    with session_scope(url) as session:
        content = load_content(session, alert_id)
    dispose_engines()
    with smtp_sink() as sink:
        settings = AlertSettings(_env_file=None, smtp_host=sink.host, smtp_port=sink.port)  # type: ignore[call-arg]
        send_email(content, settings)
        [sent] = sink.received()
    return sent.raw


def test_an_idle_stack_prints_nothing_at_info(embedded: Stack) -> None:
    """Sweeps every second, rescans every 5 s, beat ticking: none of it is an event for the user."""
    stack = embedded
    wait_until_healthy(stack)
    time.sleep(SETTLE_SECONDS)
    before = stack.logs(tail=None)
    time.sleep(IDLE_SECONDS)
    after = stack.logs(tail=None)
    assert after == before, f"printed while idle:\n{after[len(before) :]}"
    assert "Sending due task" not in after and "succeeded in" not in after


def _child(stack: Stack, *args: str) -> psutil.Process:
    """The process of ``rasid ARGS`` under ``rasid run`` (a worker's main process, not a pool child)."""
    supervisor = psutil.Process(stack.processes["run"].pid)
    [child] = [child for child in supervisor.children() if child.cmdline()[-len(args) :] == list(args)]
    return child


def test_status_reports_a_stopped_embedded_worker(embedded: Stack) -> None:
    stack = embedded
    report = wait_until_healthy(stack)
    assert report["checks"]["workers.classify"] >= 1 and report["checks"]["database"] == "reachable"
    assert report["checks"]["processes.beat"] == 1 and report["checks"]["processes.watcher"] == 1
    stopped = [_child(stack, "worker", "classify"), _child(stack, "beat")]
    for process in stopped:
        process.send_signal(signal.SIGSTOP)
    try:
        _code, report = wait_for(
            lambda: (result := status(stack))[0] == 1 and len(result[1]["problems"]) == 2 and result,
            timeout=60,
            what="an unhealthy status",
        )
        assert report["checks"]["workers.classify"] == 0 and report["checks"]["processes.beat"] == 0
        assert [problem.split(" (")[0] for problem in report["problems"]] == [
            "no classify worker is alive",
            "no beat is running",
        ]
        text = stack.rasid("status", check=False)
        assert text.returncode == 1 and "attention: no classify worker is alive" in text.stdout
    finally:
        for process in stopped:
            process.send_signal(signal.SIGCONT)
    assert wait_until_healthy(stack)["checks"]["workers.classify"] >= 1


@pytest.fixture
def compose_services(tmp_path: Path, fresh_postgres_url: str, redis_url: str) -> Iterator[Stack]:
    with own_redis_database(redis_url) as broker:
        env = stack_env(workdir=tmp_path, database_url=fresh_postgres_url, broker_url=broker)
        with compose_stack(env, tmp_path) as stack:
            yield stack
            print(stack.logs())


def test_status_on_redis_and_postgresql(compose_services: Stack) -> None:
    """Workers answer Celery's ping; a killed classify worker is reported, and its return too."""
    stack = compose_services
    report = wait_until_healthy(stack)
    assert {report["checks"][f"workers.{name}"] for name in ("ingest", "classify", "alert")} == {1}
    assert report["checks"]["queue.classify"] == 0
    stack.kill("classify-worker")
    code, report = status(stack)
    assert code == 1 and report["checks"]["workers.classify"] == 0
    assert report["problems"] == ["no classify worker is alive (none answered ping within 1 s)"]
    stack.start("classify-worker-restarted", compose_commands()["classify-worker"])
    report = wait_until_healthy(stack)
    assert report["checks"]["processes.beat"] == 1 and report["checks"]["processes.watcher"] == 1
    # A watcher that stops takes its heartbeat with it: a stack that ingests no file is not healthy.
    stack.interrupt("watcher")
    code, report = status(stack)
    assert code == 1 and report["checks"]["processes.watcher"] == 0
    assert report["problems"] == ["no watcher is running (none beat in the last 10 s)"]


def test_status_without_a_stack(tmp_path: Path) -> None:
    """Nothing started in this data folder: status says so, and creates nothing."""
    env = stack_env(workdir=tmp_path, database_url="", broker_url="filesystem://")
    stack = Stack(env=env, workdir=tmp_path)
    code, report = status(stack)
    assert code == 1
    assert report["checks"]["broker"] == "missing" and report["checks"]["database"] == "missing"
    assert not (tmp_path / "data").exists()
