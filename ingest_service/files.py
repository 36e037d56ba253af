"""Ingesting one dropped file: the ledger of files seen, de-duplication, and rejection.

A file version (path, size, mtime_ns) is handled once: a second event for it is a no-op. A file that
cannot be an article is moved to the rejected folder beside ``<name>.reason.txt``; nothing else in the
watched folder is touched. Rejected files are moved before they are recorded, so a crash in between
leaves them rejected, not stuck in the folder.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest_service.errors import RejectedFile
from ingest_service.ledger import record_if_new
from ingest_service.models import SeenFile
from ingest_service.schemas import FileReady
from shared.db import insert_ignore, utc_now
from shared.documents import Document, read_document
from shared.errors import UnreadableDocument
from shared.messages import ArticleIngested, content_id

log = logging.getLogger(__name__)

FileStatus = Literal["ingested", "duplicate", "rejected", "already_seen", "changed", "missing"]


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file event."""

    status: FileStatus
    article_id: str | None = None
    reason: str | None = None
    moved_to: Path | None = None
    # The new article, for the caller to hand on once the transaction commits.
    article: ArticleIngested | None = None


def ingest_file(session: Session, ready: FileReady, *, rejected_dir: Path, max_bytes: int) -> FileOutcome:
    """Ingest the file version ``ready`` names: record its article if new (the outcome carries it, to be
    handed on after the commit), else record why not."""
    path = Path(ready.path)
    if _already_seen(session, ready):
        return FileOutcome(status="already_seen")
    try:
        stat = path.stat()
    except FileNotFoundError:
        return FileOutcome(status="missing")
    if (stat.st_size, stat.st_mtime_ns) != (ready.size, ready.mtime_ns):
        # A newer version exists; the watcher sends its own event for it.
        return FileOutcome(status="changed")
    try:
        data = read_limited(path, max_bytes=max_bytes)
        document = read_document(data, suffix=path.suffix)
    except (RejectedFile, UnreadableDocument) as error:
        return _reject(session, ready, reason=error.reason, rejected_dir=rejected_dir)
    article = article_from_document(document, source=path.name)
    if record_if_new(session, article):
        outcome = FileOutcome(status="ingested", article_id=article.article_id, article=article)
    else:
        outcome = FileOutcome(status="duplicate", article_id=article.article_id)
    _record(session, ready, outcome=outcome, sha256=hashlib.sha256(data).hexdigest())
    log.info(
        "ingest.file_done",
        extra={"path": ready.path, "status": outcome.status, "article_id": outcome.article_id},
    )
    return outcome


def read_limited(path: Path, *, max_bytes: int) -> bytes:
    """The bytes of the file at ``path``; :class:`RejectedFile` when there are more than ``max_bytes``."""
    with path.open("rb") as file:
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise RejectedFile(f"the file is too large (over {max_bytes} bytes, the configured limit)")
    return data


def article_from_document(document: Document, *, source: str) -> ArticleIngested:
    """The message announcing a document read from a file."""
    return ArticleIngested(
        article_id=content_id(document.title, document.text),
        title=document.title,
        text=document.text,
        source=source,
        source_kind="file",
        ingested_at=utc_now(),
    )


def move_rejected(path: Path, *, rejected_dir: Path, reason: str) -> Path:
    """Move ``path`` into ``rejected_dir`` (never over another file) beside a ``.reason.txt``."""
    rejected_dir.mkdir(parents=True, exist_ok=True)
    target = _free_name(rejected_dir, path.name)
    shutil.move(path, target)
    when = utc_now().isoformat(timespec="seconds")
    note = f"Rasid did not ingest this file.\n\nReason: {reason}\nWhen: {when}\nOriginal path: {path}\n"
    target.with_name(f"{target.name}.reason.txt").write_text(note, encoding="utf-8")
    return target


def _reject(session: Session, ready: FileReady, *, reason: str, rejected_dir: Path) -> FileOutcome:
    sha256 = _sha256_file(Path(ready.path))
    moved_to = move_rejected(Path(ready.path), rejected_dir=rejected_dir, reason=reason)
    outcome = FileOutcome(status="rejected", reason=reason, moved_to=moved_to)
    _record(session, ready, outcome=outcome, sha256=sha256)
    log.warning(
        "ingest.file_rejected", extra={"path": ready.path, "moved_to": str(moved_to), "reason": reason}
    )
    return outcome


def _already_seen(session: Session, ready: FileReady) -> bool:
    statement = select(SeenFile.id).where(
        SeenFile.path == ready.path, SeenFile.size == ready.size, SeenFile.mtime_ns == ready.mtime_ns
    )
    return session.execute(statement).first() is not None


def _record(session: Session, ready: FileReady, *, outcome: FileOutcome, sha256: str) -> None:
    values = {
        "path": ready.path,
        "size": ready.size,
        "mtime_ns": ready.mtime_ns,
        "sha256": sha256,
        "article_id": outcome.article_id,
        "status": outcome.status,
        "reason": outcome.reason,
        "seen_at": utc_now(),
    }
    insert_ignore(session, SeenFile.__table__, values, conflict_columns=["path", "size", "mtime_ns"])


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _free_name(folder: Path, name: str) -> Path:
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, number = folder / name, 1
    while candidate.exists() or candidate.with_name(f"{candidate.name}.reason.txt").exists():
        number += 1
        candidate = folder / f"{stem} ({number}){suffix}"
    return candidate
