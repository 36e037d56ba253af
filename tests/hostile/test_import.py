"""Hostile inputs of ``rasid import``: archive members named to climb out of the archive, zip bombs,
more members than allowed, links and devices in a tar, truncated archives and bad JSON lines.

Each input holds a good article too. Judged: the command ends normally with a summary, every hostile
item is rejected with a reason a person can read, the good articles are imported, and nothing is
written anywhere but the database (an archive is never extracted).
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from ingest_service import import_run, imports
from ingest_service.models import ImportedItem
from shared.db import session_scope
from shared.messages import ArticleIngested
from tests.commands import run

pytestmark = pytest.mark.hostile

SEED = Path(__file__).parents[2] / "seeds" / "000_ba543e6c3f13ccc4.txt"
SLIP_NAMES = ("../../escape.txt", "/tmp/absolute.txt", "a/../../b.txt", "..\\..\\windows.txt", "C:\\x.txt")


def good(number: int) -> bytes:
    return SEED.read_bytes() + f"\nتحديث رقم {number}.\n".encode()


def zip_slip(folder: Path) -> Path:
    path = folder / "slip.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("good/1.txt", good(1))
        for name in SLIP_NAMES:
            archive.writestr(name, good(2))
    return path


def zip_bomb(folder: Path) -> Path:
    """A member of 50 MB of zeros (a few KB compressed) and one whose header says less than it holds."""
    path = folder / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("good/1.txt", good(1))
        archive.writestr("zeros.txt", bytes(50 * 1024 * 1024))
    return path


def zip_many(folder: Path) -> Path:
    path = folder / "many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("good/1.txt", good(1))
        for number in range(30):
            archive.writestr(f"empty/{number}.txt", b"")
    return path


def zip_truncated(folder: Path) -> Path:
    data = zip_slip(folder).read_bytes()
    path = folder / "truncated.zip"
    path.write_bytes(data[: len(data) // 2])
    return path


def tar_hostile(folder: Path) -> Path:
    """Slip names, a link out, a device and a member too large, after a good article."""
    path = folder / "hostile.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        _add(archive, "good/1.txt", good(1))
        _add(archive, "../../escape.txt", good(3))
        link = tarfile.TarInfo("link.txt")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
        device = tarfile.TarInfo("zero.txt")
        device.type, device.devmajor, device.devminor = tarfile.CHRTYPE, 1, 5
        archive.addfile(device)
        _add(archive, "huge.txt", bytes(6 * 1024 * 1024))
    return path


def tar_truncated(folder: Path) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        _add(archive, "good/1.txt", good(1))
        _add(archive, "good/2.txt", good(4) * 200)
    path = folder / "truncated.tar.gz"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) - 200])
    return path


def bad_json_lines(folder: Path) -> Path:
    article = {"id": "ok", "title": "القوات تنسحب من المدينة", "text": SEED.read_text(encoding="utf-8")}
    lines = [
        json.dumps(article, ensure_ascii=False).encode(),
        b"{not json",
        b"[1, 2, 3]",
        json.dumps({"id": "no-title", "text": "نص"}).encode(),
        json.dumps({"id": None, "title": "t", "text": "x"}).encode(),
        b'{"id": "bad-utf8", "title": "\xff\xfe", "text": "x"}',
        json.dumps({"id": "english", "title": "A title", "text": "Only English text here."}).encode(),
        json.dumps({"id": "date", "title": "t", "text": "x", "published": "yesterday"}).encode(),
        b'{"id": "surrogate", "title": "\\ud800", "text": "x"}',
        b"x" * 20_000,
    ]
    path = folder / "bad.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def json_lines_truncated(folder: Path) -> Path:
    article = {"id": "ok", "title": "القوات تنسحب من المدينة", "text": SEED.read_text(encoding="utf-8")}
    data = gzip.compress((json.dumps(article, ensure_ascii=False) + "\n").encode() * 3 + bytes(200_000))
    path = folder / "truncated.jsonl.gz"
    path.write_bytes(data[: len(data) - 100])
    return path


# Each input, and how many of its items are good articles (new or duplicates) and how many rejected.
CASES: dict[str, tuple[Callable[[Path], Path], int, int]] = {
    "zip slip names": (zip_slip, 1, len(SLIP_NAMES)),
    "zip bomb": (zip_bomb, 1, 1),
    "zip with more members than allowed": (zip_many, 1, 30),
    "truncated zip": (zip_truncated, 0, 1),
    "tar with slip names, links, devices and a large member": (tar_hostile, 1, 4),
    "truncated tar.gz": (tar_truncated, 1, 1),
    "bad JSON lines": (bad_json_lines, 1, 9),
    "truncated gzip JSON lines": (json_lines_truncated, 1, 1),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_import_input(
    case: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build, accepted, rejected = CASES[case]
    monkeypatch.setattr(imports, "MAX_MEMBERS", 10)
    monkeypatch.setattr(
        imports, "MAX_LINE_BYTES", 12_000 if case == "bad JSON lines" else imports.MAX_LINE_BYTES
    )
    sent: list[ArticleIngested] = []
    monkeypatch.setattr(import_run, "_hand_on", sent.extend)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    path = build(inputs)
    before = _tree(tmp_path)

    result = run(database_url, "import", str(path))

    assert result.exit_code == 0, result.output
    assert "import done:" in result.output and "Traceback" not in result.output
    with session_scope(database_url) as session:
        rows = session.execute(select(ImportedItem.status, ImportedItem.reason)).all()
    refused = [reason for status, reason in rows if status == "rejected"]
    assert len(refused) == rejected and all(reason for reason in refused), rows
    assert not any("validation error" in reason for reason in refused), "reasons name the field and why"
    assert len(rows) - len(refused) == accepted and len(sent) == accepted
    assert _tree(tmp_path) == before  # nothing extracted, nothing written beside the input
    assert not (tmp_path.parent / "escape.txt").exists() and not Path("/tmp/absolute.txt").exists()


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def _tree(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.suffix != ".db" and "db" not in path.parts}
