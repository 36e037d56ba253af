"""Ingesting dropped files against real SQLite and PostgreSQL: ledger, duplicates, rejection."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import select

from ingest_service import files
from ingest_service.files import FileOutcome, ingest_file
from ingest_service.ledger import take_unconfirmed
from ingest_service.models import SeenArticle, SeenFile
from ingest_service.schemas import FileReady
from shared.db import session_scope
from shared.documents import read_document
from shared.messages import ArticleIngested
from tests.ingest.helpers import FILE_FIXTURES, Forwarded

MAX_BYTES = 100_000


@pytest.fixture
def watch_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def drop(watch_dir: Path, fixture: str, name: str | None = None) -> FileReady:
    target = watch_dir / (name or fixture)
    shutil.copyfile(FILE_FIXTURES / fixture, target)
    stat = target.stat()
    return FileReady.of(target, size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def run(
    database_url: str,
    ready: FileReady,
    forward: Forwarded,
    *,
    max_bytes: int = MAX_BYTES,
    watch_dir: Path | None = None,
) -> FileOutcome:
    folder = watch_dir or ready.local_path().parent
    with session_scope(database_url) as session:
        outcome = ingest_file(
            session, ready, watch_dir=folder, rejected_dir=folder / "rejected", max_bytes=max_bytes
        )
    if outcome.article is not None:
        forward(outcome.article)
    return outcome


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_new_file_is_handed_on_once_and_recorded(
    database_url: str, watch_dir: Path, forwarded: Forwarded
) -> None:
    ready = drop(watch_dir, "utf8.txt", "خبر.txt")

    first = run(database_url, ready, forwarded)
    second = run(database_url, ready, forwarded)

    assert (first.status, second.status) == ("ingested", "already_seen")
    assert len(forwarded) == 1
    article = forwarded[0]
    assert isinstance(article, ArticleIngested)
    assert (article.source, article.source_kind, article.article_id) == ("خبر.txt", "file", first.article_id)
    with session_scope(database_url) as session:
        row = session.execute(select(SeenFile)).scalar_one()
        assert (row.path, row.status, row.article_id, row.size) == (
            ready.path,
            "ingested",
            first.article_id,
            ready.size,
        )
        assert row.sha256 is not None and len(row.sha256) == 64
        assert session.execute(select(SeenArticle.source)).scalars().all() == ["خبر.txt"]
    assert (watch_dir / "خبر.txt").exists()


@pytest.mark.parametrize("variant", ["utf8.txt", "cp1256.txt", "utf16le.txt", "utf8-bom.txt"])
def test_same_text_under_another_name_or_encoding_is_a_duplicate(
    database_url: str, watch_dir: Path, forwarded: Forwarded, variant: str
) -> None:
    original = run(database_url, drop(watch_dir, "utf8.txt", "original.txt"), forwarded)

    again = run(database_url, drop(watch_dir, variant, f"copy-{variant}"), forwarded)

    assert again.status == "duplicate"
    assert again.article_id == original.article_id
    assert len(forwarded) == 1
    with session_scope(database_url) as session:
        statuses = session.execute(select(SeenFile.status).order_by(SeenFile.id)).scalars().all()
    assert statuses == ["ingested", "duplicate"]


def test_rejected_file_is_moved_beside_its_reason_and_nothing_else_changes(
    database_url: str, watch_dir: Path, forwarded: Forwarded
) -> None:
    drop(watch_dir, "utf8.txt", "good.txt")
    (watch_dir / "notes").mkdir()
    drop(watch_dir / "notes", "cp1256.txt")
    ready = drop(watch_dir, "binary.txt", "scan.txt")
    before = snapshot(watch_dir)

    outcome = run(database_url, ready, forwarded)

    assert outcome.status == "rejected"
    assert outcome.moved_to == watch_dir / "rejected" / "scan.txt"
    assert outcome.moved_to.read_bytes() == (FILE_FIXTURES / "binary.txt").read_bytes()
    reason = (watch_dir / "rejected" / "scan.txt.reason.txt").read_text(encoding="utf-8")
    assert "binary" in reason and ready.path in reason
    after = snapshot(watch_dir)
    del before["scan.txt"]
    assert {name: value for name, value in after.items() if not name.startswith("rejected/")} == before
    assert forwarded == []
    with session_scope(database_url) as session:
        row = session.execute(select(SeenFile)).scalar_one()
        assert (row.status, row.article_id) == ("rejected", None)
        assert "binary" in (row.reason or "")


def test_rejected_file_never_overwrites_an_earlier_one(
    database_url: str, watch_dir: Path, forwarded: Forwarded
) -> None:
    first = run(database_url, drop(watch_dir, "empty.txt", "note.txt"), forwarded)
    second = run(database_url, drop(watch_dir, "english.txt", "note.txt"), forwarded)

    assert first.moved_to == watch_dir / "rejected" / "note.txt"
    assert second.moved_to == watch_dir / "rejected" / "note (2).txt"
    assert (watch_dir / "rejected" / "note (2).txt.reason.txt").read_text(encoding="utf-8").count(
        "too little Arabic"
    ) == 1
    assert first.moved_to.read_bytes() == b""


def test_file_over_the_size_limit_is_rejected(
    database_url: str, watch_dir: Path, forwarded: Forwarded
) -> None:
    outcome = run(database_url, drop(watch_dir, "utf8.txt"), forwarded, max_bytes=100)

    assert outcome.status == "rejected"
    assert "too large" in (outcome.reason or "")


def test_event_for_an_older_version_is_skipped(
    database_url: str, watch_dir: Path, forwarded: Forwarded
) -> None:
    ready = drop(watch_dir, "utf8.txt")
    with Path(ready.path).open("ab") as file:
        file.write("سطر إضافي".encode())

    assert run(database_url, ready, forwarded).status == "changed"
    Path(ready.path).unlink()
    assert run(database_url, ready, forwarded).status == "missing"
    assert forwarded == []


def test_a_send_lost_after_the_commit_is_made_again_by_the_resend_sweep(
    database_url: str, watch_dir: Path, forwarded: Forwarded
) -> None:
    ready = drop(watch_dir, "utf8.txt")

    with session_scope(database_url) as session:
        outcome = ingest_file(
            session, ready, watch_dir=watch_dir, rejected_dir=watch_dir / "rejected", max_bytes=MAX_BYTES
        )
    # The broker is down (or the worker dies) here: the article is recorded but never sent.
    assert outcome.status == "ingested" and outcome.article is not None

    assert run(database_url, ready, forwarded).status == "already_seen"
    assert forwarded == []
    later = outcome.article.ingested_at + timedelta(minutes=10)
    with session_scope(database_url) as session:
        resent = take_unconfirmed(session, now=later, older_than=timedelta(minutes=5), limit=10)
    assert resent == [outcome.article]


# What the watched folder may hold besides well-behaved files: odd names, links, special files.
CP1256_NAME = "خبر عاجل.txt".encode("cp1256")  # an old archive's name: not UTF-8


def drop_bytes_name(watch_dir: Path, name: bytes, fixture: str) -> FileReady:
    target = os.path.join(os.fsencode(watch_dir), name)
    with open(target, "wb") as file:
        file.write((FILE_FIXTURES / fixture).read_bytes())
    stat = os.stat(target)
    return FileReady.of(Path(os.fsdecode(target)), size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def ready_for(path: Path) -> FileReady:
    stat = path.lstat()
    return FileReady.of(path, size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def run_with_deadline(call: Callable[[], FileOutcome]) -> FileOutcome:
    """Run ``call`` in a thread: a reader that blocks or loops fails the test instead of hanging it."""
    outcome: list[FileOutcome] = []
    thread = threading.Thread(target=lambda: outcome.append(call()), daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive(), "the worker blocked or looped on the file"
    return outcome[0]


def test_a_file_whose_name_is_not_utf8_is_ingested(
    database_url: str, watch_dir: Path, forwarded: Forwarded
) -> None:
    ready = drop_bytes_name(watch_dir, CP1256_NAME, "utf8.txt")

    outcome = run(database_url, FileReady.from_payload(ready.to_payload()), forwarded)
    again = run(database_url, ready, forwarded)

    assert (outcome.status, again.status) == ("ingested", "already_seen")
    assert os.fsencode(ready.local_path()) == os.path.join(os.fsencode(watch_dir), CP1256_NAME)
    assert forwarded[0].source == r"\xce\xc8\xd1 \xda\xc7\xcc\xe1.txt"
    with session_scope(database_url) as session:
        assert session.execute(select(SeenFile.path)).scalar_one() == ready.path


def test_a_file_whose_name_is_not_utf8_is_rejected_with_a_readable_reason(
    database_url: str, watch_dir: Path, forwarded: Forwarded
) -> None:
    ready = drop_bytes_name(watch_dir, CP1256_NAME, "english.txt")

    outcome = run(database_url, ready, forwarded)

    assert outcome.status == "rejected" and outcome.moved_to is not None
    assert os.path.basename(os.fsencode(outcome.moved_to)) == CP1256_NAME
    reason = outcome.moved_to.with_name(outcome.moved_to.name + ".reason.txt").read_text(encoding="utf-8")
    assert "too little Arabic" in reason and r"\xce\xc8\xd1" in reason


def test_a_symlink_is_rejected_and_its_target_outside_the_folder_is_not_read(
    database_url: str, watch_dir: Path, forwarded: Forwarded, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    shutil.copyfile(FILE_FIXTURES / "utf8.txt", secret)
    (watch_dir / "link.txt").symlink_to(secret)

    outcome = run(database_url, ready_for(watch_dir / "link.txt"), forwarded)

    assert outcome.status == "rejected" and "symbolic link" in (outcome.reason or "")
    assert forwarded == []
    assert outcome.moved_to is not None and outcome.moved_to.is_symlink(), "the link moves, not its target"
    assert secret.read_bytes() == (FILE_FIXTURES / "utf8.txt").read_bytes()


def test_a_symlink_to_an_endless_device_is_rejected_without_reading_it(
    database_url: str, watch_dir: Path, forwarded: Forwarded
) -> None:
    (watch_dir / "x.txt").symlink_to("/dev/zero")

    outcome = run_with_deadline(lambda: run(database_url, ready_for(watch_dir / "x.txt"), forwarded))

    assert outcome.status == "rejected" and "symbolic link" in (outcome.reason or "")


def test_a_fifo_is_rejected_without_blocking_the_worker(
    database_url: str, watch_dir: Path, forwarded: Forwarded
) -> None:
    os.mkfifo(watch_dir / "pipe.txt")

    outcome = run_with_deadline(lambda: run(database_url, ready_for(watch_dir / "pipe.txt"), forwarded))

    assert outcome.status == "rejected" and "not a regular file" in (outcome.reason or "")
    assert not (watch_dir / "pipe.txt").exists()
    with session_scope(database_url) as session:
        row = session.execute(select(SeenFile)).scalar_one()
        assert (row.status, row.sha256) == ("rejected", None)


@pytest.fixture(params=["proc", "no proc"])
def resolving(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A file's path resolved as Linux shows it in /proc, and as elsewhere, from the path itself."""
    if request.param == "no proc":
        monkeypatch.setattr(files, "_DESCRIPTORS", str(tmp_path / "no-proc"))
    return str(request.param)


def test_a_file_under_a_symlinked_folder_outside_the_watched_folder_is_rejected(
    database_url: str, watch_dir: Path, forwarded: Forwarded, tmp_path: Path, resolving: str
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copyfile(FILE_FIXTURES / "utf8.txt", outside / "news.txt")
    (watch_dir / "linked").symlink_to(outside)

    outcome = run(database_url, ready_for(watch_dir / "linked" / "news.txt"), forwarded, watch_dir=watch_dir)

    assert outcome.status == "rejected" and "outside the watched folder" in (outcome.reason or "")
    assert forwarded == []


def test_a_file_under_a_symlinked_folder_inside_the_watched_folder_is_read(
    database_url: str, watch_dir: Path, forwarded: Forwarded, resolving: str
) -> None:
    (watch_dir / "2026").mkdir()
    shutil.copyfile(FILE_FIXTURES / "utf8.txt", watch_dir / "2026" / "news.txt")
    (watch_dir / "latest").symlink_to(watch_dir / "2026")

    outcome = run(database_url, ready_for(watch_dir / "latest" / "news.txt"), forwarded, watch_dir=watch_dir)

    assert outcome.status == "ingested" and len(forwarded) == 1


def test_an_unreadable_file_is_rejected_with_a_reason(
    database_url: str, watch_dir: Path, forwarded: Forwarded, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready = drop(watch_dir, "utf8.txt", "locked.txt")
    real_open = os.open

    def open_as_another_user(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        # The tests may run as root, who reads a chmod 000 file anyway: refuse it as the kernel would.
        if os.fsdecode(path) == ready.path:
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_as_another_user)
    outcome = run(database_url, ready, forwarded)

    assert outcome.status == "rejected" and "permission" in (outcome.reason or "").lower()


def test_a_file_that_vanishes_while_it_is_read_is_gone_not_an_error(
    database_url: str, watch_dir: Path, forwarded: Forwarded, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready = drop(watch_dir, "english.txt")
    real_read = read_document

    def read_then_vanish(data: bytes, *, suffix: str) -> Any:
        Path(ready.path).unlink()  # another program takes the file away meanwhile
        return real_read(data, suffix=suffix)

    monkeypatch.setattr(files, "read_document", read_then_vanish)
    outcome = run(database_url, ready, forwarded)

    assert outcome.status == "missing"
    assert not (watch_dir / "rejected" / "english.txt").exists()


def test_a_file_taken_away_while_its_folder_is_checked_is_gone_not_outside(
    database_url: str, watch_dir: Path, forwarded: Forwarded, monkeypatch: pytest.MonkeyPatch, resolving: str
) -> None:
    ready = drop(watch_dir, "english.txt")
    real_inside = files._inside

    def vanish_then_check(path: Path, descriptor: int, info: os.stat_result, *, root: Path) -> bool:
        Path(ready.path).unlink()  # deleted between the open and the check of its folders
        return real_inside(path, descriptor, info, root=root)

    monkeypatch.setattr(files, "_inside", vanish_then_check)
    outcome = run(database_url, ready, forwarded)

    assert outcome.status == "missing"
    assert forwarded == [] and not (watch_dir / "rejected").exists()


def test_a_long_arabic_name_is_rejected_beside_a_reason_that_fits_the_file_system(
    database_url: str, watch_dir: Path, forwarded: Forwarded
) -> None:
    name = "ا" * 125 + ".txt"  # 254 bytes: the name plus ".reason.txt" would not fit in 255
    outcome = run(database_url, drop(watch_dir, "english.txt", name), forwarded)

    assert outcome.status == "rejected" and outcome.moved_to is not None
    assert outcome.moved_to.suffix == ".txt"
    reasons = list((watch_dir / "rejected").glob("*.reason.txt"))
    assert [reason.name for reason in reasons] == [outcome.moved_to.name + ".reason.txt"]
    assert len(os.fsencode(reasons[0].name)) <= 255
    assert "too little Arabic" in reasons[0].read_text(encoding="utf-8")


def test_rejecting_never_overwrites_even_when_the_free_name_was_taken_meanwhile(
    watch_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (watch_dir / "a").mkdir()
    (watch_dir / "b").mkdir()
    (watch_dir / "a" / "note.txt").write_bytes(b"first")
    (watch_dir / "b" / "note.txt").write_bytes(b"second")
    rejected = watch_dir / "rejected"
    first = files.move_rejected(watch_dir / "a" / "note.txt", rejected_dir=rejected, reason="one")
    # Another worker may take a name between any check and the move: every check is stale.
    monkeypatch.setattr(Path, "exists", lambda _self, **_kwargs: False)

    second = files.move_rejected(watch_dir / "b" / "note.txt", rejected_dir=rejected, reason="two")

    assert first != second
    assert (first.read_bytes(), second.read_bytes()) == (b"first", b"second")
    assert "one" in first.with_name(first.name + ".reason.txt").read_text(encoding="utf-8")
    assert "two" in second.with_name(second.name + ".reason.txt").read_text(encoding="utf-8")


def test_a_reader_failure_is_a_rejection_with_a_reason(
    database_url: str, watch_dir: Path, forwarded: Forwarded, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_reader(data: bytes, *, suffix: str) -> Any:
        raise ValueError("malformed input")

    monkeypatch.setattr(files, "read_document", broken_reader)
    outcome = run(database_url, drop(watch_dir, "utf8.txt"), forwarded)

    assert outcome.status == "rejected" and "could not read" in (outcome.reason or "")


def test_a_file_whose_reading_outlasts_the_task_time_limit_is_rejected(
    database_url: str, watch_dir: Path, forwarded: Forwarded, monkeypatch: pytest.MonkeyPatch
) -> None:
    def endless_reader(data: bytes, *, suffix: str) -> Any:
        raise SoftTimeLimitExceeded()  # what the worker raises in a task past its soft time limit

    monkeypatch.setattr(files, "read_document", endless_reader)
    outcome = run(database_url, drop(watch_dir, "utf8.txt"), forwarded)

    assert outcome.status == "rejected" and "longer than a task may run" in (outcome.reason or "")
