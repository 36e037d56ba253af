"""The classifier service's dashboard form: an analyst marks a tag wrong or adds a missing topic on
an article's page; stored as ``rasid feedback`` stores it, with who (the session) and when."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from classifier_service.feedback import Label, record_label
from shared.db import utc_now
from shared.messages import content_id
from shared.web.access import DbSession
from shared.web.problems import Problem
from shared.web.session import FormWriter
from shared.web.topics import web_topics

router = APIRouter(include_in_schema=False)


@router.post("/feedback")
def feedback_form(  # noqa: PLR0913, PLR0917 -- one parameter a form field, as FastAPI passes them
    db: DbSession,
    session: FormWriter,
    article_id: Annotated[str, Form(max_length=64)],
    title: Annotated[str, Form()],
    text: Annotated[str, Form()],
    topic: Annotated[str, Form(max_length=64)],
    label: Annotated[int, Form(ge=0, le=1)],
) -> Response:
    if content_id(title, text) != article_id:
        raise Problem(422, f"the title and text sent are not article {article_id}", kind="wrong-article")
    topics = web_topics()
    if topics is not None and topic not in topics:
        raise Problem(422, f"unknown topic {topic!r}", kind="bad-topic")
    record_label(db, Label(article_id, title, text, topic, bool(label), session.name, utc_now()))
    return RedirectResponse(f"/articles/{article_id}?feedback=saved", status_code=303)
