"""The watched folder, with real inotify and polling observers and no broker: ``submit`` is a list."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from ingest_service import watcher as watcher_module
from ingest_service.errors import WatchFolderError
from ingest_service.schemas import FileReady
from ingest_service.watcher import FolderWatcher, WatchConfig, check_folders, is_ignored
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
        watcher = FolderWatcher(config, submitted.extend)
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
        ("README", True),
        ("a.b/news.txt", False),
        ("2026/.drafts/news.txt", True),
        ("rejected-old/news.txt", False),
        ("../inbox-2/news.txt", False),
        ("../inbox-2/.news.txt", True),
    ],
)
def test_hidden_temporary_and_rejected_files_are_ignored(relative: str, ignored: bool) -> None:
    root = Path("/data/inbox")
    path = Path(os.path.normpath(root / relative))
    assert is_ignored(path, watch_dir=root, rejected_dir=root / "rejected") is ignored


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


def test_files_in_a_folder_made_or_moved_in_after_the_start_are_handed_on_without_a_rescan(
    start_watcher: Callable[[], Running], inbox: Path, tmp_path: Path
) -> None:
    running = start_watcher()
    (inbox / "2026").mkdir()
    (inbox / "2026" / "made.txt").write_bytes(ARTICLE)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "moved.txt").write_bytes(ARTICLE + b"\n")
    outside.rename(inbox / "2027")

    # Only a folder's events tell the watcher to watch it: none of the files is found by a rescan.
    wait_until(lambda: sorted(running.paths()) == ["made.txt", "moved.txt"])


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

    def flaky(batch: Sequence[FileReady]) -> None:
        attempts.extend(batch)
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


def run_watcher(watcher: FolderWatcher) -> threading.Thread:
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    return thread


def stop_watcher(watcher: FolderWatcher, thread: threading.Thread) -> None:
    watcher.stop()
    thread.join(timeout=5)


def test_a_name_in_windows_1256_bytes_neither_stops_the_watcher_nor_is_lost(tmp_path: Path) -> None:
    name = "خبر.txt".encode("cp1256")
    with open(os.path.join(os.fsencode(tmp_path), name), "wb") as file:
        file.write(ARTICLE)
    (tmp_path / "good.txt").write_bytes(ARTICLE)
    submitted: list[FileReady] = []
    config = WatchConfig(watch_dir=tmp_path, rejected_dir=tmp_path / "rejected", settle_seconds=0.1)
    watcher = FolderWatcher(config, submitted.extend)
    thread = run_watcher(watcher)
    try:
        wait_until(lambda: len(submitted) >= 2)
        (tmp_path / "later.txt").write_bytes(ARTICLE)
        wait_until(lambda: len(submitted) >= 3)
    finally:
        stop_watcher(watcher, thread)

    odd = next(ready for ready in submitted if not ready.path.endswith(".txt"))
    assert os.path.basename(os.fsencode(FileReady.from_payload(odd.to_payload()).local_path())) == name
    assert sorted(Path(ready.path).name for ready in submitted if ready is not odd) == [
        "good.txt",
        "later.txt",
    ]


def test_a_file_the_ledger_has_not_recorded_is_submitted_again_at_a_rescan(tmp_path: Path) -> None:
    (tmp_path / "news.txt").write_bytes(ARTICLE)
    recorded: set[tuple[str, int, int]] = set()
    submitted: list[FileReady] = []
    config = WatchConfig(watch_dir=tmp_path, rejected_dir=tmp_path / "rejected", resubmit_after_seconds=0.2)
    watcher = FolderWatcher(config, submitted.extend, recorded=lambda paths: recorded)

    watcher.rescan()
    watcher.submit_settled(now=time.monotonic() + 1)
    assert len(submitted) == 1
    # Its task was lost (the database was down through every retry, the broker lost the message...).
    watcher.rescan()
    watcher.submit_settled(now=time.monotonic() + 1)
    assert len(submitted) == 1, "still in flight: not sent twice at once"
    time.sleep(0.3)
    watcher.rescan()
    watcher.submit_settled(now=time.monotonic() + 1)
    assert len(submitted) == 2 and submitted[1] == submitted[0]

    recorded.add((submitted[0].path, submitted[0].size, submitted[0].mtime_ns))
    time.sleep(0.3)
    watcher.rescan()
    watcher.submit_settled(now=time.monotonic() + 1)
    assert len(submitted) == 2, "recorded in the ledger: done"


def test_a_restarted_watcher_submits_only_what_the_ledger_has_not_recorded(tmp_path: Path) -> None:
    for name in ("done.txt", "new.txt"):
        (tmp_path / name).write_bytes(ARTICLE)
    stat = (tmp_path / "done.txt").stat()
    recorded = {(str(tmp_path / "done.txt"), stat.st_size, stat.st_mtime_ns)}
    queries: list[int] = []
    submitted: list[FileReady] = []

    def ledger(paths: Sequence[str]) -> set[tuple[str, int, int]]:
        queries.append(1)
        return recorded

    config = WatchConfig(watch_dir=tmp_path, rejected_dir=tmp_path / "rejected")
    watcher = FolderWatcher(config, submitted.extend, recorded=ledger)
    watcher.rescan()
    watcher.submit_settled(now=time.monotonic() + 1)

    assert [Path(ready.path).name for ready in submitted] == ["new.txt"]
    assert queries == [1], "one look at the ledger per rescan of a small folder"


def test_a_rescan_asks_the_ledger_about_the_folder_a_slice_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watcher_module, "LEDGER_SLICE", 4)
    for number in range(10):
        (tmp_path / f"{number}.txt").write_bytes(ARTICLE)
    asked: list[list[str]] = []

    def ledger(paths: Sequence[str]) -> set[tuple[str, int, int]]:
        asked.append(list(paths))
        return set()

    config = WatchConfig(watch_dir=tmp_path, rejected_dir=tmp_path / "rejected")
    watcher = FolderWatcher(config, lambda batch: None, recorded=ledger)
    watcher.rescan()

    assert [len(paths) for paths in asked] == [4, 4, 2]
    assert sorted(Path(path).name for paths in asked for path in paths) == sorted(
        f"{number}.txt" for number in range(10)
    )


def test_a_file_the_ledger_has_recorded_leaves_nothing_in_the_watcher(tmp_path: Path) -> None:
    recorded: set[tuple[str, int, int]] = set()
    submitted: list[FileReady] = []

    def submit(batch: Sequence[FileReady]) -> None:
        submitted.extend(batch)
        # The ingest worker: it opens and reads each file, then records it.
        for ready in batch:
            ready.local_path().read_bytes()
            recorded.add((ready.path, ready.size, ready.mtime_ns))

    config = WatchConfig(watch_dir=tmp_path, rejected_dir=tmp_path / "rejected")
    watcher = FolderWatcher(config, submit, recorded=lambda paths: recorded & _versions(paths))
    thread = run_watcher(watcher)
    try:
        time.sleep(0.2)
        for number in range(30):
            (tmp_path / f"{number}.txt").write_bytes(ARTICLE)
        # Every batch handed on (submitted and recorded, then noted by the watcher as handed): a
        # rescan while the last batch is being submitted would find it not yet handed, and leave it.
        wait_until(lambda: len(watcher._handed) == 30)
        watcher.rescan()
        # Read again and again by others (a backup, a person): nothing new to hand on.
        for number in range(30):
            (tmp_path / f"{number}.txt").read_bytes()
        time.sleep(0.5)
    finally:
        stop_watcher(watcher, thread)

    assert sorted(Path(ready.path).name for ready in submitted) == sorted(f"{n}.txt" for n in range(30))
    assert (watcher._handed, watcher._pending, watcher._open_counts, watcher._ready) == ({}, {}, {}, {})
    # The files are still in the folder: a watcher started again leaves them alone too.
    again = FolderWatcher(config, submit, recorded=lambda paths: recorded & _versions(paths))
    again.rescan()
    again.submit_settled(now=time.monotonic() + 1)
    assert len(submitted) == 30


def test_a_file_written_while_a_reader_has_it_open_goes_once_both_have_closed_it(tmp_path: Path) -> None:
    calls: list[list[FileReady]] = []
    config = WatchConfig(watch_dir=tmp_path, rejected_dir=tmp_path / "rejected", settle_seconds=3600)
    watcher = FolderWatcher(config, lambda batch: calls.append(list(batch)))
    path = tmp_path / "shared.txt"
    path.write_bytes(ARTICLE)
    for signal in ("opened", "opened", "changed", "closed"):  # a reader opened it, then its writer
        watcher._events.put((path, signal))
    watcher._drain_events(timeout=1)
    watcher.submit_settled()
    assert calls == [], "the reader still has it open"
    watcher._events.put((path, "released"))
    watcher._drain_events(timeout=1)
    watcher.submit_settled()
    assert [[Path(ready.path).name for ready in batch] for batch in calls] == [["shared.txt"]]
    assert watcher._open_counts == {}


def _versions(paths: Sequence[str]) -> set[tuple[str, int, int]]:
    """Every version the ledger could hold of ``paths``: the version of each file there now."""
    return {(path, os.stat(path).st_size, os.stat(path).st_mtime_ns) for path in paths}


def test_a_rescan_goes_on_when_the_ledger_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "news.txt").write_bytes(ARTICLE)
    submitted: list[FileReady] = []

    def ledger(paths: Sequence[str]) -> set[tuple[str, int, int]]:
        raise ConnectionError("database down")

    config = WatchConfig(watch_dir=tmp_path, rejected_dir=tmp_path / "rejected")
    watcher = FolderWatcher(config, submitted.extend, recorded=ledger)
    watcher.rescan()
    watcher.submit_settled(now=time.monotonic() + 1)

    assert [Path(ready.path).name for ready in submitted] == ["news.txt"]


def test_links_and_special_files_are_handed_on_without_being_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    (tmp_path / "zero.txt").symlink_to("/dev/zero")
    submitted: list[FileReady] = []
    config = WatchConfig(watch_dir=tmp_path, rejected_dir=tmp_path / "rejected", settle_seconds=0.1)
    watcher = FolderWatcher(config, submitted.extend)
    thread = run_watcher(watcher)
    try:
        wait_until(lambda: len(submitted) >= 3)
    finally:
        stop_watcher(watcher, thread)

    # The worker rejects each with a reason; the watcher only looked (lstat), never opened.
    assert sorted(Path(ready.path).name for ready in submitted) == ["dangling.txt", "pipe.txt", "zero.txt"]


def test_one_failing_file_does_not_stop_the_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_bytes(ARTICLE)
    submitted: list[FileReady] = []
    looked = watcher_module._current_version

    def current_version(path: Path) -> Any:
        if path.name == "a.txt":
            raise ValueError("a bug on one file")
        return looked(path)

    monkeypatch.setattr(watcher_module, "_current_version", current_version)
    config = WatchConfig(watch_dir=tmp_path, rejected_dir=tmp_path / "rejected")
    watcher = FolderWatcher(config, submitted.extend)
    watcher.rescan()
    watcher.submit_settled(now=time.monotonic() + 1)

    assert [Path(ready.path).name for ready in submitted] == ["b.txt"]


def test_watching_stops_at_start_with_advice_when_rejected_files_cannot_be_kept(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (tmp_path / "blocked").write_text("a file where the folder should be")
    config = WatchConfig(watch_dir=inbox, rejected_dir=tmp_path / "blocked" / "rejected")

    with pytest.raises(WatchFolderError) as caught:
        check_folders(config)

    message = str(caught.value)
    assert "blocked" in message and "RASID_UID" in message and "RASID_REJECTED_DIR" in message
    check_folders(WatchConfig(watch_dir=inbox, rejected_dir=inbox / "rejected"))


def test_a_burst_found_at_once_goes_in_batches_of_the_configured_size(tmp_path: Path) -> None:
    for number in range(5):
        (tmp_path / f"burst-{number}.txt").write_bytes(ARTICLE)
    calls: list[list[FileReady]] = []
    config = WatchConfig(watch_dir=tmp_path, rejected_dir=tmp_path / "rejected", batch_size=2)
    watcher = FolderWatcher(config, lambda batch: calls.append(list(batch)))
    watcher.rescan()
    watcher.submit_settled(now=time.monotonic() + 1)

    assert [len(batch) for batch in calls] == [2, 2, 1]
    names = sorted(Path(ready.path).name for batch in calls for ready in batch)
    assert names == [f"burst-{number}.txt" for number in range(5)]


def test_a_file_renamed_into_place_goes_alone_at_once_without_settling(tmp_path: Path) -> None:
    inbox, staging = tmp_path / "inbox", tmp_path / "staging"
    inbox.mkdir()
    staging.mkdir()
    calls: list[list[FileReady]] = []
    # A settle time far longer than the wait below: only the rename can have made the file complete.
    config = WatchConfig(watch_dir=inbox, rejected_dir=inbox / "rejected", settle_seconds=3600)
    watcher = FolderWatcher(config, lambda batch: calls.append(list(batch)))
    thread = run_watcher(watcher)
    try:
        time.sleep(0.2)  # let the observer start before the test writes
        (staging / "news.txt").write_bytes(ARTICLE)
        (staging / "news.txt").rename(inbox / "news.txt")
        wait_until(lambda: len(calls) >= 1)
    finally:
        stop_watcher(watcher, thread)

    assert [[Path(ready.path).name for ready in batch] for batch in calls] == [["news.txt"]]


def test_files_renamed_in_together_are_handed_on_in_few_batches(tmp_path: Path) -> None:
    inbox, staging = tmp_path / "inbox", tmp_path / "staging"
    inbox.mkdir()
    staging.mkdir()
    for number in range(300):
        (staging / f"burst-{number}.txt").write_bytes(ARTICLE)
    calls: list[list[FileReady]] = []
    config = WatchConfig(watch_dir=inbox, rejected_dir=inbox / "rejected", settle_seconds=3600)
    watcher = FolderWatcher(config, lambda batch: calls.append(list(batch)))
    thread = run_watcher(watcher)
    try:
        time.sleep(0.2)
        for path in staging.iterdir():
            path.rename(inbox / path.name)
        wait_until(lambda: sum(len(batch) for batch in calls) >= 300)
    finally:
        stop_watcher(watcher, thread)

    names = [Path(ready.path).name for batch in calls for ready in batch]
    assert sorted(names) == sorted(f"burst-{number}.txt" for number in range(300)), "each once"
    assert max(len(batch) for batch in calls) <= 200
    assert len(calls) < 300, "a burst travels in batches, not one message a file"


def test_a_batch_holds_at_most_the_configured_bytes_and_a_larger_file_goes_alone(tmp_path: Path) -> None:
    for name, size in (("a.txt", 400), ("b.txt", 400), ("c.txt", 400), ("big.txt", 5000)):
        (tmp_path / name).write_bytes(b"x" * size)
    calls: list[list[FileReady]] = []
    config = WatchConfig(watch_dir=tmp_path, rejected_dir=tmp_path / "rejected", batch_bytes=1000)
    watcher = FolderWatcher(config, lambda batch: calls.append(list(batch)))
    watcher.rescan()
    watcher.submit_settled(now=time.monotonic() + 1)

    assert all(sum(ready.size for ready in batch) <= 1000 or len(batch) == 1 for batch in calls)
    assert sorted(len(batch) for batch in calls) == [1, 1, 2]
    assert sorted(Path(ready.path).name for batch in calls for ready in batch) == [
        "a.txt",
        "b.txt",
        "big.txt",
        "c.txt",
    ]


def test_a_burst_of_events_goes_out_a_full_batch_at_a_time_while_it_is_read(tmp_path: Path) -> None:
    calls: list[list[FileReady]] = []
    config = WatchConfig(watch_dir=tmp_path, rejected_dir=tmp_path / "rejected", batch_size=2)
    watcher = FolderWatcher(config, lambda batch: calls.append(list(batch)))
    for number in range(5):
        (tmp_path / f"burst-{number}.txt").write_bytes(ARTICLE)
        watcher._events.put((tmp_path / f"burst-{number}.txt", "arrived"))

    watcher._drain_events(timeout=1)
    assert [len(batch) for batch in calls] == [2, 2], "full batches sent while the events were read"
    watcher.submit_settled()
    assert [len(batch) for batch in calls] == [2, 2, 1], "the rest at the end of the pass"
    names = sorted(Path(ready.path).name for batch in calls for ready in batch)
    assert names == [f"burst-{number}.txt" for number in range(5)]


def test_a_burst_sends_each_file_once_within_the_limits_even_when_a_batch_fails(tmp_path: Path) -> None:
    calls: list[list[FileReady]] = []
    failures = [RuntimeError("broker down")]

    def submit(batch: Sequence[FileReady]) -> None:
        if failures:
            raise failures.pop()
        calls.append(list(batch))

    size = len(ARTICLE)
    config = WatchConfig(
        watch_dir=tmp_path,
        rejected_dir=tmp_path / "rejected",
        batch_size=3,
        batch_bytes=2 * size + size // 2,
        settle_seconds=0.1,
    )
    watcher = FolderWatcher(config, submit)
    for number in range(8):
        path = tmp_path / f"burst-{number}.txt"
        path.write_bytes(ARTICLE)
        # A file may be reported more than once (closed, then moved in): it goes once all the same.
        watcher._events.put((path, "closed"))
        watcher._events.put((path, "arrived"))
    watcher._drain_events(timeout=1)  # the first batch failed: its files wait to settle again
    watcher.submit_settled()
    watcher.submit_settled(now=time.monotonic() + 1)
    assert all(len(batch) <= 2 for batch in calls), "at most the bytes of two and a half files"
    names = sorted(Path(ready.path).name for batch in calls for ready in batch)
    assert names == [f"burst-{number}.txt" for number in range(8)]
    # Reported again once sent: not sent again.
    for number in range(8):
        watcher._events.put((tmp_path / f"burst-{number}.txt", "closed"))
    watcher._drain_events(timeout=1)
    watcher.submit_settled(now=time.monotonic() + 1)
    assert sum(len(batch) for batch in calls) == 8


def test_a_lone_file_goes_at_once_in_a_pass(tmp_path: Path) -> None:
    calls: list[list[FileReady]] = []
    config = WatchConfig(watch_dir=tmp_path, rejected_dir=tmp_path / "rejected", settle_seconds=60)
    watcher = FolderWatcher(config, lambda batch: calls.append(list(batch)))
    (tmp_path / "lone.txt").write_bytes(ARTICLE)
    watcher._events.put((tmp_path / "lone.txt", "arrived"))
    watcher._drain_events(timeout=1)
    watcher.submit_settled()
    assert [[Path(ready.path).name for ready in batch] for batch in calls] == [["lone.txt"]]


def test_files_trickling_in_during_a_burst_wait_to_fill_one_batch(tmp_path: Path) -> None:
    calls: list[list[FileReady]] = []
    # A gather time far longer than the trickle below takes: the files can only go together.
    config = WatchConfig(watch_dir=tmp_path, rejected_dir=tmp_path / "rejected", gather_seconds=2)
    watcher = FolderWatcher(config, lambda batch: calls.append(list(batch)))
    paths = [tmp_path / f"burst-{number}.txt" for number in range(20)]
    for path in paths:
        path.write_bytes(ARTICLE)

    def trickle() -> None:
        watcher._events.put((paths[0], "arrived"))
        time.sleep(0.3)  # the first file's pass has ended
        for path in paths[1:]:
            watcher._events.put((path, "arrived"))
            time.sleep(0.005)

    feeder = threading.Thread(target=trickle)
    feeder.start()
    watcher._drain_events(timeout=1)
    watcher.submit_settled()
    watcher._drain_events(timeout=1)
    watcher.submit_settled()
    feeder.join()

    names = [[Path(ready.path).name for ready in batch] for batch in calls]
    assert names[0] == ["burst-0.txt"], "the first file of a quiet folder goes at once"
    assert names[1:] == [[path.name for path in paths[1:]]], "the rest of the trickle in one batch"
