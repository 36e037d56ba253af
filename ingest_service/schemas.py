"""Messages the ingest service sends to itself (watcher → INGEST_FILES, POLL_FEEDS → POLL_FEED).

They stay inside the service: no other service sends or reads them. Messages between services live
in ``shared.messages``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from ingest_service.paths import path_from_text, path_text
from shared.messages import MAX_BATCH, Message


class FileReady(Message):
    """A file in the watched folder is completely written and can be ingested."""

    summary_fields = ("path", "size")

    path: str = Field(
        min_length=1,
        description="Absolute path of the file, or base64: and its bytes when they are not UTF-8 "
        "(ingest_service.paths).",
    )
    size: int = Field(ge=0)
    mtime_ns: int = Field(ge=0)

    @classmethod
    def of(cls, path: Path, *, size: int, mtime_ns: int) -> FileReady:
        """The message for one version of the file at ``path``, whatever bytes its name is."""
        return cls(path=path_text(path), size=size, mtime_ns=mtime_ns)

    def local_path(self) -> Path:
        """The file's path on this machine, byte for byte as the watcher saw it."""
        return path_from_text(self.path)


class FilesReady(Message):
    """Files of one watched folder ready together (a burst the watcher found at once; a lone file
    travels alone). The paths are the watcher's host's: the message goes to that host's file queue."""

    files: tuple[FileReady, ...] = Field(min_length=1, max_length=MAX_BATCH)

    def summary(self) -> str:
        return f"FilesReady(files={len(self.files)})"


class FeedDue(Message):
    """One feed is due to be polled."""

    summary_fields = ("feed_id",)

    feed_id: int = Field(ge=1)
