"""The web app: what ``shared`` owns (health, problem details) and the routes services contribute.

A service names an ``APIRouter`` in the ``rasid.web`` entry point group (``alert =
"alert_service.web:router"``); :func:`create_app` mounts each under ``/api/v1``, and the routers of
the ``rasid.pages`` group (feeds for readers) at the root. The OpenAPI schema
is at ``/api/v1/openapi.json`` and its docs page at ``/api/v1/docs``.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from shared.db import get_engine
from shared.settings import RasidSettings
from shared.status import broker_problem
from shared.web.dashboard import install_dashboard
from shared.web.metrics import router as metrics_router
from shared.web.problems import install_problem_handlers
from shared.web.settings import WebSettings

WEB_GROUP = "rasid.web"
# Routes outside the versioned API (feeds for readers, pages), mounted at the root.
PAGES_GROUP = "rasid.pages"
API_PREFIX = "/api/v1"


def contributed_routers(group: str = WEB_GROUP) -> dict[str, APIRouter]:
    """Every installed service's router in ``group``, by entry point name, in name order."""
    routers = {}
    for point in sorted(entry_points(group=group), key=lambda p: p.name):
        router = point.load()
        if not isinstance(router, APIRouter):
            raise TypeError(f"entry point {point.value} is not a fastapi.APIRouter")
        routers[point.name] = router
    return routers


def create_app(settings: WebSettings) -> FastAPI:
    """The whole app, on the database and broker of ``settings``."""
    app = FastAPI(
        title="Rasid",
        summary="Arabic security news: articles and why they were tagged, subscriptions, alerts, feeds.",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings
    app.state.database_url = settings.resolved_database_url
    install_problem_handlers(app)
    app.include_router(_health_router())
    app.include_router(metrics_router)
    install_dashboard(
        app, settings if isinstance(settings, WebSettings) else WebSettings(**settings.model_dump())
    )
    for router in contributed_routers().values():
        app.include_router(router, prefix=API_PREFIX)
    for router in contributed_routers(PAGES_GROUP).values():
        app.include_router(router)
    return app


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the web process answers.")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: the database and the broker are reachable.")
    def readyz(request: Request) -> JSONResponse:
        settings: RasidSettings = request.app.state.settings
        problems = [problem for problem in (_database_problem(settings), broker_problem(settings)) if problem]
        status = 503 if problems else 200
        return JSONResponse(
            {"status": "ready" if not problems else "not ready", "problems": problems}, status
        )

    return router


def _database_problem(settings: RasidSettings) -> str | None:
    try:
        with get_engine(settings.resolved_database_url).connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return f"cannot reach the database: {type(error).__name__}"
    return None
