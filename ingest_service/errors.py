"""Errors the ingest service raises on purpose.

RasidError                     (shared.errors)
 └── IngestError
      ├── RejectedFile         a dropped file cannot be read: a link, a special file, unreadable, over
      │                        the size limit; ``reason`` says why (a file that is no article raises
      │                        shared's UnreadableDocument; both are rejected alike)
      ├── WatchFolderError     the watched folder cannot be read or the rejected folder written
      ├── UploadRefused        a file uploaded from the dashboard is not put in the watched folder
      │    │                   (empty, of a type Rasid does not read)
      │    └── UploadTooLarge  over the size limit a dropped file may have
      ├── FeedError            one feed could not be polled; recorded on the feed, others go on
      │    ├── FeedFetchError  network failure, timeout or an HTTP error status
      │    ├── FeedTooLargeError    the response is bigger than RASID_FEED_MAX_BYTES
      │    └── FeedParseError  the response is not an RSS or Atom feed
      └── UnknownFeedError          no feed has the URL or id given on the command line
"""

from shared.errors import RasidError


class IngestError(RasidError):
    """Base class of the ingest service's errors."""


class RejectedFile(IngestError):  # noqa: N818 -- reads as a verdict: raise RejectedFile(reason)
    """A dropped file is not read: a link, a special file, unreadable or over the size limit.
    ``reason`` is written for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WatchFolderError(IngestError):
    """The watched folder cannot be read, or the rejected folder cannot be created or written; the
    message says how to run Rasid as the folder's owner."""


class UploadRefused(IngestError):  # noqa: N818 -- reads as a verdict, like RejectedFile
    """A file uploaded from the dashboard is not placed in the watched folder; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UploadTooLarge(UploadRefused):
    """An uploaded file is larger than ``RASID_MAX_FILE_BYTES``."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the file is over the {max_bytes}-byte limit")


class FeedError(IngestError):
    """A feed could not be polled."""


class FeedFetchError(FeedError):
    """The feed could not be downloaded: network failure, timeout or HTTP error status."""


class FeedTooLargeError(FeedError):
    """The feed's response is larger than the configured cap."""


class FeedParseError(FeedError):
    """The response is not an RSS or Atom feed."""


class UnknownFeedError(IngestError):
    """No feed has the URL or id given."""
