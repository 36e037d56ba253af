"""Latency histograms for ``/metrics``, counted in SQL from the timestamps a service's tables already
hold (an article ingested then stored, a delivery attempt started then finished).

Workers run in other processes, and under compose in other containers: the one place every mode
shares with the web process is the database, and the durations that matter are already written
there by the tasks themselves. So nothing is added to a task's path and no worker exposes a port;
each scrape reads the cumulative buckets in one query per histogram (``count(*)``, the sum, and one
``CASE`` a bucket), which is monotonic as rows are only added.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prometheus_client.core import HistogramMetricFamily
from sqlalchemy import ColumnElement, case, func, literal

# Seconds: a task's own work (a webhook POST) to queue waits behind a backlog.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


def histogram_columns(
    seconds: ColumnElement[float], buckets: Sequence[float] = LATENCY_BUCKETS
) -> list[ColumnElement[Any]]:
    """What to select for a histogram of ``seconds``: the count, the sum, then one count a bucket."""
    return [
        func.count(),
        func.coalesce(func.sum(seconds), literal(0.0)),
        *(func.sum(case((seconds <= bound, 1), else_=0)) for bound in buckets),
    ]


def add_histogram(
    family: HistogramMetricFamily,
    labels: Sequence[str],
    row: Sequence[Any],
    buckets: Sequence[float] = LATENCY_BUCKETS,
) -> None:
    """Add to ``family`` the histogram in ``row`` (selected with :func:`histogram_columns`)."""
    count, total, *within = row
    pairs = [(f"{bound:g}", float(n or 0)) for bound, n in zip(buckets, within, strict=True)]
    family.add_metric(list(labels), [*pairs, ("+Inf", float(count))], float(total or 0.0))
