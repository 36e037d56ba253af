"""One file, one reading: ``rasid classify FILE`` and the ingest service see the same title and text.

The same article is written in every encoding Rasid accepts, then given to the real ``rasid classify``
command (click's runner over the ``rasid`` group) and dropped into the ingest path
(``ingest_service.files.ingest_file``, whose outcome carries the message handed on to the classifier).
The classify line for the file must equal the classify line for the message the pipeline forwarded,
and every encoding must give the headline and the article id of the UTF-8 file.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ingest_service.files import ingest_file
from ingest_service.schemas import FileReady
from shared.cli import cli
from shared.db import session_scope
from shared.documents import read_document
from shared.messages import ArticleIngested, content_id
from shared.migrations import upgrade_all

SEED = Path(__file__).resolve().parents[1] / "seeds" / "001_a96cf1145acc075f.txt"
ARTICLE = SEED.read_text(encoding="utf-8")  # site boilerplate, then headlines, then the article
REFERENCE = read_document(ARTICLE.encode("utf-8"), suffix=".txt")


def _html(text: str) -> str:
    """The article as a web page: its title in <title>, every other line a paragraph."""
    document = read_document(text.encode("utf-8"), suffix=".txt")
    title, lines = document.title, document.text.splitlines()
    body = "".join(f"<p>{line}</p>" for line in lines if line)
    return (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1256">'
        f"<title>{title}</title><style>p {{direction: rtl}}</style></head>"
        f"<body><nav>الرئيسية</nav>{body}<script>track()</script></body></html>"
    )


ENCODED: dict[str, tuple[str, Callable[[str], bytes]]] = {
    "utf-8": (".txt", lambda text: text.encode("utf-8")),
    "utf-8 with BOM": (".txt", lambda text: codecs.BOM_UTF8 + text.encode("utf-8")),
    "utf-16-le with BOM": (".txt", lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le")),
    "utf-16-be with BOM": (".txt", lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be")),
    "utf-16-le": (".txt", lambda text: text.encode("utf-16-le")),
    "utf-16-be": (".txt", lambda text: text.encode("utf-16-be")),
    "windows-1256": (".txt", lambda text: text.encode("cp1256")),
    "windows-1256 with CRLF": (".txt", lambda text: text.replace("\n", "\r\n").encode("cp1256")),
    "html with meta charset": (".html", lambda text: _html(text).encode("cp1256")),
}


@pytest.fixture
def database_file(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'rasid.db'}"
    upgrade_all(url)
    return url


def _drop(folder: Path, name: str, data: bytes) -> FileReady:
    path = folder / name
    path.write_bytes(data)
    stat = path.stat()
    return FileReady(path=str(path), size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def _ingested(database_url: str, ready: FileReady) -> ArticleIngested:
    rejected_dir = Path(ready.path).parent / "rejected"
    with session_scope(database_url) as session:
        outcome = ingest_file(
            session, ready, watch_dir=rejected_dir.parent, rejected_dir=rejected_dir, max_bytes=1_000_000
        )
    assert outcome.status == "ingested", outcome.reason
    assert outcome.article is not None  # the message the ingest service hands on
    return outcome.article


def _classify(*args: str, stdin: str | None = None) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["classify", *args], input=stdin)
    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()
    row: dict[str, Any] = json.loads(line)
    return row


@pytest.mark.parametrize("encoding", list(ENCODED))
def test_classify_and_the_pipeline_read_a_file_alike(
    database_file: str, tmp_path: Path, encoding: str
) -> None:
    suffix, encode = ENCODED[encoding]
    ready = _drop(tmp_path, f"article{suffix}", encode(ARTICLE))

    from_file = _classify(ready.path)
    article = _ingested(database_file, ready)
    message = {"id": ready.path, "title": article.title, "text": article.text}
    from_pipeline = _classify("--jsonl", "-", stdin=json.dumps(message, ensure_ascii=False))

    assert from_file == from_pipeline
    assert (from_file["title"], from_file["article_id"]) == (article.title, article.article_id)
    assert article.title == REFERENCE.title
    assert article.article_id == content_id(REFERENCE.title, REFERENCE.text)
    assert from_file["tags"], "the article is about the coalition's combat role ending"
