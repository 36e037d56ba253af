"""What the ingest service tells ``shared``: its worker and queues, its periodic tasks and the folder
watcher that ``rasid run`` supervises (see :mod:`shared.services`).

A file message carries a path on the watcher's host, so it goes to that host's file queue
(``ingest.files.<host_name>``), consumed only by the ingest workers of that host; everything else
(feeds, imports' confirmations, the resend sweep) goes to the ``ingest`` queue, consumed by every
ingest worker on every host."""

from __future__ import annotations

from typing import Final

from ingest_service.settings import ingest_settings
from shared.services import Periodic, Process, Service, Worker
from shared.task_names import POLL_FEEDS, RESEND_UNCONFIRMED

INGEST_QUEUE: Final = "ingest"
FILES_QUEUE_PREFIX: Final = "ingest.files."
# The folder watcher's name in ``rasid status``, which needs one alive.
WATCHER: Final = "watcher"


def files_queue(host_name: str) -> str:
    """The queue of the files dropped on the host named ``host_name``."""
    return f"{FILES_QUEUE_PREFIX}{host_name}"


def _host_queues() -> tuple[str, ...]:
    return (files_queue(ingest_settings().host_name),)


SERVICE: Final = Service(
    worker=Worker(
        name="ingest", app="ingest_service.tasks:app", queues=(INGEST_QUEUE,), host_queues=_host_queues
    ),
    routes={"ingest.*": INGEST_QUEUE},
    periodic=(
        Periodic(POLL_FEEDS, seconds=lambda: ingest_settings().feed_poll_seconds),
        Periodic(RESEND_UNCONFIRMED, seconds=lambda: ingest_settings().resend_sweep_seconds),
    ),
    # The watcher hands files to the worker: it starts last and stops first.
    processes=(Process(("watch",), stop_first=True, name=WATCHER),),
    status="ingest_service.status:status_checks",
    metrics="ingest_service.metrics:metrics",
)
