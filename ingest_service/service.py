"""What the ingest service tells ``shared``: its worker and queue, its periodic tasks and the folder
watcher that ``rasid run`` supervises (see :mod:`shared.services`)."""

from __future__ import annotations

from typing import Final

from ingest_service.settings import ingest_settings
from shared.services import Periodic, Process, Service, Worker
from shared.task_names import POLL_FEEDS, RESEND_UNCONFIRMED

INGEST_QUEUE: Final = "ingest"

SERVICE: Final = Service(
    worker=Worker(name="ingest", app="ingest_service.tasks:app", queues=(INGEST_QUEUE,)),
    routes={"ingest.*": INGEST_QUEUE},
    periodic=(
        Periodic(POLL_FEEDS, seconds=lambda: ingest_settings().feed_poll_seconds),
        Periodic(RESEND_UNCONFIRMED, seconds=lambda: ingest_settings().resend_sweep_seconds),
    ),
    # The watcher hands files to the worker: it starts last and stops first.
    processes=(Process(("watch",), stop_first=True),),
    status="ingest_service.status:status_checks",
    metrics="ingest_service.metrics:metrics",
)
