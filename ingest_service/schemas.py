"""Messages the ingest service sends to itself (watcher → INGEST_FILE, POLL_FEEDS → POLL_FEED).

They stay inside the service: no other service sends or reads them. Messages between services live
in ``shared.messages``.
"""

from __future__ import annotations

from pydantic import Field

from shared.messages import Message


class FileReady(Message):
    """A file in the watched folder is completely written and can be ingested."""

    summary_fields = ("path", "size")

    path: str = Field(min_length=1, description="Absolute path of the file.")
    size: int = Field(ge=0)
    mtime_ns: int = Field(ge=0)


class FeedDue(Message):
    """One feed is due to be polled."""

    summary_fields = ("feed_id",)

    feed_id: int = Field(ge=1)
