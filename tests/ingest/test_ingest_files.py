"""Ingesting dropped files against real SQLite and PostgreSQL: ledger, duplicates, rejection."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from ingest_service.files import FileOutcome, ingest_file
from ingest_service.ledger import take_unconfirmed
from ingest_service.models import SeenArticle, SeenFile
from ingest_service.schemas import FileReady
from shared.db import session_scope
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
    return FileReady(path=str(target), size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def run(
    database_url: str, ready: FileReady, forward: Forwarded, *, max_bytes: int = MAX_BYTES
) -> FileOutcome:
    rejected = Path(ready.path).parent / "rejected"
    with session_scope(database_url) as session:
        outcome = ingest_file(session, ready, rejected_dir=rejected, max_bytes=max_bytes)
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
        assert len(row.sha256) == 64
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
        outcome = ingest_file(session, ready, rejected_dir=watch_dir / "rejected", max_bytes=MAX_BYTES)
    # The broker is down (or the worker dies) here: the article is recorded but never sent.
    assert outcome.status == "ingested" and outcome.article is not None

    assert run(database_url, ready, forwarded).status == "already_seen"
    assert forwarded == []
    later = outcome.article.ingested_at + timedelta(minutes=10)
    with session_scope(database_url) as session:
        resent = take_unconfirmed(session, now=later, older_than=timedelta(minutes=5), limit=10)
    assert resent == [outcome.article]
