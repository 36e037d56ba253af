"""How a dropped file's path is written as text: in the watcher's message, the ledger and reasons.

On Linux a file name is bytes, and an old archive's Arabic names are often Windows-1256 bytes, not
UTF-8. Python reads such a name with surrogate escapes, which no message, database or UTF-8 file can
hold. So a path is written as itself when its bytes are UTF-8, and as ``base64:`` and its bytes
otherwise (never an absolute path, so the two cannot be confused); :func:`path_from_text` gives the
very bytes back. People read :func:`readable_path`: undecodable bytes and control characters as
``\\xNN``.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

BYTES_PREFIX = "base64:"
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def path_text(path: Path) -> str:
    """``path`` as text that any message, database column or UTF-8 file can hold."""
    raw = os.fsencode(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return BYTES_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii")


def path_from_text(text: str) -> Path:
    """The path :func:`path_text` wrote as ``text``, byte for byte."""
    if text.startswith(BYTES_PREFIX):
        return Path(os.fsdecode(base64.urlsafe_b64decode(text.removeprefix(BYTES_PREFIX))))
    return Path(text)


def decoded_path(path: Path | str) -> str:
    """``path`` as text with its bytes that are not UTF-8 written as ``\\xNN``, nothing else changed."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def readable_path(path: Path | str) -> str:
    """``path`` for a person: bytes that are not UTF-8 and control characters written as ``\\xNN``."""
    return _CONTROLS.sub(lambda match: f"\\x{ord(match.group()):02x}", decoded_path(path))
