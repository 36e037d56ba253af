"""What the classifier service tells ``shared``: its worker and queue (see :mod:`shared.services`)."""

from __future__ import annotations

from typing import Final

from shared.services import Service, Worker

CLASSIFY_QUEUE: Final = "classify"

SERVICE: Final = Service(
    worker=Worker(name="classify", app="classifier_service.tasks:app", queues=(CLASSIFY_QUEUE,)),
    routes={"classifier.*": CLASSIFY_QUEUE},
)
