"""Errors as RFC 9457 problem details (``application/problem+json``).

A route raises :class:`Problem` (or lets a validation error through); the handlers installed by
:func:`install_problem_handlers` answer with ``type``, ``title``, ``status`` and ``detail``, and,
for bad input, ``errors`` naming each field.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"


class ProblemDetails(BaseModel):
    """The body of an error answer (RFC 9457)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[dict[str, Any]] | None = None


class Problem(Exception):  # noqa: N818 -- raised as what it is: raise Problem(404, "no article x")
    """An error answer: ``status``, a ``detail`` for a person, and a short ``kind`` (the type's tail)."""

    def __init__(self, status: int, detail: str, *, kind: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind


def problem_response(
    status: int, detail: str | None, *, kind: str | None = None, errors: list[dict[str, Any]] | None = None
) -> JSONResponse:
    """A problem details answer."""
    body = ProblemDetails(
        type=f"https://rasid.invalid/problems/{kind}" if kind else "about:blank",
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        errors=errors,
    )
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error raised by a route or by FastAPI itself as problem details."""

    async def on_problem(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, Problem)
        return problem_response(error.status, error.detail, kind=error.kind)

    async def on_http(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        return problem_response(error.status_code, str(error.detail))

    async def on_invalid(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        errors = [
            {"loc": [str(part) for part in item["loc"]], "msg": str(item["msg"])} for item in error.errors()
        ]
        return problem_response(422, "the request is not valid", kind="invalid-request", errors=errors)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_invalid)


# What routes declare they may answer with, so the OpenAPI schema shows the problem body.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemDetails, "content": {PROBLEM_JSON: {}}} for status in (400, 401, 403, 404, 422)
}
