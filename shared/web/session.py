"""Dashboard sessions: a signed cookie (HttpOnly, SameSite=Lax) saying who signed in, with the CSRF
token every form of that session must carry, and a limit on sign-in attempts.

The cookie is ``base64(JSON) . HMAC-SHA256`` under ``RASID_WEB_SECRET`` (a new random key each start
when unset, which signs everyone out on restart). It holds the caller's name, whether it may write,
the CSRF token and when the session ends; nothing secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, Request

from shared.web.problems import Problem

COOKIE = "rasid_session"
SESSION_SECONDS = 12 * 3600
# Sign-in attempts allowed per client address in a window, then refused until the window moves on.
SIGN_IN_ATTEMPTS = 5
SIGN_IN_WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser: who, whether it may write, and its CSRF token."""

    name: str
    read_only: bool
    csrf: str
    expires: float


class SessionSigner:
    """Makes and reads session cookies under one key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, payload: bytes) -> str:
        return hmac.new(self._key, payload, hashlib.sha256).hexdigest()

    def issue(self, name: str, *, read_only: bool) -> tuple[str, WebSession]:
        """A new session for ``name`` and its cookie value."""
        session = WebSession(name, read_only, secrets.token_urlsafe(24), time.time() + SESSION_SECONDS)
        payload = base64.urlsafe_b64encode(json.dumps(session.__dict__).encode("utf-8"))
        return f"{payload.decode('ascii')}.{self._mac(payload)}", session

    def read(self, cookie: str | None) -> WebSession | None:
        """The session of a cookie this signer made and that has not ended; None otherwise."""
        if not cookie or "." not in cookie:
            return None
        payload, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac, self._mac(payload.encode("ascii", "replace"))):
            return None
        try:
            session = WebSession(**json.loads(base64.urlsafe_b64decode(payload)))
        except (binascii.Error, ValueError, TypeError):
            return None
        return session if session.expires > time.time() else None


class SignInLimiter:
    """At most :data:`SIGN_IN_ATTEMPTS` sign-in attempts per client address per window."""

    def __init__(self) -> None:
        self._attempts: dict[str, deque[float]] = {}

    def allow(self, client: str) -> bool:
        """Count one attempt from ``client``; False when it is over the limit."""
        now = time.monotonic()
        attempts = self._attempts.setdefault(client, deque())
        while attempts and attempts[0] <= now - SIGN_IN_WINDOW_SECONDS:
            attempts.popleft()
        if len(attempts) >= SIGN_IN_ATTEMPTS:
            return False
        attempts.append(now)
        return True


def signer_key(secret: str | None) -> bytes:
    """The signing key: from the configured secret, or random for this process."""
    return hashlib.sha256(secret.encode("utf-8")).digest() if secret else secrets.token_bytes(32)


class SignInRequired(Exception):  # noqa: N818 -- a redirect to the sign-in page, not a failure
    """The page needs a signed-in browser: answered with a redirect to the sign-in page."""


def page_session(request: Request) -> WebSession:
    """The browser's session, or a redirect to sign in."""
    session: WebSession | None = request.app.state.signer.read(request.cookies.get(COOKIE))
    if session is None:
        raise SignInRequired
    return session


PageSession = Annotated[WebSession, Depends(page_session)]


def form_writer(session: PageSession, csrf: Annotated[str, Form()]) -> WebSession:
    """The session behind a form that changes something: its CSRF token must match, and it may write."""
    return checked_writer(session, csrf)


def checked_writer(session: WebSession, csrf: str) -> WebSession:
    """``session``, if ``csrf`` is its token and it may write; a 403 problem otherwise (for a route
    that reads its form itself, such as a file upload)."""
    if not hmac.compare_digest(csrf.encode("utf-8"), session.csrf.encode("utf-8")):
        raise Problem(403, "the form is stale or was not sent from this site: reload the page", kind="csrf")
    if session.read_only:
        raise Problem(403, "signed in with a read-only token", kind="read-only-token")
    return session


FormWriter = Annotated[WebSession, Depends(form_writer)]
