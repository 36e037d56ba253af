"""Keyset pagination: a page of items and the opaque cursor of the next page.

A cursor holds the sort key of the last item given (e.g. ``[stored_at, id]``) as base64url JSON;
the next page starts strictly after it, so pages stay stable while new rows arrive.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Path, Query
from pydantic import BaseModel

from shared.web.problems import Problem

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
ItemT = TypeVar("ItemT")
RowT = TypeVar("RowT")
# Row ids are 32-bit integer columns (SQLite and PostgreSQL): a larger number names no row, and
# would not even fit in the query.
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
RowIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


class Page(BaseModel, Generic[ItemT]):
    """One page: its items, and the cursor of the next page (None on the last one)."""

    items: list[ItemT]
    next_cursor: str | None = None


def encode_cursor(key: list[Any]) -> str:
    """The cursor after an item whose sort key is ``key`` (JSON values)."""
    raw = json.dumps(key, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None, *, length: int) -> list[Any] | None:
    """The sort key in ``cursor`` (``length`` values), or a 400 problem if it is not one of ours."""
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as error:
        raise Problem(400, "the cursor is not one this API gave", kind="bad-cursor") from error
    if not isinstance(key, list) or len(key) != length:
        raise Problem(400, "the cursor is not one this API gave", kind="bad-cursor")
    return key


def id_after(cursor: str | None) -> int | None:
    """The id in a cursor of a list ordered by id, or None for the first page."""
    key = decode_cursor(cursor, length=1)
    if key is None:
        return None
    if not isinstance(key[0], int) or isinstance(key[0], bool) or not 0 <= key[0] <= MAX_ROW_ID:
        raise Problem(400, "the cursor is not one this API gave", kind="bad-cursor")
    return key[0]


def cut_page(
    rows: Sequence[RowT], *, limit: int, key: Callable[[RowT], list[Any]]
) -> tuple[list[RowT], str | None]:
    """The first ``limit`` of ``rows`` (fetched ``limit + 1``, so one more says another page exists),
    and the cursor after the last of them, or None when there is no more."""
    shown = list(rows[:limit])
    return shown, (encode_cursor(key(shown[-1])) if len(rows) > limit else None)
