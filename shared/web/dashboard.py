"""The dashboard's frame: templates (each service's own beside the shared layout), sign-in with the
admin password or a token, sign-out, and the redirect to sign in from any page.

Pages are server-rendered Jinja2, Arabic and right to left, with their styles inline: nothing is
fetched from elsewhere, so the dashboard works offline.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape

from shared.db import session_scope
from shared.web.labels import Labels, remember_language, template_globals
from shared.web.session import (
    COOKIE,
    SESSION_SECONDS,
    FormWriter,
    SessionSigner,
    SignInLimiter,
    SignInRequired,
    signer_key,
)
from shared.web.settings import WebSettings
from shared.web.tokens import find_caller

SHARED = "shared.web"
# The sign-in form's CSRF token, before there is a session (a double-submitted cookie).
SIGN_IN_COOKIE = "rasid_sign_in"


def templates_for(package: str) -> Jinja2Templates:
    """Templates of ``package`` (its ``templates`` folder), able to extend the shared ``base.html``,
    with its labels (:mod:`shared.web.labels`) before the shared ones."""
    packages = [package] if package == SHARED else [package, SHARED]
    loader = ChoiceLoader([PackageLoader(name, "templates") for name in packages])
    environment = Environment(loader=loader, autoescape=select_autoescape(), auto_reload=False)
    environment.globals.update(template_globals(Labels(packages)))
    return Jinja2Templates(env=environment)


TEMPLATES = templates_for(SHARED)


def install_dashboard(app: FastAPI, settings: WebSettings) -> None:
    """Sessions, the sign-in pages and the redirect of signed-out browsers."""
    secret = settings.web_secret.get_secret_value() if settings.web_secret else None
    app.state.signer = SessionSigner(signer_key(secret))
    app.state.sign_in_limiter = SignInLimiter()
    app.state.admin_password = settings.admin_password.get_secret_value() if settings.admin_password else None

    async def to_sign_in(_request: Request, _error: Exception) -> Response:
        return RedirectResponse("/sign-in", status_code=303)

    app.add_exception_handler(SignInRequired, to_sign_in)
    app.middleware("http")(remember_language)
    app.include_router(router)


def _cookie(response: Response, request: Request, name: str, value: str, *, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="lax", secure=request.url.scheme == "https"
    )


router = APIRouter(include_in_schema=False)


def _sign_in_page(request: Request, *, error: str | None = None, status: int = 200) -> Response:
    """The sign-in form; ``error`` is the label key of what went wrong."""
    token = secrets.token_urlsafe(24)
    context: dict[str, Any] = {"csrf": token, "error": error, "session": None}
    response = TEMPLATES.TemplateResponse(request, "sign_in.html", context, status_code=status)
    _cookie(response, request, SIGN_IN_COOKIE, token, max_age=3600)
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request) -> Response:
    return _sign_in_page(request)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request, csrf: Annotated[str, Form()], secret: Annotated[str, Form(max_length=512)]
) -> Response:
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not hmac.compare_digest(csrf.encode("utf-8"), expected.encode("utf-8")):
        return _sign_in_page(request, error="sign_in_stale", status=403)
    client = request.client.host if request.client else "unknown"
    if not request.app.state.sign_in_limiter.allow(client):
        return _sign_in_page(request, error="sign_in_too_many", status=429)
    who = _who(request, secret)
    if who is None:
        return _sign_in_page(request, error="sign_in_wrong", status=401)
    cookie, _session = request.app.state.signer.issue(who[0], read_only=who[1])
    response = RedirectResponse("/articles", status_code=303)
    _cookie(response, request, COOKIE, cookie, max_age=SESSION_SECONDS)
    response.delete_cookie(SIGN_IN_COOKIE)
    return response


def _who(request: Request, secret: str) -> tuple[str, bool] | None:
    """(name, read_only) of the admin password or an API token; None when neither matches."""
    password: str | None = request.app.state.admin_password
    if password and hmac.compare_digest(secret.encode("utf-8"), password.encode("utf-8")):
        return "admin", False
    with session_scope(request.app.state.database_url) as session:
        caller = find_caller(session, secret.strip())
    return None if caller is None else (f"token:{caller.name}", caller.read_only)


@router.post("/sign-out")
def sign_out(_session: FormWriter) -> Response:
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(COOKIE)
    return response
