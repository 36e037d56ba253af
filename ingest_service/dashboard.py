"""The ingest service's dashboard pages: the feeds with their health (add one, remove one), the
ledger of dropped files with the reasons rejected ones were refused, and the upload of an article
file, which is placed in the watched folder to go the way of any dropped file.

Mounted at the root through the ``rasid.pages`` entry point; reads through
:mod:`ingest_service.queries` and writes through :mod:`ingest_service.feeds` and
:mod:`ingest_service.uploads`, with the API's checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ingest_service.errors import FeedError, UnknownFeedError, UploadRefused, UploadTooLarge
from ingest_service.feeds import add_feed, remove_feed
from ingest_service.models import FILE_STATUSES, SeenFile
from ingest_service.paths import path_from_text, readable_path
from ingest_service.queries import feed_health, file_page
from ingest_service.settings import IngestSettings
from ingest_service.uploads import place_upload
from shared.db import utc_now
from shared.documents import SUPPORTED_SUFFIXES
from shared.net import TargetPolicy
from shared.settings import load_settings
from shared.web.access import DbSession
from shared.web.dashboard import templates_for
from shared.web.pages import RowId, RowIdQuery
from shared.web.problems import Problem
from shared.web.session import FormWriter, PageSession, WebSession, checked_writer

TEMPLATES = templates_for("ingest_service")
PAGE_SIZE = 50
CHUNK_BYTES = 64 * 1024
# Room for the multipart envelope (boundaries, headers, the CSRF field) around the file itself.
FORM_OVERHEAD_BYTES = 64 * 1024
router = APIRouter(include_in_schema=False)


def _settings() -> IngestSettings:
    return load_settings(IngestSettings)


def _feeds_page(
    request: Request, db: DbSession, session: WebSession, *, error: str | None = None, url: str = ""
) -> Response:
    """The feeds; after a refused URL, with the reason and the URL kept in the form."""
    context = {"session": session, "feeds": feed_health(db), "error": error, "url": url}
    status = 200 if error is None else 422
    return TEMPLATES.TemplateResponse(request, "feeds.html", context, status_code=status)


@router.get("/feeds", response_class=HTMLResponse)
def feeds_page(request: Request, db: DbSession, session: PageSession) -> Response:
    return _feeds_page(request, db, session)


@router.post("/feeds", response_class=HTMLResponse)
def add_feed_form(
    request: Request, db: DbSession, session: FormWriter, url: Annotated[str, Form(max_length=4096)]
) -> Response:
    try:
        add_feed(db, url, policy=TargetPolicy.from_settings(_settings()))
    except FeedError as error:
        return _feeds_page(request, db, session, error=str(error), url=url)
    return RedirectResponse("/feeds", status_code=303)


@router.post("/feeds/{feed_id}/remove")
def remove_feed_form(feed_id: RowId, db: DbSession, _session: FormWriter) -> Response:
    try:
        remove_feed(db, str(feed_id))
    except UnknownFeedError as error:
        raise Problem(404, str(error), kind="not-found") from None
    return RedirectResponse("/feeds", status_code=303)


@router.get("/files", response_class=HTMLResponse)
def files_page(  # noqa: PLR0913, PLR0917 -- one parameter a query field, as FastAPI passes them
    request: Request,
    db: DbSession,
    session: PageSession,
    after: RowIdQuery = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    uploaded: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    shown_status = status if status in FILE_STATUSES else None
    rows = file_page(db, status=shown_status, after=after, limit=PAGE_SIZE + 1)
    context = {
        "session": session,
        "files": [_file_row(seen, _settings().watch_dir) for seen in rows[:PAGE_SIZE]],
        "older": rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None,
        "status": shown_status or "",
        "statuses": FILE_STATUSES,
        "uploaded": uploaded,
    }
    return TEMPLATES.TemplateResponse(request, "files.html", context)


def _file_row(seen: SeenFile, watch_dir: Path) -> dict[str, Any]:
    path = path_from_text(seen.path)
    shown = path.relative_to(watch_dir.resolve()) if path.is_relative_to(watch_dir.resolve()) else path
    return {"seen": seen, "name": readable_path(shown), "path": readable_path(path)}


@router.get("/upload", response_class=HTMLResponse)
def upload_form(request: Request, session: PageSession) -> Response:
    return _upload_page(request, session)


def _upload_page(
    request: Request, session: WebSession, *, error: str | None = None, status: int = 200
) -> Response:
    context = {
        "session": session,
        "error": error,
        "max_bytes": _settings().max_file_bytes,
        "accept": ",".join(sorted(SUPPORTED_SUFFIXES)),
    }
    return TEMPLATES.TemplateResponse(request, "upload.html", context, status_code=status)


@router.post("/upload", response_class=HTMLResponse)
async def upload(request: Request, session: PageSession) -> Response:
    """Read the form only once its declared size is within the limit, check its CSRF token, and
    place the file in the watched folder."""
    settings = _settings()
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > settings.max_file_bytes + FORM_OVERHEAD_BYTES:
        refused = UploadTooLarge(settings.max_file_bytes)
        return _upload_page(request, session, error=refused.reason, status=413)
    async with request.form(max_files=1, max_fields=4) as form:
        csrf, upload = form.get("csrf"), form.get("file")
        checked_writer(session, csrf if isinstance(csrf, str) else "")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return _upload_page(request, session, error="choose a file to upload", status=400)
        try:
            placed = await run_in_threadpool(
                place_upload,
                settings.watch_dir,
                upload.filename,
                _chunks(upload.file),
                max_bytes=settings.max_file_bytes,
                now=utc_now(),
            )
        except UploadRefused as refused:
            status = 413 if isinstance(refused, UploadTooLarge) else 400
            return _upload_page(request, session, error=refused.reason, status=status)
    return RedirectResponse(f"/files?{urlencode({'uploaded': placed.name})}", status_code=303)


def _chunks(file: BinaryIO) -> Iterator[bytes]:
    while chunk := file.read(CHUNK_BYTES):
        yield chunk
