"""The folder's inotify events, read directly: what each change below the watched folder reports."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ingest_service.inotify import FolderEvents, Signal

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")

WAIT_LIMIT = 10.0  # a deadline so a broken reader fails instead of hanging; not a timing assertion


class Reported:
    def __init__(self) -> None:
        self.events: list[tuple[Path, Signal]] = []
        self.overflows = 0
        self._lock = threading.Lock()

    def add(self, path: Path, signal: Signal) -> None:
        with self._lock:
            self.events.append((path, signal))

    def overflowed(self) -> None:
        self.overflows += 1

    def of(self, path: Path) -> list[Signal]:
        with self._lock:
            return [signal for seen, signal in self.events if seen == path]

    def wait_for(self, path: Path, signal: Signal) -> None:
        deadline = time.monotonic() + WAIT_LIMIT
        while signal not in self.of(path):
            assert time.monotonic() < deadline, f"{signal} of {path} was not reported: {self.events}"
            time.sleep(0.01)


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


@pytest.fixture
def watch(inbox: Path) -> Iterator[Callable[[], Reported]]:
    readers: list[FolderEvents] = []

    def start() -> Reported:
        reported = Reported()
        reader = FolderEvents(inbox, reported.add, on_overflow=reported.overflowed)
        reader.start()
        readers.append(reader)
        return reported

    yield start
    for reader in readers:
        reader.stop()


def test_a_file_written_renamed_in_and_deleted_reports_each_step(
    watch: Callable[[], Reported], inbox: Path, tmp_path: Path
) -> None:
    reported = watch()
    written = inbox / "written.txt"
    written.write_bytes(b"news")
    (tmp_path / "moved.txt").write_bytes(b"news")
    (tmp_path / "moved.txt").rename(inbox / "moved.txt")
    (inbox / "moved.txt").unlink()
    reported.wait_for(inbox / "moved.txt", "gone")
    reported.wait_for(written, "closed")

    assert reported.of(written)[:2] == ["changed", "opened"]
    assert "changed" in reported.of(written) and reported.of(written)[-1] == "closed"
    assert reported.of(inbox / "moved.txt") == ["arrived", "gone"]


def test_a_file_read_reports_its_opening_and_its_release(watch: Callable[[], Reported], inbox: Path) -> None:
    path = inbox / "news.txt"
    path.write_bytes(b"news")
    reported = watch()
    path.read_bytes()
    reported.wait_for(path, "released")

    assert reported.of(path) == ["opened", "released"], "closed by a reader: not closed after writing"


def test_a_folder_moved_in_reports_its_files_and_is_watched(
    watch: Callable[[], Reported], inbox: Path, tmp_path: Path
) -> None:
    reported = watch()
    outside = tmp_path / "batch"
    (outside / "deeper").mkdir(parents=True)
    (outside / "deeper" / "old.txt").write_bytes(b"news")
    outside.rename(inbox / "batch")
    reported.wait_for(inbox / "batch" / "deeper" / "old.txt", "changed")
    (tmp_path / "new.txt").write_bytes(b"news")
    (tmp_path / "new.txt").rename(inbox / "batch" / "deeper" / "new.txt")

    reported.wait_for(inbox / "batch" / "deeper" / "new.txt", "arrived")


def test_a_folder_made_inside_is_watched(watch: Callable[[], Reported], inbox: Path) -> None:
    reported = watch()
    (inbox / "2026" / "11").mkdir(parents=True)
    path = inbox / "2026" / "11" / "news.txt"
    # The folder may be made before its parent's watch is added: written after, the file is reported
    # either by its own events or as found in the folder.
    time.sleep(0.2)
    path.write_bytes(b"news")

    reported.wait_for(path, "changed")


def test_a_folder_moved_within_is_known_by_its_new_name_and_one_moved_out_is_forgotten(
    watch: Callable[[], Reported], inbox: Path, tmp_path: Path
) -> None:
    (inbox / "before").mkdir()
    (inbox / "leaving").mkdir()
    reported = watch()
    (inbox / "before").rename(inbox / "after")
    (inbox / "leaving").rename(tmp_path / "left")
    (inbox / "after" / "news.txt").write_bytes(b"news")
    (tmp_path / "left" / "gone.txt").write_bytes(b"news")
    (inbox / "marker.txt").write_bytes(b"news")
    reported.wait_for(inbox / "marker.txt", "closed")
    # Written before or after the moved folder's watch was added: reported either way.
    reported.wait_for(inbox / "after" / "news.txt", "changed")

    reported_paths = {path for path, _ in reported.events}
    assert not any("before" in path.parts or "left" in path.parts for path in reported_paths)
    assert reported.overflows == 0
