"""Settings of the ingest service (the watched folder, file and feed limits), read from ``RASID_...``."""

from __future__ import annotations

import re
import socket
from functools import cache
from pathlib import Path

from pydantic import Field

from shared.settings import RasidSettings, load_settings

MEGABYTE = 1024 * 1024
HOST_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,63}$"


def machine_host_name() -> str:
    """This machine's host name as a queue name may carry it (letters, digits, ``-`` and ``_``)."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0])[:63]
    return name or "localhost"


class IngestSettings(RasidSettings):
    """What the watcher, the file ingest and the feed poller need."""

    watch_dir: Path = Field(default=Path("seeds"), description="Folder watched for dropped articles.")
    rejected_dir: Path | None = Field(
        default=None, description="Where rejected files are moved; empty means <watch_dir>/rejected."
    )
    watch_polling: bool = Field(
        default=False, description="Poll the folder instead of inotify (Docker Desktop bind mounts)."
    )
    rescan_seconds: float = Field(default=60.0, gt=0, description="How often the whole folder is rescanned.")
    settle_seconds: float = Field(
        default=0.3, gt=0, description="A file whose size holds still this long is complete."
    )
    max_file_bytes: int = Field(default=5 * MEGABYTE, gt=0, description="Larger dropped files are rejected.")
    feed_poll_seconds: float = Field(default=300.0, gt=0, description="How often every feed is polled.")
    feed_timeout: float = Field(default=15.0, gt=0, description="Seconds allowed for one feed download.")
    resend_after_seconds: float = Field(
        default=300.0, gt=0, description="An article handed on but not stored after this long is sent again."
    )
    resend_sweep_seconds: float = Field(
        default=60.0, gt=0, description="How often articles handed on but never stored are looked for."
    )
    feed_max_bytes: int = Field(default=5 * MEGABYTE, gt=0, description="Larger feed responses fail.")
    host_name: str = Field(
        default_factory=machine_host_name,
        pattern=HOST_NAME_PATTERN,
        description="This host's name in its file queue (ingest.files.<host_name>): a watcher hands its "
        "files to the ingest workers of the same host name, the ones that can read its folder. Unset "
        "means the machine's host name; containers sharing one folder must set the same name.",
    )

    @property
    def rejected_folder(self) -> Path:
        """The folder rejected files are moved to."""
        return self.rejected_dir if self.rejected_dir is not None else self.watch_dir / "rejected"


@cache
def ingest_settings() -> IngestSettings:
    """The ingest settings of this process, built on first use (tests call ``cache_clear``)."""
    return load_settings(IngestSettings)
