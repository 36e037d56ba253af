"""What the alert service tells ``shared``: its worker and queues, and the sweeps (deliveries,
digests) beat sends (see :mod:`shared.services`)."""

from __future__ import annotations

from typing import Final

from shared.services import Periodic, Service, Worker
from shared.task_names import DELIVER_ALERT, DELIVER_DIGEST, SWEEP_DELIVERIES, SWEEP_DIGESTS

ALERT_QUEUE: Final = "alert"
# Deliveries wait on SMTP servers and webhook receivers: a queue of their own keeps a slow receiver
# from holding up the storing of new articles.
DELIVER_QUEUE: Final = "deliver"


def _delivery_sweep_seconds() -> float:
    # Imported when beat asks: the settings bring the story grouping (numpy, the gazetteer), which
    # every process that loads this declaration (every worker, the CLI) would carry otherwise.
    from alert_service.settings import alert_settings

    return alert_settings().delivery_sweep_seconds


SERVICE: Final = Service(
    worker=Worker(name="alert", app="alert_service.tasks:app", queues=(ALERT_QUEUE, DELIVER_QUEUE)),
    routes={DELIVER_ALERT: DELIVER_QUEUE, DELIVER_DIGEST: DELIVER_QUEUE, "alert.*": ALERT_QUEUE},
    periodic=(
        Periodic(SWEEP_DELIVERIES, seconds=_delivery_sweep_seconds),
        # Digests whose period ended are found as often as due retries.
        Periodic(SWEEP_DIGESTS, seconds=_delivery_sweep_seconds),
    ),
    status="alert_service.status:status_checks",
    metrics="alert_service.metrics:metrics",
)
