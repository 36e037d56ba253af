"""Ingesting dropped files, a batch at a time: the ledger of files seen, de-duplication, and rejection.

A file version (path, size, mtime_ns) is handled once: a second event for it is a no-op. A batch
costs one query for the versions seen, one for the articles seen, and one multi-row insert each for
the new articles and the files' outcomes, whatever its size. Only a
regular file inside the watched folder is read: it is opened without following a link and without
waiting on a FIFO, checked on the open descriptor (``fstat``), read once up to the size limit, and
hashed from the bytes read, so a link to ``/dev/zero`` or to a file elsewhere is never read.

A file that cannot be an article (a link, a FIFO or device, an unreadable or oversized file, a
document that is not Arabic text) is moved to the rejected folder beside ``<name>.reason.txt``;
nothing else in the watched folder is touched. A link is moved as a link, never its target; each
name in the rejected folder is claimed atomically, so two workers never overwrite each other's
files. Rejected files are moved before they are recorded, so a crash in between leaves them
rejected, not stuck in the folder; a file that cannot be moved is recorded as rejected where it is.
A file that vanished meanwhile is gone, not an error.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import logging
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest_service.errors import RejectedFile
from ingest_service.ledger import FileVersion, record_files, record_new
from ingest_service.models import FILE_STATUSES, SeenFile
from ingest_service.paths import readable_path
from ingest_service.schemas import FileReady
from shared.db import utc_now
from shared.documents import Document, not_regular_reason, read_document
from shared.errors import UnreadableDocument
from shared.messages import ArticleIngested, content_id

log = logging.getLogger(__name__)

FileStatus = Literal["ingested", "duplicate", "rejected", "already_seen", "changed", "missing"]
REASON_SUFFIX = ".reason.txt"
# The longest file name most file systems take, in bytes; a rejected file's reason adds its suffix.
MAX_NAME_BYTES = 255
# The ledger's path column; a longer path is rejected (a shallower folder or a shorter name fixes it).
MAX_PATH_CHARACTERS = 1024
# Not following a link (ELOOP instead), not waiting for a FIFO's writer.
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_READ_CHUNK = 1024 * 1024
# Where Linux shows the path each open descriptor of this process was opened by.
_DESCRIPTORS = "/proc/self/fd"


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file event."""

    status: FileStatus
    article_id: str | None = None
    reason: str | None = None
    moved_to: Path | None = None
    # The new article, for the caller to hand on once the transaction commits.
    article: ArticleIngested | None = None


class _NewerVersionError(Exception):
    """The file on disk is a newer version than the one the event names."""


class _Outside(RejectedFile):
    """The file is reached through a linked folder: it lives outside the watched folder."""


def ingest_file(
    session: Session, ready: FileReady, *, watch_dir: Path, rejected_dir: Path, max_bytes: int
) -> FileOutcome:
    """Ingest the file version ``ready`` names: :func:`ingest_files` of a batch of one."""
    (outcome,) = ingest_files(
        session, [ready], watch_dir=watch_dir, rejected_dir=rejected_dir, max_bytes=max_bytes
    )
    return outcome


def ingest_files(
    session: Session, batch: Sequence[FileReady], *, watch_dir: Path, rejected_dir: Path, max_bytes: int
) -> list[FileOutcome]:
    """Ingest the file versions of ``batch``: one query for those the ledger has seen, each other file
    read (one that cannot be an article moved aside), the new articles recorded in one insert and every
    file's outcome in another. The outcomes, in the batch's order, carry the new articles, to be handed
    on after the commit; of two files with one article, the first is ingested, the other a duplicate."""
    seen = _recorded_versions(session, batch)
    # Resolved once for the batch: each file's own path is resolved as it is read.
    root = watch_dir.resolve()
    steps: list[_Decided | _Decoded] = []
    for ready in batch:
        if _version(ready) in seen:
            steps.append(_Decided(ready, FileOutcome(status="already_seen")))
            continue
        seen.add(_version(ready))
        steps.append(_read_one(ready, root=root, rejected_dir=rejected_dir, max_bytes=max_bytes))
    decoded = [step.article for step in steps if isinstance(step, _Decoded)]
    fresh = {article.article_id for article in record_new(session, decoded)}
    decided = [step if isinstance(step, _Decided) else step.decide(fresh) for step in steps]
    rows = [step.row() for step in decided if step.outcome.status in FILE_STATUSES]
    record_files(session, rows)
    for step in decided:
        step.log()
    return [step.outcome for step in decided]


@dataclass(frozen=True)
class _Decided:
    """A file version and what became of it, with the hash of the bytes read (None if none were)."""

    ready: FileReady
    outcome: FileOutcome
    sha256: str | None = None

    def row(self) -> dict[str, object]:
        """The file's row in the ledger."""
        return {
            "path": self.ready.path[:MAX_PATH_CHARACTERS],
            "size": self.ready.size,
            "mtime_ns": self.ready.mtime_ns,
            "sha256": self.sha256,
            "article_id": self.outcome.article_id,
            "status": self.outcome.status,
            "reason": self.outcome.reason,
            "seen_at": utc_now(),
        }

    def log(self) -> None:
        outcome = self.outcome
        if outcome.status == "rejected":
            moved = readable_path(outcome.moved_to) if outcome.moved_to else None
            log.warning(
                "ingest.file_rejected",
                extra={"path": self._readable_path(), "moved_to": moved, "reason": outcome.reason},
            )
        # Asked first: below INFO, a burst's lines would cost each file its path's decoding for nothing.
        elif outcome.status in ("ingested", "duplicate") and log.isEnabledFor(logging.INFO):
            log.info(
                "ingest.file_done",
                extra={
                    "path": self._readable_path(),
                    "status": outcome.status,
                    "article_id": outcome.article_id,
                },
            )

    def _readable_path(self) -> str:
        return readable_path(self.ready.local_path())


@dataclass(frozen=True)
class _Decoded:
    """A file read as an article, not yet known to be new."""

    ready: FileReady
    article: ArticleIngested
    sha256: str

    def decide(self, fresh: set[str]) -> _Decided:
        """Ingested if the ledger recorded its article just now (claimed from ``fresh``, so a second
        file of the batch with the same article is a duplicate), else a duplicate."""
        article_id = self.article.article_id
        if article_id in fresh:
            fresh.discard(article_id)
            outcome = FileOutcome(status="ingested", article_id=article_id, article=self.article)
        else:
            outcome = FileOutcome(status="duplicate", article_id=article_id)
        return _Decided(self.ready, outcome, self.sha256)


def _read_one(ready: FileReady, *, root: Path, rejected_dir: Path, max_bytes: int) -> _Decided | _Decoded:
    """Read and decode one file (``root``: the watched folder, resolved); one that cannot be an
    article is moved aside with its reason."""
    path = ready.local_path()
    try:
        data = _read_inside(path, root=root, size=ready.size, mtime_ns=ready.mtime_ns, max_bytes=max_bytes)
    except FileNotFoundError:
        return _Decided(ready, FileOutcome(status="missing"))
    except _NewerVersionError:
        # A newer version exists; the watcher sends its own event for it.
        return _Decided(ready, FileOutcome(status="changed"))
    except RejectedFile as error:
        # A file outside the watched folder is never moved: it is not Rasid's to touch.
        keep_in = None if isinstance(error, _Outside) else rejected_dir
        return _Decided(ready, _reject(path, reason=error.reason, rejected_dir=keep_in))
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        document = _document(ready, path, data)
    except UnreadableDocument as error:
        return _Decided(ready, _reject(path, reason=error.reason, rejected_dir=rejected_dir), sha256)
    return _Decoded(ready, article_from_document(document, source=readable_path(path.name)), sha256)


def _document(ready: FileReady, path: Path, data: bytes) -> Document:
    """The document in ``data``, read from ``path``; every failure is an :class:`UnreadableDocument`
    with a reason."""
    if len(ready.path) > MAX_PATH_CHARACTERS:
        raise UnreadableDocument(
            f"the file's path is longer than {MAX_PATH_CHARACTERS} characters: move it to a shallower folder"
        )
    try:
        return read_document(data, suffix=path.suffix)
    except UnreadableDocument:
        raise
    except SoftTimeLimitExceeded as error:
        # Reading one file for minutes is the file's doing: sent again, it would take as long again.
        raise UnreadableDocument("reading the file took longer than a task may run") from error
    except Exception as error:  # a flaw in the reader must still leave the file with a reason
        log.exception("ingest.reader_failed", extra={"path": readable_path(path)})
        raise UnreadableDocument(
            f"Rasid could not read this file (its reader failed with {type(error).__name__})"
        ) from error


def read_dropped_file(path: Path, *, watch_dir: Path, size: int, mtime_ns: int, max_bytes: int) -> bytes:
    """The bytes of the regular file at ``path``, inside ``watch_dir``, if it is still the version
    (``size``, ``mtime_ns``). :class:`RejectedFile` says why it cannot be read; FileNotFoundError
    means it is gone."""
    return _read_inside(path, root=watch_dir.resolve(), size=size, mtime_ns=mtime_ns, max_bytes=max_bytes)


def _read_inside(path: Path, *, root: Path, size: int, mtime_ns: int, max_bytes: int) -> bytes:
    """:func:`read_dropped_file` with the watched folder resolved already (``root``)."""
    try:
        descriptor = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise RejectedFile(_unopenable(error)) from error
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise RejectedFile(not_regular_reason(info.st_mode))
        if (info.st_size, info.st_mtime_ns) != (size, mtime_ns):
            raise _NewerVersionError
        if not _inside(path, descriptor, info, root=root):
            if os.fstat(descriptor).st_nlink == 0:
                # Taken away since it was opened: its path now names nothing, which is not a link.
                raise FileNotFoundError(errno.ENOENT, "the file is gone", str(path))
            raise _Outside("the file is outside the watched folder (it is reached through a linked folder)")
        data = _read_at_most(descriptor, max_bytes + 1)
    finally:
        os.close(descriptor)
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
    """Move ``path`` (a link itself, not its target) into ``rejected_dir`` beside a ``.reason.txt``.

    Never over another file: each name is claimed by creating it (the reason with ``O_EXCL``, the file
    by a hard link), not checked first, so a worker rejecting a file of the same name meanwhile takes
    the next one. Names too long for the file system are shortened, keeping the extension.
    FileNotFoundError when ``path`` is gone.
    """
    rejected_dir.mkdir(parents=True, exist_ok=True)
    when = utc_now().isoformat(timespec="seconds")
    note = (
        f"Rasid did not ingest this file.\n\nReason: {reason}\nWhen: {when}\n"
        f"Original path: {readable_path(path)}\n"
    )
    for name in _rejected_names(path.name):
        target = rejected_dir / name
        reason_file = target.with_name(target.name + REASON_SUFFIX)
        try:
            claim = os.open(reason_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            continue
        try:
            _place(path, target)
        except BaseException as error:
            os.close(claim)
            reason_file.unlink()
            if isinstance(error, FileExistsError):
                continue
            raise
        with open(claim, "w", encoding="utf-8") as file:
            file.write(note)
        # Gone already when another worker moved it meanwhile: both copies are in the rejected folder.
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return target
    raise AssertionError("unreachable: the names never run out")


def _reject(path: Path, *, reason: str, rejected_dir: Path | None) -> FileOutcome:
    """Move the file at ``path`` to ``rejected_dir`` (None: leave it where it is); the outcome says
    why, to be recorded."""
    moved_to = None
    if rejected_dir is not None:
        try:
            moved_to = move_rejected(path, rejected_dir=rejected_dir, reason=reason)
        except FileNotFoundError:
            return FileOutcome(status="missing")
        except OSError as error:
            log.warning("ingest.reject_move_failed", extra={"path": readable_path(path), "error": str(error)})
            reason = f"{reason} (the file stays where it is: it could not be moved to the rejected folder: "
            reason += f"{error.strerror or error})"
    return FileOutcome(status="rejected", reason=reason, moved_to=moved_to)


def _version(ready: FileReady) -> FileVersion:
    return (ready.path[:MAX_PATH_CHARACTERS], ready.size, ready.mtime_ns)


def _recorded_versions(session: Session, batch: Sequence[FileReady]) -> set[FileVersion]:
    """The versions of the batch's files that the ledger records an outcome for, in one query."""
    paths = {ready.path[:MAX_PATH_CHARACTERS] for ready in batch}
    statement = select(SeenFile.path, SeenFile.size, SeenFile.mtime_ns).where(SeenFile.path.in_(paths))
    return {(path, size, mtime_ns) for path, size, mtime_ns in session.execute(statement)}


def _unopenable(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "the file is a symbolic link; Rasid reads only regular files inside the watched folder"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "Rasid may not read the file (permission denied): make it readable by the user Rasid runs as"
    if error.errno == errno.ENXIO:
        return "the file is a socket, not a regular file; Rasid reads only regular files"
    return f"the file could not be opened: {error.strerror or error}"


def _inside(path: Path, descriptor: int, info: os.stat_result, *, root: Path) -> bool:
    """Whether the file opened as ``path`` (``descriptor``, ``info``) is the one its resolved path
    names inside the resolved watched folder ``root``: a folder of the path may be a link to elsewhere."""
    resolved = _resolved_path(path, descriptor)
    if not resolved.startswith(os.path.join(root, "")):
        return False
    try:
        here = os.stat(resolved)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (info.st_dev, info.st_ino)


def _resolved_path(path: Path, descriptor: int) -> str:
    """The path of the file open as ``descriptor``, every link resolved: on Linux as the kernel
    opened it, in one system call (``Path.resolve`` takes one for each folder of the path)."""
    try:
        return os.readlink(f"{_DESCRIPTORS}/{descriptor}")
    except OSError:  # no /proc: another system, or a container without it
        return str(path.resolve())


def _read_at_most(descriptor: int, limit: int) -> bytes:
    chunks, remaining = [], limit
    while remaining > 0:
        chunk = os.read(descriptor, min(remaining, _READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _place(path: Path, target: Path) -> None:
    """Give ``path``'s file (or link) the name ``target`` too; FileExistsError when it is taken."""
    try:
        os.link(path, target, follow_symlinks=False)
        return
    except OSError as error:
        # Another file system, or one that refuses hard links: copy, still claiming the name.
        if error.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EOPNOTSUPP):
            raise
    if path.is_symlink():
        os.symlink(os.readlink(path), target)
        return
    source = os.open(path, _OPEN_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(source).st_mode):
            raise OSError(errno.EOPNOTSUPP, "a special file cannot be copied to another file system")
        copy = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            while chunk := os.read(source, _READ_CHUNK):
                os.write(copy, chunk)
        finally:
            os.close(copy)
    finally:
        os.close(source)


def _rejected_names(name: str) -> Iterator[str]:
    """``name``, then ``stem (2).ext``, ``stem (3).ext``..., each short enough that its reason file's
    name fits the file system."""
    raw = os.fsencode(name)
    dot = raw.rfind(b".")
    stem, suffix = (raw[:dot], raw[dot:]) if dot > 0 and len(raw) - dot <= 16 else (raw, b"")
    budget = MAX_NAME_BYTES - len(REASON_SUFFIX.encode())
    for number in itertools.count(1):
        counter = f" ({number})".encode() if number > 1 else b""
        room = budget - len(suffix) - len(counter)
        yield os.fsdecode(_cut(stem, room) + counter + suffix)


def _cut(raw: bytes, limit: int) -> bytes:
    """At most ``limit`` bytes of ``raw``, not ending inside a UTF-8 character."""
    if len(raw) <= limit:
        return raw
    cut = raw[:limit]
    while cut and cut[-1] & 0xC0 == 0x80:  # a continuation byte: drop back to the character's start
        cut = cut[:-1]
    if cut and cut[-1] & 0xC0 == 0xC0:  # the start of a character whose rest was cut
        cut = cut[:-1]
    return cut
