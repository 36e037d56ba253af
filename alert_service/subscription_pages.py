"""The dashboard's subscriptions: the list with each one's state, pause, resume and delete, and the
rule editor that creates or changes one, with "test this rule" running the backtest over the stored
articles before anything is saved.

Mounted at the root through the ``rasid.pages`` entry point. Every form carries the session's CSRF
token; changes go through :mod:`alert_service.subscriptions`, the functions the commands and the API
use, and a webhook's signing secret is shown once, on the page that answers its creation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from alert_service.backtest import Hit, by_stored_story, run_backtest
from alert_service.errors import SubscriptionError
from alert_service.models import Subscription
from alert_service.rule_editor import ReadForm, RuleForm, read_form, web_rule_reader
from alert_service.rule_text import format_rule
from alert_service.schedules import format_schedule
from alert_service.settings import alert_settings
from alert_service.subscriptions import (
    Channel,
    SubscriptionChange,
    change_subscription,
    list_subscriptions,
    live_subscription,
    remove_subscription,
    rule_of,
    schedule_of,
    state_of,
    subscribe,
)
from shared.commands import redacted_url
from shared.db import utc_now
from shared.gazetteer import entity_finder
from shared.net import TargetPolicy
from shared.web.access import DbSession
from shared.web.dashboard import templates_for
from shared.web.pages import RowId
from shared.web.problems import Problem
from shared.web.session import FormWriter, PageSession, WebSession
from shared.web.topics import web_topics

TEMPLATES = templates_for("alert_service")
# How far back "test this rule" looks, in days (the choices the editor offers), and how many of the
# latest stories it shows, each with a few of its articles.
TEST_WINDOWS = (7, 30, 90)
DEFAULT_WINDOW = 30
STORIES_SHOWN = 5
ARTICLES_A_STORY = 3
router = APIRouter(include_in_schema=False)


async def posted_fields(request: Request) -> FormData:
    """Every field of the posted form (already read for the CSRF token: Starlette keeps it)."""
    return await request.form()


PostedFields = Annotated[FormData, Depends(posted_fields)]


def _values(fields: FormData) -> Callable[[str], list[str]]:
    return lambda name: [value for value in fields.getlist(name) if isinstance(value, str)]


def _one(fields: FormData, name: str) -> str:
    value = fields.get(name)
    return value.strip() if isinstance(value, str) else ""


@dataclass(frozen=True)
class StoryShown:
    """A story the rule would have alerted once: its outlets and its first few matching articles."""

    outlets: list[str]
    hits: list[Hit]
    size: int


@dataclass(frozen=True)
class Trial:
    """What "test this rule" shows: the articles read, the alerts and matches a day, the latest stories."""

    days: int
    scanned: int
    alerts: int
    matches: int
    per_day: list[tuple[date, int, int]]
    stories: list[StoryShown]


def try_rule(db: Session, read: ReadForm, *, days: int) -> Trial | None:
    """The backtest of the form's rule over the articles stored in the last ``days`` days."""
    if read.rule is None:
        return None
    finder = entity_finder(alert_settings().gazetteer_path)
    since = utc_now() - timedelta(days=days)
    outcome = run_backtest(db, read.rule, since=since, finder=finder, grouping=by_stored_story(db))
    matches = outcome.matches_per_day()
    latest = outcome.groups[-STORIES_SHOWN:][::-1]
    return Trial(
        days=days,
        scanned=outcome.scanned,
        alerts=len(outcome.groups),
        matches=sum(matches.values()),
        per_day=[(day, alerts, matches.get(day, 0)) for day, alerts in outcome.per_day()],
        stories=[
            StoryShown(
                outlets=list(dict.fromkeys(hit.source for hit in group)),
                hits=group[:ARTICLES_A_STORY],
                size=len(group),
            )
            for group in latest
        ],
    )


def _topics_offered(form: RuleForm) -> list[str]:
    """Every topic the services tag, and those the form names (a stored rule may name a topic the
    taxonomy no longer has: it stays visible, so saving does not drop it unseen)."""
    return sorted({*(web_topics() or ()), *form.topics, *form.exclude_topics})


@cache
def _zones() -> list[str]:
    return sorted(available_timezones())


def _window(fields: FormData) -> int:
    chosen = _one(fields, "days")
    return int(chosen) if chosen.isdigit() and int(chosen) in TEST_WINDOWS else DEFAULT_WINDOW


def _policy() -> TargetPolicy:
    return TargetPolicy.from_settings(alert_settings())


@dataclass(frozen=True)
class Editing:
    """The editor as a page shows it: a new subscription's, or a stored one's."""

    subscription_id: int | None
    channel: str
    target: str
    read: ReadForm
    days: int = DEFAULT_WINDOW
    result: Trial | None = None


def _editor(request: Request, session: WebSession, editing: Editing, *, status: int = 200) -> Response:
    context: dict[str, Any] = {
        "session": session,
        "editing": editing,
        "form": editing.read.form,
        "errors": editing.read.errors,
        "topics": _topics_offered(editing.read.form),
        "zones": _zones(),
        "windows": TEST_WINDOWS,
    }
    return TEMPLATES.TemplateResponse(request, "subscription_form.html", context, status_code=status)


@router.get("/subscriptions", response_class=HTMLResponse)
def subscriptions_page(
    request: Request, db: DbSession, session: PageSession, saved: int | None = None
) -> Response:
    rows = [
        {
            "subscription": row,
            "target": redacted_url(row.target),
            "state": state_of(row),
            "rule": format_rule(rule_of(row)),
            "delivery": format_schedule(schedule_of(row)),
        }
        for row in list_subscriptions(db)
    ]
    context = {"session": session, "rows": rows, "saved": saved}
    return TEMPLATES.TemplateResponse(request, "subscriptions.html", context)


@router.get("/subscriptions/new", response_class=HTMLResponse)
def new_subscription_page(request: Request, session: PageSession) -> Response:
    empty = ReadForm(form=RuleForm(), rule=None, schedule=None, errors={})
    return _editor(request, session, Editing(subscription_id=None, channel="webhook", target="", read=empty))


@router.post("/subscriptions/new", response_class=HTMLResponse)
def new_subscription_form(
    request: Request, db: DbSession, session: FormWriter, fields: PostedFields
) -> Response:
    channel: Channel = "email" if _one(fields, "channel") == "email" else "webhook"
    editing = Editing(
        subscription_id=None,
        channel=channel,
        target=_one(fields, "target"),
        read=read_form(RuleForm.from_fields(_values(fields)), web_rule_reader()),
        days=_window(fields),
    )
    if _one(fields, "action") != "save":
        return _tested(request, db, session, editing)
    if editing.read.errors or editing.read.rule is None or editing.read.schedule is None:
        return _editor(request, session, editing, status=422)
    try:
        created = subscribe(
            db,
            channel,
            target=editing.target,
            rule=editing.read.rule,
            policy=_policy(),
            schedule=editing.read.schedule,
        )
    except SubscriptionError as error:
        return _editor(request, session, _refused(editing, str(error)), status=422)
    context = {"session": session, "created": created, "channel": channel, "target": editing.target}
    return TEMPLATES.TemplateResponse(request, "subscription_created.html", context, status_code=201)


def _tested(request: Request, db: Session, session: WebSession, editing: Editing) -> Response:
    """The editor with the backtest of its rule below it (or its errors): nothing is saved."""
    if editing.read.errors:
        return _editor(request, session, editing, status=422)
    result = try_rule(db, editing.read, days=editing.days)
    return _editor(request, session, replace(editing, result=result))


def _changed_target(posted: str, stored: str) -> str:
    """The target an edit form gives: the stored one when the field was left empty or as shown (the
    form shows a URL's password as ``***``)."""
    return stored if posted in ("", redacted_url(stored)) else posted


def _refused(editing: Editing, message: str) -> Editing:
    return replace(editing, read=editing.read.with_error("target", message))


def _stored(db: Session, subscription_id: int) -> Subscription:
    try:
        return live_subscription(db, subscription_id)
    except SubscriptionError as error:
        raise Problem(404, str(error), kind="not-found") from None


@router.get("/subscriptions/{subscription_id}/edit", response_class=HTMLResponse)
def edit_subscription_page(
    request: Request, subscription_id: RowId, db: DbSession, session: PageSession
) -> Response:
    stored = _stored(db, subscription_id)
    rule, schedule = rule_of(stored), schedule_of(stored)
    read = ReadForm(form=RuleForm.of(rule, schedule), rule=rule, schedule=schedule, errors={})
    shown = redacted_url(stored.target)
    editing = Editing(subscription_id=stored.id, channel=stored.channel, target=shown, read=read)
    return _editor(request, session, editing)


@router.post("/subscriptions/{subscription_id}/edit", response_class=HTMLResponse)
def edit_subscription_form(
    request: Request, subscription_id: RowId, db: DbSession, session: FormWriter, fields: PostedFields
) -> Response:
    stored = _stored(db, subscription_id)
    editing = Editing(
        subscription_id=stored.id,
        channel=stored.channel,
        target=_changed_target(_one(fields, "target"), stored.target),
        read=read_form(RuleForm.from_fields(_values(fields)), web_rule_reader()),
        days=_window(fields),
    )
    if _one(fields, "action") != "save":
        return _tested(request, db, session, editing)
    if editing.read.errors:
        return _editor(request, session, editing, status=422)
    change = SubscriptionChange(target=editing.target, rule=editing.read.rule, schedule=editing.read.schedule)
    try:
        change_subscription(db, subscription_id, change, policy=_policy())
    except SubscriptionError as error:
        return _editor(request, session, _refused(editing, str(error)), status=422)
    return RedirectResponse(f"/subscriptions?saved={subscription_id}", status_code=303)


@router.post("/subscriptions/{subscription_id}/pause")
def pause_subscription(subscription_id: RowId, db: DbSession, _session: FormWriter) -> Response:
    return _set_paused(db, subscription_id, paused=True)


@router.post("/subscriptions/{subscription_id}/resume")
def resume_subscription(subscription_id: RowId, db: DbSession, _session: FormWriter) -> Response:
    return _set_paused(db, subscription_id, paused=False)


def _set_paused(db: Session, subscription_id: int, *, paused: bool) -> Response:
    _stored(db, subscription_id)
    change_subscription(db, subscription_id, SubscriptionChange(paused=paused))
    return RedirectResponse("/subscriptions", status_code=303)


@router.post("/subscriptions/{subscription_id}/delete")
def delete_subscription(subscription_id: RowId, db: DbSession, _session: FormWriter) -> Response:
    try:
        remove_subscription(db, subscription_id)
    except SubscriptionError as error:
        raise Problem(404, str(error), kind="not-found") from None
    return RedirectResponse("/subscriptions", status_code=303)
