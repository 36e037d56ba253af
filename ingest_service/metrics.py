"""The ingest service's part of ``/metrics``, counted from its own tables when Prometheus scrapes:
articles handed on per source kind, dropped files per status and rejected ones per reason, feeds
failing and their consecutive errors."""

from __future__ import annotations

from collections import Counter

from prometheus_client import Metric
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import Executable, func, select
from sqlalchemy.orm import Session

from ingest_service.models import Feed, SeenArticle, SeenFile

# A rejection reason is a sentence written for a person; its start names the kind of problem.
REASON_LABEL_CHARS = 60


def _filled(family: CounterMetricFamily | GaugeMetricFamily, rows: Counter[str]) -> Metric:
    for label, count in sorted(rows.items()):
        family.add_metric([label], count)
    return family


def _counts(session: Session, query: Executable, *, chars: int | None = None) -> Counter[str]:
    """Counts by label, labels cut to ``chars`` (and their counts added up)."""
    counts: Counter[str] = Counter()
    for label, count in session.execute(query):
        counts[str(label)[:chars]] += count
    return counts


def metrics(session: Session) -> list[Metric]:
    """Every metric of the ingest service, read in the caller's transaction."""
    kinds = select(SeenArticle.source_kind, func.count()).group_by(SeenArticle.source_kind)
    statuses = select(SeenFile.status, func.count()).group_by(SeenFile.status)
    rejected = SeenFile.status == "rejected"
    reasons = select(SeenFile.reason, func.count()).where(rejected).group_by(SeenFile.reason)
    active, failed = Feed.active.is_(True), Feed.last_error.is_not(None)
    failing = select(failed, func.count()).where(active).group_by(failed)
    feed_states = Counter({("failing" if bad else "ok"): count for bad, count in session.execute(failing)})
    errors = GaugeMetricFamily("rasid_feed_errors", "Consecutive failed polls, summed over active feeds.")
    errors.add_metric(
        [], session.scalar(select(func.coalesce(func.sum(Feed.error_count), 0)).where(active)) or 0
    )
    return [
        _filled(
            CounterMetricFamily(
                "rasid_articles_ingested", "Articles handed on, by source kind.", labels=["kind"]
            ),
            _counts(session, kinds),
        ),
        _filled(
            CounterMetricFamily("rasid_files", "Dropped files, by what became of them.", labels=["status"]),
            _counts(session, statuses),
        ),
        _filled(
            CounterMetricFamily("rasid_files_rejected", "Rejected files, by reason.", labels=["reason"]),
            _counts(session, reasons, chars=REASON_LABEL_CHARS),
        ),
        _filled(
            GaugeMetricFamily("rasid_feeds", "Active feeds, ok or failing.", labels=["state"]), feed_states
        ),
        errors,
    ]
