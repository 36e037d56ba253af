"""``shared`` assembles ``rasid worker``, the Celery routes, beat's schedule and the children of
``rasid run`` from what the installed services declare, and names no service itself: a fourth
service, installed beside the three, joins every one of them with no edit in ``shared``."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from alert_service.service import SERVICE as ALERT
from classifier_service.service import SERVICE as CLASSIFIER
from ingest_service.service import SERVICE as INGEST
from ingest_service.settings import ingest_settings
from shared import services
from shared.celery_app import producer
from shared.cli import cli
from shared.task_names import (
    CLASSIFY_ARTICLE,
    CONFIRM_STORED,
    DELIVER_ALERT,
    DELIVER_DIGEST,
    INGEST_FILE,
    POLL_FEEDS,
    RESEND_UNCONFIRMED,
    STORE_CLASSIFIED,
    SWEEP_DELIVERIES,
    SWEEP_DIGESTS,
)
from tests.e2e.stack import ROOT

SERVICE_PACKAGES = ("ingest_service", "classifier_service", "alert_service")
WORKER_NAMES = {"ingest", "classify", "alert", "deliver", "classifier"}


@pytest.fixture
def fresh_assembly() -> Iterator[None]:
    services.installed_services.cache_clear()
    ingest_settings.cache_clear()
    yield
    services.installed_services.cache_clear()
    ingest_settings.cache_clear()


def test_the_installed_services_are_the_three_declarations() -> None:
    assert services.installed_services() == (ALERT, CLASSIFIER, INGEST)


def test_rasid_run_supervises_every_worker_then_the_web_process_then_beat_then_the_watcher() -> None:
    assert [process.args for process in services.supervised_processes()] == [
        ("worker", "alert"),
        ("worker", "classify"),
        ("worker", "ingest"),
        ("web",),
        ("beat",),
        ("watch",),
    ]
    assert [process.stop_first for process in services.supervised_processes()] == [False] * 5 + [True]


def test_each_worker_consumes_the_queues_its_tasks_are_routed_to() -> None:
    workers = services.workers()
    assert {name: worker.queues for name, worker in workers.items()} == {
        "alert": ("alert", "deliver"),
        "classify": ("classify",),
        "ingest": ("ingest",),
    }
    router = producer().amqp.router
    expected = {
        INGEST_FILE: "ingest",
        CONFIRM_STORED: "ingest",
        CLASSIFY_ARTICLE: "classify",
        STORE_CLASSIFIED: "alert",
        DELIVER_ALERT: "deliver",
        SWEEP_DELIVERIES: "alert",
        DELIVER_DIGEST: "deliver",
        SWEEP_DIGESTS: "alert",
    }
    for task, queue in expected.items():
        assert router.route({}, task)["queue"].name == queue, task
    consumed = {queue for worker in workers.values() for queue in worker.queues}
    assert {route["queue"] for route in services.task_routes().values()} == consumed


def test_beat_sends_each_periodic_task_at_the_interval_its_service_settings_give(
    monkeypatch: pytest.MonkeyPatch, fresh_assembly: None
) -> None:
    monkeypatch.setenv("RASID_FEED_POLL_SECONDS", "42")
    schedule = services.beat_schedule()
    assert {task: entry["schedule"] for task, entry in schedule.items()} == {
        POLL_FEEDS: timedelta(seconds=42),
        RESEND_UNCONFIRMED: timedelta(seconds=60),
        SWEEP_DELIVERIES: timedelta(seconds=5),
        SWEEP_DIGESTS: timedelta(seconds=5),
    }
    assert all(entry["task"] == task for task, entry in schedule.items())


def test_a_fourth_service_joins_by_its_entry_point_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_assembly: None
) -> None:
    _install_extra_service(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    services.installed_services.cache_clear()

    assert "extra" in services.workers()
    assert services.task_routes()["extra.*"] == {"queue": "extra-queue"}
    assert services.beat_schedule()["extra.tick"]["schedule"] == timedelta(seconds=7)
    children = [process.args for process in services.supervised_processes()]
    assert ("worker", "extra") in children
    assert children.index(("extra-helper",)) < children.index(("beat",)) < children.index(("watch",))
    help_text = CliRunner().invoke(cli, ["worker", "--help"]).output
    assert "{alert|classify|extra|ingest}" in help_text
    unknown = CliRunner().invoke(cli, ["worker", "nothing"])
    assert unknown.exit_code == 2 and "'extra'" in unknown.output


def test_shared_names_no_service() -> None:
    for path in sorted((ROOT / "shared").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        for package in SERVICE_PACKAGES:
            assert package not in source, f"{path.name} names {package}"
        literals = {
            node.value
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        assert not literals & WORKER_NAMES, f"{path.name} names a worker or queue: {literals & WORKER_NAMES}"


def test_a_producer_sends_without_importing_any_service_tasks() -> None:
    script = textwrap.dedent(
        """
        import sys
        from shared.celery_app import producer
        app = producer()
        app.amqp.router.route({}, "ingest.ingest_file")
        loaded = [name for name in sys.modules if name.endswith("_service.tasks")]
        registered = [name for name in app.tasks if not name.startswith("celery.")]
        print(loaded, registered)
        """
    )
    env = {**os.environ, "RASID_BROKER_URL": "memory://"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env, timeout=60
    )
    assert result.stdout.strip() == "[] []"


def test_a_worker_keeps_out_what_only_other_services_use() -> None:
    # Every process loads the declarations and checks every setting (the alert service's too); the
    # classifier's worker then loads its tasks. None of it brings the story grouping (numpy) or the ORM.
    script = textwrap.dedent(
        """
        import sys
        from shared.cli import configure_process_logging
        from shared.services import workers
        configure_process_logging()
        workers()["classify"].load_app()
        print([name for name in ("numpy", "alert_service.stories", "sqlalchemy.orm") if name in sys.modules])
        """
    )
    env = {**os.environ, "RASID_BROKER_URL": "memory://"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env, timeout=60
    )
    assert result.stdout.strip() == "[]"


def _install_extra_service(root: Path) -> None:
    """A distribution on ``sys.path`` whose only link to Rasid is a ``rasid.services`` entry point."""
    dist_info = root / "rasid_extra-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: rasid-extra\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[rasid.services]\nextra = extra_service.service:SERVICE\n")
    package = root / "extra_service"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "service.py").write_text(
        textwrap.dedent(
            """
            from shared.services import Periodic, Process, Service, Worker

            SERVICE = Service(
                worker=Worker(name="extra", app="extra_service.tasks:app", queues=("extra-queue",)),
                routes={"extra.*": "extra-queue"},
                periodic=(Periodic("extra.tick", seconds=lambda: 7.0),),
                processes=(Process(("extra-helper",)),),
            )
            """
        )
    )
