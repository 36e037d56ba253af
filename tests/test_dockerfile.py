"""The Dockerfile and its .dockerignore: what the build copies is in the build context, and what a
checkout holds besides (a virtualenv, the embedded stack's data, the inbox) is not."""

from __future__ import annotations

import fnmatch
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IGNORED = [
    line.strip()
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]


def _ignored(path: str) -> bool:
    parts = Path(path).parts
    prefixes = ["/".join(parts[: end + 1]) for end in range(len(parts))]
    return any(
        fnmatch.fnmatch(prefix, pattern.removeprefix("**/")) or fnmatch.fnmatch(prefix, pattern)
        for pattern in IGNORED
        for prefix in prefixes
    )


def _copied() -> list[str]:
    sources = []
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("COPY "):
            sources += shlex.split(line)[1:-1]
    return sources


@pytest.mark.parametrize("source", _copied())
def test_what_the_build_copies_is_in_its_context(source: str) -> None:
    assert (ROOT / source).exists(), source
    assert not _ignored(source), source


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        "var/rasid.db",
        "seeds/a.txt",
        ".env",
        ".git/HEAD",
        "shared/__pycache__/cli.cpython-311.pyc",
    ],
)
def test_a_checkouts_other_contents_stay_out_of_the_context(path: str) -> None:
    assert _ignored(path), path
