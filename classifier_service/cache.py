"""A per-user cache of compiled taxonomies, so a script starts without rebuilding the index.

A compiled taxonomy is plain data (dicts, tuples, lists, frozensets, strings, numbers), written with
:mod:`marshal` under a key that hashes the taxonomy and gazetteer files, the code that compiles them
and the Python version. A cache that cannot be read or written is ignored: the classifier is built.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent
# The code that compiles the index and reads it back: every module of the service, so that no
# module can be left out of the key (a change to one that does not matter costs one rebuild), and
# what it uses of shared: the Arabic folding, the word forms, the gazetteer and data-file readers.
_SHARED = _PACKAGE.parent / "shared"
CODE_FILES = (
    *sorted(_PACKAGE.glob("*.py")),
    *(_SHARED / name for name in ("arabic.py", "forms.py", "gazetteer.py", "datafile.py")),
)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/rasid``, else ``~/.cache/rasid``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rasid"


def cache_key(data_files: tuple[Path, ...]) -> str:
    """A hash of the data files, the compiling code and the Python (and marshal) version."""
    digest = hashlib.sha256(f"{sys.version}|{marshal.version}".encode())
    for path in (*data_files, *CODE_FILES):
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def read_cached(directory: Path, key: str) -> Any | None:
    """The state stored under ``key``, or None when missing or unreadable."""
    try:
        return marshal.loads((directory / f"classifier-{key}.bin").read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None


def write_cached(directory: Path, key: str, state: Any) -> None:
    """Store ``state`` under ``key`` atomically; a cache that cannot be written is skipped."""
    # Imported here: a run that reads the cache never writes it, and tempfile (with the shutil,
    # random, bz2 and lzma modules it imports) was 11M of the 542M instructions of its start.
    import tempfile

    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".classifier-", delete=False) as file:
            file.write(marshal.dumps(state))
        os.replace(file.name, directory / f"classifier-{key}.bin")
    except (OSError, ValueError):
        return
