"""``/metrics`` in Prometheus' text format: what each service counts from its own tables (the
``metrics`` of its declaration, :mod:`shared.services`) and what ``shared`` owns, the depth of every
declared queue. Counted when scraped, so every process's work is seen without shared counters.
Needs a token like the API (Prometheus sends it as ``authorization: credentials``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Metric, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.services import metrics_reporters
from shared.settings import RasidSettings
from shared.status import queue_depths
from shared.web.access import DbSession, Reader


class _Gathered(Collector):
    """Metrics already gathered for one scrape."""

    def __init__(self, metrics: Sequence[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self._metrics


def queue_metrics(settings: RasidSettings) -> list[Metric]:
    """The depth of every declared queue, and whether the broker answered."""
    depths = queue_depths(settings)
    up = GaugeMetricFamily("rasid_broker_up", "1 when the broker answered this scrape.")
    up.add_metric([], 0 if depths is None else 1)
    queued = GaugeMetricFamily("rasid_queue_depth", "Messages waiting, by queue.", labels=["queue"])
    for queue, depth in sorted((depths or {}).items()):
        queued.add_metric([queue], depth)
    return [up, queued]


router = APIRouter(tags=["metrics"])


@router.get("/metrics", summary="Prometheus metrics (needs a token).", response_class=Response)
def metrics(request: Request, session: DbSession, _caller: Reader) -> Response:
    gathered = [metric for reporter in metrics_reporters() for metric in reporter(session)]
    gathered += queue_metrics(request.app.state.settings)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Gathered(gathered))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
