"""The watched folder, with real inotify and polling observers and no broker: ``submit`` is a list."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ingest_service.schemas import FileReady
from ingest_service.watcher import FolderWatcher, WatchConfig, is_ignored
from tests.ingest.helpers import FILE_FIXTURES

ARTICLE = (FILE_FIXTURES / "utf8.txt").read_bytes()
WAIT_LIMIT = 10.0  # a deadline so a broken watcher fails instead of hanging; not a timing assertion


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_LIMIT
    while not condition():
        assert time.monotonic() < deadline, "the watcher did not get there in time"
        time.sleep(0.05)


class Running:
    def __init__(self, watcher: FolderWatcher, submitted: list[FileReady]) -> None:
        self.watcher, self.submitted = watcher, submitted

    def paths(self) -> list[str]:
        return [Path(ready.path).name for ready in self.submitted]

    def settle(self) -> None:
        """Let the watcher see everything there is to see (a rescan, then a few settle intervals)."""
        self.watcher.rescan()
        time.sleep(0.6)


@pytest.fixture(params=["inotify", "polling"])
def start_watcher(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Running]]:
    folder = tmp_path / "inbox"
    folder.mkdir()
    config = WatchConfig(
        watch_dir=folder,
        rejected_dir=folder / "rejected",
        polling=request.param == "polling",
        settle_seconds=0.3,
        rescan_seconds=3600,
        polling_interval=0.1,
    )
    submitted: list[FileReady] = []
    threads: list[tuple[FolderWatcher, threading.Thread]] = []

    def start() -> Running:
        watcher = FolderWatcher(config, submitted.append)
        thread = threading.Thread(target=watcher.run, daemon=True)
        thread.start()
        threads.append((watcher, thread))
        time.sleep(0.2)  # let the observer start before the test writes
        return Running(watcher, submitted)

    yield start
    for watcher, thread in threads:
        watcher.stop()
        thread.join(timeout=5)


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    return tmp_path / "inbox"


@pytest.mark.parametrize(
    ("relative", "ignored"),
    [
        ("news.txt", False),
        ("news.HTML", False),
        ("sub/news.htm", False),
        (".hidden.txt", True),
        (".cache/news.txt", True),
        ("news.txt.part", True),
        ("news.txt~", True),
        (".news.txt.swp", True),
        ("news.tmp", True),
        ("download.crdownload", True),
        ("rejected/news.txt", True),
        ("rejected/news.txt.reason.txt", True),
        ("photo.jpg", True),
    ],
)
def test_hidden_temporary_and_rejected_files_are_ignored(relative: str, ignored: bool) -> None:
    root = Path("/data/inbox")
    assert is_ignored(root / relative, watch_dir=root, rejected_dir=root / "rejected") is ignored


def test_files_dropped_while_down_are_found_at_start(
    start_watcher: Callable[[], Running], inbox: Path
) -> None:
    (inbox / "before.txt").write_bytes(ARTICLE)
    (inbox / "sub").mkdir()
    (inbox / "sub" / "page.html").write_bytes(ARTICLE)
    (inbox / ".secret.txt").write_bytes(ARTICLE)
    (inbox / "half.txt.part").write_bytes(ARTICLE)
    (inbox / "rejected").mkdir()
    (inbox / "rejected" / "old.txt").write_bytes(ARTICLE)

    running = start_watcher()
    wait_until(lambda: len(running.submitted) >= 2)
    running.settle()

    assert sorted(running.paths()) == ["before.txt", "page.html"]
    ready = next(ready for ready in running.submitted if ready.path.endswith("before.txt"))
    assert ready.size == len(ARTICLE)
    assert Path(ready.path).is_absolute()


def test_a_slowly_written_file_is_handed_on_once_and_whole(
    start_watcher: Callable[[], Running], inbox: Path
) -> None:
    running = start_watcher()
    chunks = [ARTICLE[index : index + 64] for index in range(0, len(ARTICLE), 64)]

    with (inbox / "slow.txt").open("wb") as file:
        for chunk in chunks:
            file.write(chunk)
            file.flush()
            time.sleep(0.05)
    wait_until(lambda: len(running.submitted) >= 1)
    running.settle()

    assert running.paths() == ["slow.txt"]
    assert running.submitted[0].size == len(ARTICLE)
    assert running.submitted[0].mtime_ns == (inbox / "slow.txt").stat().st_mtime_ns


def test_temporary_file_renamed_into_place_is_handed_on_under_its_final_name(
    start_watcher: Callable[[], Running], inbox: Path
) -> None:
    running = start_watcher()

    (inbox / "download.txt.part").write_bytes(ARTICLE)
    (inbox / "download.txt.part").rename(inbox / "download.txt")
    (inbox / "~$lock.txt~").write_bytes(b"x")
    wait_until(lambda: len(running.submitted) >= 1)
    running.settle()

    assert running.paths() == ["download.txt"]


def test_a_changed_file_is_handed_on_again_as_a_new_version(
    start_watcher: Callable[[], Running], inbox: Path
) -> None:
    running = start_watcher()
    (inbox / "edited.txt").write_bytes(ARTICLE)
    wait_until(lambda: len(running.submitted) >= 1)

    (inbox / "edited.txt").write_bytes(ARTICLE + "\nتحديث".encode())
    wait_until(lambda: len(running.submitted) >= 2)
    running.settle()

    assert running.paths() == ["edited.txt", "edited.txt"]
    assert running.submitted[1].size > running.submitted[0].size


def test_a_failed_submit_is_offered_again(tmp_path: Path) -> None:
    attempts: list[FileReady] = []

    def flaky(ready: FileReady) -> None:
        attempts.append(ready)
        if len(attempts) == 1:
            raise ConnectionError("broker down")

    (tmp_path / "news.txt").write_bytes(ARTICLE)
    config = WatchConfig(watch_dir=tmp_path, rejected_dir=tmp_path / "rejected", settle_seconds=0.1)
    watcher = FolderWatcher(config, flaky)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(attempts) >= 2)
    finally:
        watcher.stop()
        thread.join(timeout=5)

    assert attempts[0] == attempts[1]
