"""Files uploaded from the dashboard: placed in the watched folder, to take the very path a dropped
file takes (the watcher notices it, the ingest worker reads it, the ledger records it).

The upload is written under a name the watcher ignores (hidden, ``.part``), flushed to disk, then
renamed to its final name in one step, so the watcher never sees half a file. The final name is the
uploader's name made safe (no folders, no hidden or temporary names, the extension kept) and unique
(the time and a random part), so two uploads of ``report.txt`` are two files.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath

from ingest_service.errors import UploadRefused, UploadTooLarge
from shared.documents import SUPPORTED_SUFFIXES

MAX_STEM_LENGTH = 60
_UNSAFE = re.compile(r"[^\w\- ]+")
_RUNS = re.compile(r"[\s_]+")


def upload_name(filename: str, *, now: datetime, token: str) -> str:
    """The name an upload called ``filename`` gets in the watched folder; :class:`UploadRefused`
    when its extension is not one Rasid reads."""
    base = PureWindowsPath(PurePosixPath(filename).name).name  # no folder of either kind
    base = unicodedata.normalize("NFC", base)
    stem, suffix = os.path.splitext(base)
    suffix = suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UploadRefused(f"unsupported file type {suffix or '(none)'}; Rasid reads {supported} files")
    stem = _RUNS.sub("_", _UNSAFE.sub("_", stem)).strip("._- ")[:MAX_STEM_LENGTH] or "article"
    return f"{stem}-{now:%Y%m%d%H%M%S}-{token}{suffix}"


def place_upload(
    watch_dir: Path, filename: str, chunks: Iterable[bytes], *, max_bytes: int, now: datetime
) -> Path:
    """Write ``chunks`` into ``watch_dir`` as the upload ``filename``, atomically; the path written.
    :class:`UploadRefused` (and nothing left behind) when it is over ``max_bytes`` or of a type
    Rasid does not read."""
    token = secrets.token_hex(4)
    final = watch_dir / upload_name(filename, now=now, token=token)
    watch_dir.mkdir(parents=True, exist_ok=True)
    partial = watch_dir / f".upload-{token}.part"
    try:
        _write(partial, chunks, max_bytes=max_bytes)
        if final.exists():  # the random part makes this all but impossible; never overwrite
            raise UploadRefused("a file of that name is already in the watched folder; upload it again")
        partial.rename(final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return final


def _write(path: Path, chunks: Iterable[bytes], *, max_bytes: int) -> None:
    size = 0
    with path.open("xb") as out:
        for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise UploadTooLarge(max_bytes)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if size == 0:
        raise UploadRefused("the file is empty")
