"""Task and queue names: the only way services address each other."""

from typing import Final

INGEST_QUEUE: Final = "ingest"
CLASSIFY_QUEUE: Final = "classify"
ALERT_QUEUE: Final = "alert"
DELIVER_QUEUE: Final = "deliver"

# ingest_service
INGEST_FILE: Final = "ingest.ingest_file"
POLL_FEEDS: Final = "ingest.poll_feeds"
POLL_FEED: Final = "ingest.poll_feed"
CONFIRM_STORED: Final = "ingest.confirm_stored"
RESEND_UNCONFIRMED: Final = "ingest.resend_unconfirmed"
# classifier_service
CLASSIFY_ARTICLE: Final = "classifier.classify_article"
# alert_service
STORE_CLASSIFIED: Final = "alert.store_classified"
DELIVER_ALERT: Final = "alert.deliver_alert"
SWEEP_DELIVERIES: Final = "alert.sweep_deliveries"

TASK_ROUTES: Final = {
    "ingest.*": {"queue": INGEST_QUEUE},
    "classifier.*": {"queue": CLASSIFY_QUEUE},
    DELIVER_ALERT: {"queue": DELIVER_QUEUE},
    "alert.*": {"queue": ALERT_QUEUE},
}

# The queues each worker command consumes.
WORKER_QUEUES: Final = {
    "ingest": (INGEST_QUEUE,),
    "classify": (CLASSIFY_QUEUE,),
    "alert": (ALERT_QUEUE, DELIVER_QUEUE),
}
