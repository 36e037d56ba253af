"""The alert service's dashboard pages: the articles (newest first, filtered, searched), an article
with its evidence highlighted in place, its tags, entities, story and alerts, the overview (articles
per topic per day over 30 days, drawn by :mod:`alert_service.chart`, and per source), and the alerts
with every delivery attempt and "retry now" for a failed one.

Mounted at the root through the ``rasid.pages`` entry point; reads through
:mod:`alert_service.queries`, like the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from alert_service.chart import daily_counts, topic_chart
from alert_service.delivery import ResendError, resend_alerts
from alert_service.models import STATUSES
from alert_service.queries import (
    ArticleFilter,
    alert_page,
    article_detail,
    article_page,
    attempts_of,
    latest_tags,
    source_counts,
    topic_days,
)
from alert_service.rules import article_text
from shared.db import utc_now
from shared.web.access import DbSession
from shared.web.dashboard import templates_for
from shared.web.labels import chosen_language, page_direction
from shared.web.pages import RowId
from shared.web.problems import Problem
from shared.web.session import FormWriter, PageSession
from shared.web.topics import web_topics

TEMPLATES = templates_for("alert_service")
PAGE_SIZE = 50
OVERVIEW_DAYS = 30
router = APIRouter(include_in_schema=False)


def highlighted(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[str, bool]]:
    """``text`` cut into pieces, each marked whether it lies inside one of ``spans`` (start, end),
    overlapping spans merged; spans outside the text are left out."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans if s < e):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces: list[tuple[str, bool]] = []
    position = 0
    for start, end in merged:
        if start > position:
            pieces.append((text[position:start], False))
        pieces.append((text[start:end], True))
        position = end
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces


def _spans(evidence: list[dict[str, Any]], field: str) -> list[tuple[int, int]]:
    return [
        (int(item["start"]), int(item["end"]))
        for item in evidence
        if item.get("field") == field
        and isinstance(item.get("start"), int)
        and isinstance(item.get("end"), int)
    ]


@router.get("/", include_in_schema=False)
def home() -> Response:
    return RedirectResponse("/articles", status_code=303)


@router.get("/articles", response_class=HTMLResponse)
def articles_page(  # noqa: PLR0913, PLR0917 -- one parameter a query field, as FastAPI passes them
    request: Request,
    db: DbSession,
    session: PageSession,
    topic: str | None = None,
    q: str | None = Query(default=None, max_length=200),
    source: str | None = Query(default=None, max_length=1024),
) -> Response:
    where = ArticleFilter(topic=topic or None, search=q or None, source=source or None)
    articles = article_page(db, where, after=None, limit=PAGE_SIZE).articles
    tags = latest_tags(db, [article.id for article in articles])
    context = {
        "session": session,
        "articles": articles,
        "tags": tags,
        "topic": topic or "",
        "q": q or "",
        "source": source or "",
        "topics": sorted(web_topics() or ()),
    }
    return TEMPLATES.TemplateResponse(request, "articles.html", context)


@router.get("/overview", response_class=HTMLResponse)
def overview_page(request: Request, db: DbSession, session: PageSession) -> Response:
    """Articles per topic per day over the last :data:`OVERVIEW_DAYS` days (UTC), and per source."""
    today = utc_now().date()
    days = [today - timedelta(days=back) for back in range(OVERVIEW_DAYS - 1, -1, -1)]
    since = datetime.combine(days[0], time(), UTC)
    rtl = page_direction(chosen_language(request)) == "rtl"
    context = {
        "session": session,
        "chart": topic_chart(daily_counts(topic_days(db, since=since)), days, rtl=rtl),
        "sources": source_counts(db, since=since),
        "days": OVERVIEW_DAYS,
        "first_day": days[0],
        "last_day": today,
    }
    return TEMPLATES.TemplateResponse(request, "overview.html", context)


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def article_page_view(request: Request, article_id: str, db: DbSession, session: PageSession) -> Response:
    detail = article_detail(db, article_id)
    if detail is None:
        return TEMPLATES.TemplateResponse(request, "missing.html", {"session": session}, status_code=404)
    evidence = [item for tag in detail.tags for item in tag.evidence]
    context = {
        "session": session,
        "detail": detail,
        "article": detail.article,
        "title_pieces": highlighted(detail.article.title, _spans(evidence, "title")),
        "text_pieces": highlighted(detail.article.text, _spans(evidence, "text")),
        "full_text": article_text(detail.article.title, detail.article.text),
        "topics": sorted(web_topics() or ()),
        "feedback": request.query_params.get("feedback"),
    }
    return TEMPLATES.TemplateResponse(request, "article.html", context)


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, db: DbSession, session: PageSession, status: str | None = None) -> Response:
    alerts = alert_page(db, status=status or None, subscription_id=None, after=None, limit=PAGE_SIZE)
    attempts = attempts_of(db, [alert.id for alert in alerts])
    context = {
        "session": session,
        "alerts": alerts,
        "attempts": attempts,
        "status": status or "",
        "statuses": STATUSES,
    }
    return TEMPLATES.TemplateResponse(request, "alerts.html", context)


@router.post("/alerts/{alert_id}/retry")
def retry_alert_form(alert_id: RowId, db: DbSession, _session: FormWriter) -> Response:
    try:
        resend_alerts(db, [alert_id], now=utc_now())
    except ResendError as error:
        raise Problem(409, str(error), kind="not-resendable") from None
    return RedirectResponse("/alerts?status=pending", status_code=303)
