"""The ingest service's commands (``rasid feeds ...``, ``rasid files list``) through the real ``rasid``
group against a migrated database; lists are read through ``--json``."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from ingest_service.models import SeenFile
from ingest_service.paths import path_text
from ingest_service.settings import ingest_settings
from shared.cli import cli
from shared.db import session_scope
from tests.commands import json_rows, run


def test_feed_commands_add_list_and_remove(database_url: str) -> None:
    added = run(database_url, "feeds", "add", "https://example.test/rss.xml")
    run(database_url, "feeds", "add", "https://example.test/other.xml")
    listed = json_rows(database_url, "feeds", "list")
    human = run(database_url, "feeds", "list").output
    removed = run(database_url, "feeds", "remove", "1")
    removed_by_url = run(database_url, "feeds", "remove", "https://example.test/other.xml")
    unknown = run(database_url, "feeds", "remove", "https://example.test/rss.xml")
    bad = run(database_url, "feeds", "add", "ftp://example.test/")

    assert added.exit_code == 0 and "feed 1: https://example.test/rss.xml" in added.output
    assert [(feed["id"], feed["url"]) for feed in listed] == [
        (1, "https://example.test/rss.xml"),
        (2, "https://example.test/other.xml"),
    ]
    first = listed[0]
    assert (first["active"], first["last_polled_at"], first["last_error"], first["error_count"]) == (
        True,
        None,
        None,
        0,
    )
    assert datetime.fromisoformat(first["added_at"])
    assert "last poll: never" in human and "other.xml" in human
    assert removed.exit_code == 0 and removed_by_url.exit_code == 0
    assert unknown.exit_code == 1 and "no feed with URL or id" in unknown.output
    assert bad.exit_code == 1 and "not an http:// or https:// URL" in bad.output
    assert json_rows(database_url, "feeds", "list") == []
    assert "no feeds" in run(database_url, "feeds", "list").output


def test_files_list_prints_the_ledger_newest_first(database_url: str) -> None:
    with session_scope(database_url) as session:
        for index, (name, status, reason) in enumerate(
            [("خبر.txt", "ingested", None), ("photo.txt", "rejected", "not text")]
        ):
            session.add(
                SeenFile(
                    path=f"/inbox/{name}",
                    size=10 + index,
                    mtime_ns=index,
                    sha256=str(index) * 64,
                    article_id="a" * 32 if status == "ingested" else None,
                    status=status,
                    reason=reason,
                    seen_at=datetime(2026, 11, 20, 6, index, tzinfo=UTC),
                )
            )

    listed = json_rows(database_url, "files", "list")
    output = run(database_url, "files", "list", "--json").stdout

    assert [(row["path"], row["status"], row["reason"]) for row in listed] == [
        ("/inbox/photo.txt", "rejected", "not text"),
        ("/inbox/خبر.txt", "ingested", None),
    ]
    assert (listed[1]["article_id"], listed[1]["size"], listed[1]["sha256"]) == ("a" * 32, 10, "0" * 64)
    newest = datetime(2026, 11, 20, 6, 1, tzinfo=UTC)
    # SQLite gives the ingest service's times back without their zone (they are UTC).
    assert datetime.fromisoformat(listed[0]["seen_at"]) in (newest, newest.replace(tzinfo=None))
    assert "خبر.txt" in output, "Arabic stays readable"
    assert len(json_rows(database_url, "files", "list", "--limit", "1")) == 1
    assert "rejected   /inbox/photo.txt  (not text)" in run(database_url, "files", "list").output


def test_watch_stops_at_start_with_advice_when_it_cannot_keep_rejected_files(
    database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "blocked").write_text("a file where the folder should be")
    env = {
        "RASID_DATABASE_URL": database_url,
        "RASID_WATCH_DIR": str(tmp_path / "inbox"),
        "RASID_REJECTED_DIR": str(tmp_path / "blocked" / "rejected"),
    }
    ingest_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["watch"], env=env)
    finally:
        ingest_settings.cache_clear()

    assert result.exit_code == 1
    assert "cannot create or write the rejected folder" in result.output and "RASID_UID" in result.output


def test_files_list_shows_a_name_that_is_not_utf8_with_its_bytes_escaped(database_url: str) -> None:
    name = os.fsdecode(b"/inbox/" + "خبر.txt".encode("cp1256"))
    with session_scope(database_url) as session:
        session.add(
            SeenFile(
                path=path_text(Path(name)),
                size=1,
                mtime_ns=1,
                sha256="0" * 64,
                status="rejected",
                reason="too little Arabic text",
                seen_at=datetime(2026, 11, 29, 6, 0, tzinfo=UTC),
            )
        )

    output = run(database_url, "files", "list").output

    assert r"/inbox/\xce\xc8\xd1.txt  (too little Arabic text)" in output
