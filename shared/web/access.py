"""What a route depends on: a database session for the request, and the caller behind its token.

Routes that read take ``Depends(reader)``; routes that change something take ``Depends(writer)``,
which refuses read-only tokens. The session commits when the route returns and rolls back when it
raises, so a route (like every function taking a session) never commits itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from shared.db import session_scope
from shared.web.problems import Problem
from shared.web.tokens import Caller, find_caller

_bearer = HTTPBearer(auto_error=False, description="An API token from `rasid tokens create`.")


def database_session(request: Request) -> Iterator[Session]:
    """A session on the app's database for one request."""
    with session_scope(request.app.state.database_url) as session:
        yield session


DbSession = Annotated[Session, Depends(database_session)]


def reader(
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller, if the request carries a valid token; a 401 problem otherwise."""
    if credentials is None:
        raise Problem(401, "sign in: send Authorization: Bearer <token>", kind="unauthenticated")
    caller = find_caller(session, credentials.credentials)
    if caller is None:
        raise Problem(401, "the token is unknown or revoked", kind="unauthenticated")
    return caller


def writer(caller: Annotated[Caller, Depends(reader)]) -> Caller:
    """The caller, if its token may write; a 403 problem for a read-only token."""
    if caller.read_only:
        raise Problem(403, "this token is read-only", kind="read-only-token")
    return caller


Reader = Annotated[Caller, Depends(reader)]
Writer = Annotated[Caller, Depends(writer)]


def query_reader(
    session: DbSession, token: Annotated[str | None, Query(description="A (read-only) API token.")] = None
) -> Caller:
    """The caller of a URL that carries its token as ``?token=`` (a feed reader sends no headers)."""
    caller = find_caller(session, token) if token else None
    if caller is None:
        raise Problem(401, "add ?token= with a valid (read-only) API token", kind="unauthenticated")
    return caller


QueryReader = Annotated[Caller, Depends(query_reader)]
