"""Task names: the only way services address each other.

Where each task's messages are queued is the owning service's business: it declares its queues and
routes in its ``service`` module (see :mod:`shared.services`).
"""

from typing import Final

# handled by the ingest service
INGEST_FILE: Final = "ingest.ingest_file"
INGEST_FILES: Final = "ingest.ingest_files"
POLL_FEEDS: Final = "ingest.poll_feeds"
POLL_FEED: Final = "ingest.poll_feed"
CONFIRM_STORED: Final = "ingest.confirm_stored"
CONFIRM_STORED_BATCH: Final = "ingest.confirm_stored_batch"
RESEND_UNCONFIRMED: Final = "ingest.resend_unconfirmed"
# handled by the classifier service
CLASSIFY_ARTICLE: Final = "classifier.classify_article"
CLASSIFY_ARTICLES: Final = "classifier.classify_articles"
# handled by the alert service
STORE_CLASSIFIED: Final = "alert.store_classified"
STORE_CLASSIFIED_BATCH: Final = "alert.store_classified_batch"
DELIVER_ALERT: Final = "alert.deliver_alert"
SWEEP_DELIVERIES: Final = "alert.sweep_deliveries"
DELIVER_DIGEST: Final = "alert.deliver_digest"
SWEEP_DIGESTS: Final = "alert.sweep_digests"
