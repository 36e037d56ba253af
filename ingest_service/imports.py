"""``rasid import``: a folder tree, a ``.zip`` or ``.tar.gz`` archive, or a JSON lines file, read as
items (one article each) that go through the ledger like dropped files.

Every item is decoded and checked by :mod:`shared.documents` (the dropped file's rules), de-duplicated by
its content id in the articles ledger, and recorded in the import ledger (:class:`ImportedItem`) under
``<input>!<member>`` with the input's size and mtime, so a second run of the same input skips what
the first finished. Items are recorded in batches, each its own transaction, and handed on after it
commits; an article recorded but not sent is sent by the ledger's resend sweep.

Archives are read in memory, member by member, and never extracted: a member's name never becomes a
path. A member whose name is absolute or climbs out of the archive (``../``), a link, a device, a
member larger than the dropped-file limit, and every member past :data:`MAX_MEMBERS` or past
:data:`MAX_ARCHIVE_BYTES` of content (counted from the declared sizes, read or skipped) are rejected
with a reason; a damaged or truncated archive keeps the members read before the damage and reports it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest_service.errors import RejectedFile
from ingest_service.files import read_dropped_file
from ingest_service.ledger import record_if_new
from ingest_service.models import ImportedItem
from ingest_service.paths import readable_path
from shared.db import insert_ignore
from shared.decoding import lone_surrogate
from shared.documents import Document, check_document, normalize_text, read_document
from shared.errors import UnreadableDocument
from shared.messages import ArticleIngested, content_id

ImportStatus = Literal["ingested", "duplicate", "rejected", "already_imported"]
# Most members read from one archive, and most bytes of content: a zip of a million empty names, or of
# members that each inflate to the size limit, is stopped there.
MAX_MEMBERS = 200_000
MAX_ARCHIVE_BYTES = 4 * 1024**3
# The longest JSON line read; a longer one is rejected without being parsed.
MAX_LINE_BYTES = 8 * 1024 * 1024
# An article dated longer ago than this is imported without alerts unless alerts are asked for.
ALERT_AGE = timedelta(days=7)
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz")
ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar.gz", ".tgz")
_KEY_LENGTH = 1024


@dataclass(frozen=True)
class ImportItem:
    """One article-sized item of an input: its bytes (a file, a member) or its fields (a JSON line),
    or the reason it was refused before it was read."""

    key: str
    source: str
    size: int
    mtime_ns: int
    suffix: str = ""
    data: bytes = b""
    title: str | None = None
    text: str | None = None
    url: str | None = None
    published: datetime | None = None
    modified: datetime | None = None
    reason: str | None = None

    def document(self) -> Document:
        """The checked document; :class:`UnreadableDocument` says why there is none."""
        if self.reason is not None:
            raise UnreadableDocument(self.reason)
        if self.title is None or self.text is None:
            return read_document(self.data, suffix=self.suffix)
        document = Document(
            title=normalize_text(self.title), text=normalize_text(self.text), encoding="utf-8"
        )
        check_document(document)
        return document

    def dated(self) -> datetime | None:
        """When the article was published, or else when its file was last changed."""
        return self.published or self.modified


@dataclass(frozen=True)
class ItemOutcome:
    """What became of one item."""

    status: ImportStatus
    article: ArticleIngested | None = None
    reason: str | None = None


class JsonLine(BaseModel):
    """One line of a JSON lines input."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str | int
    title: str
    text: str
    source: str | None = None
    url: str | None = None
    published: datetime | None = None

    @field_validator("id", "title", "text", "source", "url")
    @classmethod
    def _is_text(cls, value: str | int | None) -> str | int | None:
        """A JSON escape can make a lone surrogate, which no database or message can hold."""
        surrogate = lone_surrogate(value) if isinstance(value, str) else None
        if surrogate is not None:
            raise ValueError(f"a lone surrogate {surrogate} is no text")
        return value


def input_kind(path: Path) -> Literal["folder", "zip", "tar", "json_lines", "file"]:
    """How an input of ``rasid import`` is read, by what it is and how its name ends."""
    name = path.name.lower()
    if path.is_dir():
        return "folder"
    if name.endswith(ZIP_SUFFIXES):
        return "zip"
    if name.endswith(TAR_SUFFIXES):
        return "tar"
    if name.endswith(JSON_LINES_SUFFIXES):
        return "json_lines"
    return "file"


def read_items(path: Path, *, max_bytes: int) -> Iterator[ImportItem]:
    """Every item of the input at ``path``, in a stable order."""
    kind = input_kind(path)
    if kind == "folder":
        yield from folder_items(path, max_bytes=max_bytes)
    elif kind == "zip":
        yield from zip_items(path, max_bytes=max_bytes)
    elif kind == "tar":
        yield from tar_items(path, max_bytes=max_bytes)
    elif kind == "json_lines":
        yield from json_line_items(path)
    else:
        yield _file_item(path, root=path.parent, max_bytes=max_bytes)


def count_items(path: Path) -> int | None:
    """How many items ``path`` holds, when that is quick to know (None for a compressed tar)."""
    kind = input_kind(path)
    if kind == "folder":
        return sum(len(names) for _, _, names in os.walk(path))
    if kind == "zip":
        try:
            with zipfile.ZipFile(path) as archive:
                return len([info for info in archive.infolist() if not info.is_dir()])
        except (OSError, zipfile.BadZipFile):
            return 1
    if kind == "json_lines":
        try:
            with _open_lines(path) as file:
                return sum(1 for line in file if line.strip())
        except (OSError, EOFError, zlib.error):
            return None
    return None if kind == "tar" else 1


def folder_items(root: Path, *, max_bytes: int) -> Iterator[ImportItem]:
    """Every file under ``root``, read like a dropped file (a link is refused, never followed)."""
    for folder, folders, names in os.walk(root):
        folders.sort()
        for name in sorted(names):
            yield _file_item(Path(folder) / name, root=root, max_bytes=max_bytes)


def _file_item(path: Path, *, root: Path, max_bytes: int) -> ImportItem:
    key = _key(str(path.absolute()))
    try:
        info = path.lstat()
    except OSError as error:
        return ImportItem(key=key, source=path.name, size=0, mtime_ns=0, reason=f"unreadable: {error}")
    version = ImportItem(
        key=key, source=readable_path(path.name), size=info.st_size, mtime_ns=info.st_mtime_ns
    )
    if stat.S_ISLNK(info.st_mode):
        return replace(version, reason="the file is a symbolic link; Rasid imports only regular files")
    try:
        data = read_dropped_file(
            path, watch_dir=root, size=info.st_size, mtime_ns=info.st_mtime_ns, max_bytes=max_bytes
        )
    except RejectedFile as error:
        return replace(version, reason=error.reason)
    except OSError as error:
        return replace(version, reason=f"the file could not be read: {error.strerror or error}")
    modified = datetime.fromtimestamp(info.st_mtime_ns / 1e9, tz=UTC)
    return replace(version, suffix=path.suffix, data=data, modified=modified)


def zip_items(path: Path, *, max_bytes: int) -> Iterator[ImportItem]:
    """Every member of a zip archive, read in memory with its size capped."""
    info = path.stat()
    size, mtime_ns = info.st_size, info.st_mtime_ns
    base = str(path.absolute())
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        yield ImportItem(
            key=_key(base),
            source=path.name,
            size=size,
            mtime_ns=mtime_ns,
            reason=f"not a readable zip archive: {error}",
        )
        return
    budget = MAX_ARCHIVE_BYTES
    with archive:
        members = [member for member in archive.infolist() if not member.is_dir()]
        for number, member in enumerate(members):
            item = ImportItem(
                key=_key(f"{base}!{number}:{member.filename}"),
                source=_source(member.filename),
                size=size,
                mtime_ns=mtime_ns,
            )
            refusal = _member_refusal(member.filename, number=number, size=member.file_size, budget=budget)
            refusal = refusal or _zip_mode_refusal(member)
            refusal = refusal or _size_refusal(member.file_size, max_bytes=max_bytes)
            budget -= member.file_size
            if refusal:
                yield replace(item, reason=refusal)
                continue
            try:
                with archive.open(member) as file:
                    data = file.read(max_bytes + 1)
            except (OSError, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
                yield replace(item, reason=f"the member could not be read: {error}")
                continue
            if len(data) > max_bytes:  # the declared size lied
                yield replace(item, reason=_size_refusal(len(data), max_bytes=max_bytes))
                continue
            modified = datetime(*member.date_time, tzinfo=UTC)
            suffix = PurePosixPath(member.filename).suffix
            yield replace(item, suffix=suffix, data=data, modified=modified)


def tar_items(path: Path, *, max_bytes: int) -> Iterator[ImportItem]:
    """Every member of a gzip-compressed tar archive, streamed: a truncated archive keeps the members
    before the damage and reports it as one rejected item."""
    info = path.stat()
    size, mtime_ns = info.st_size, info.st_mtime_ns
    base = str(path.absolute())
    budget, number = MAX_ARCHIVE_BYTES, 0
    try:
        with tarfile.open(path, mode="r|gz") as archive:
            for number, member in enumerate(archive):
                item = ImportItem(
                    key=_key(f"{base}!{number}:{member.name}"),
                    source=_source(member.name),
                    size=size,
                    mtime_ns=mtime_ns,
                )
                if member.isdir():
                    continue
                refusal = _member_refusal(member.name, number=number, size=member.size, budget=budget)
                if refusal is None and not member.isreg():
                    refusal = "the member is a link or a special file; Rasid imports only regular files"
                refusal = refusal or _size_refusal(member.size, max_bytes=max_bytes)
                budget -= member.size
                if refusal:
                    yield replace(item, reason=refusal)
                    if budget < 0 or number >= MAX_MEMBERS:
                        return
                    continue
                file = archive.extractfile(member)
                data = file.read(max_bytes + 1) if file else b""
                modified = datetime.fromtimestamp(member.mtime, tz=UTC)
                suffix = PurePosixPath(member.name).suffix
                yield replace(item, suffix=suffix, data=data, modified=modified)
    except (OSError, tarfile.TarError, EOFError, zlib.error) as error:
        reason = (
            f"the archive is damaged or truncated after {number} members: {error or type(error).__name__}"
        )
        yield ImportItem(
            key=_key(f"{base}!damaged"), source=path.name, size=size, mtime_ns=mtime_ns, reason=reason
        )


def json_line_items(path: Path) -> Iterator[ImportItem]:
    """Every line of a JSON lines file (gzip-compressed when its name ends with ``.gz``): an object with
    ``id``, ``title``, ``text`` and optionally ``source``, ``url``, ``published``."""
    info = path.stat()
    template = ImportItem(key="", source=path.name, size=info.st_size, mtime_ns=info.st_mtime_ns)
    base, number = str(path.absolute()), 0
    try:
        with _open_lines(path) as file:
            for number, raw in enumerate(iter(lambda: file.readline(MAX_LINE_BYTES + 1), b""), start=1):
                if len(raw) > MAX_LINE_BYTES:
                    _skip_rest_of_line(file)
                if raw.strip():
                    yield _line_item(replace(template, key=_key(f"{base}!line {number}")), raw, number=number)
    except (OSError, EOFError, zlib.error) as error:
        reason = f"the file is damaged or truncated after line {number}: {error or type(error).__name__}"
        yield replace(template, key=_key(f"{base}!damaged"), reason=reason)


def _line_item(where: ImportItem, raw: bytes, *, number: int) -> ImportItem:
    """The item of one JSON line, keyed by its ``id`` (``where`` keys it by its number until then)."""
    where = replace(where, source=f"{where.source}:{number}")
    if len(raw) > MAX_LINE_BYTES:
        return replace(where, reason=f"line {number} is longer than {MAX_LINE_BYTES} bytes")
    try:
        line = JsonLine.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as error:
        reason = f"line {number} is not an article object (id, title, text): {_first_line(error)}"
        return replace(where, reason=reason)
    return replace(
        where,
        key=_key(f"{where.key.rsplit('!line ', 1)[0]}!{line.id}"),
        source=line.source or where.source,
        title=line.title,
        text=line.text,
        url=line.url,
        published=_aware(line.published),
    )


def import_item(session: Session, item: ImportItem, *, alerts: bool | None, now: datetime) -> ItemOutcome:
    """Record one item: its article if new (the outcome carries it, to be handed on after the commit),
    else why not. ``alerts`` None alerts for an article dated within :data:`ALERT_AGE` only."""
    if _already_imported(session, item):
        return ItemOutcome(status="already_imported")
    try:
        document = item.document()
    except UnreadableDocument as error:
        outcome = ItemOutcome(status="rejected", reason=error.reason)
    else:
        article = article_of(item, document, alerts=alerts, now=now)
        new = record_if_new(session, article)
        outcome = ItemOutcome(status="ingested", article=article) if new else ItemOutcome(status="duplicate")
        _record(session, item, outcome, article_id=article.article_id, now=now)
        return outcome
    _record(session, item, outcome, article_id=None, now=now)
    return outcome


def article_of(
    item: ImportItem, document: Document, *, alerts: bool | None, now: datetime
) -> ArticleIngested:
    """The message announcing an imported item's article."""
    dated = item.dated()
    if alerts is None:
        alerts = dated is None or dated >= now - ALERT_AGE
    return ArticleIngested(
        article_id=content_id(document.title, document.text),
        title=document.title,
        text=document.text,
        source=item.source[:1024],
        source_kind="file",
        url=item.url,
        published_at=item.published,
        ingested_at=now,
        alerts=alerts,
    )


def _already_imported(session: Session, item: ImportItem) -> bool:
    statement = select(ImportedItem.id).where(
        ImportedItem.key == item.key, ImportedItem.size == item.size, ImportedItem.mtime_ns == item.mtime_ns
    )
    return session.execute(statement).first() is not None


def _record(
    session: Session, item: ImportItem, outcome: ItemOutcome, *, article_id: str | None, now: datetime
) -> None:
    values = {
        "key": item.key,
        "size": item.size,
        "mtime_ns": item.mtime_ns,
        "article_id": article_id,
        "status": outcome.status,
        "reason": outcome.reason,
        "imported_at": now,
    }
    insert_ignore(session, ImportedItem.__table__, values, conflict_columns=["key", "size", "mtime_ns"])


def _member_refusal(name: str, *, number: int, size: int, budget: int) -> str | None:
    """Why an archive member is refused before it is read, by its name and place in the archive."""
    if number >= MAX_MEMBERS:
        return f"the archive has more than {MAX_MEMBERS} members; split it"
    if size > budget:
        return f"the archive holds more than {MAX_ARCHIVE_BYTES} bytes of content; split it"
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if "\x00" in name or not parts or parts[0] == "/" or ".." in parts or ":" in parts[0]:
        return "the member's name is absolute or climbs out of the archive; Rasid does not read it"
    return None


def _zip_mode_refusal(member: zipfile.ZipInfo) -> str | None:
    kind = stat.S_IFMT(member.external_attr >> 16)  # 0 when the archiver wrote no file type
    if kind and kind != stat.S_IFREG:
        return "the member is a link or a special file; Rasid imports only regular files"
    return None


def _size_refusal(size: int, *, max_bytes: int) -> str | None:
    if size > max_bytes:
        return f"the member is too large (over {max_bytes} bytes, the configured limit)"
    return None


def _key(text: str) -> str:
    """An item's key, shortened past the column's length by a hash of the whole."""
    if len(text) <= _KEY_LENGTH:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{text[: _KEY_LENGTH - 65]}#{digest}"


def _source(name: str) -> str:
    return readable_path(PurePosixPath(name.replace("\\", "/")).name or name)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _first_line(error: Exception) -> str:
    if isinstance(error, ValidationError) and error.errors():
        # Which field and why ("title: Value error, a lone surrogate ..."), not pydantic's header.
        first = error.errors()[0]
        return f"{'.'.join(map(str, first['loc'])) or 'line'}: {first['msg']}"[:200]
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__


def _open_lines(path: Path) -> BinaryIO:
    """A JSON lines file, decompressed as it is read when its name ends with ``.gz``."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _skip_rest_of_line(file: BinaryIO) -> None:
    while (chunk := file.readline(MAX_LINE_BYTES)) and not chunk.endswith(b"\n"):
        pass
