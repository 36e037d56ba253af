"""The classifier service's part of the API: an analyst marks a tag wrong or adds a missing one.

The label is stored as ``rasid feedback`` stores it (:mod:`classifier_service.feedback`), with the
token's name as who gave it. The article's title and text come with the label (training needs the
words, and this service reads no other service's tables); its id is checked against them.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from classifier_service.feedback import Label, record_label
from shared.db import utc_now
from shared.messages import content_id
from shared.web.access import DbSession, Writer
from shared.web.problems import PROBLEM_RESPONSES, Problem
from shared.web.topics import web_topics

router = APIRouter(responses=PROBLEM_RESPONSES)


class FeedbackIn(BaseModel):
    article_id: str = Field(max_length=64)
    title: str
    text: str
    topic: str = Field(max_length=64)
    label: bool = Field(description="false: the tag is wrong; true: the topic is missing (or right).")
    note: str | None = Field(default=None, max_length=2000)


class FeedbackOut(BaseModel):
    id: int
    article_id: str
    topic: str
    label: bool
    given_by: str
    given_at: datetime


@router.post(
    "/feedback", tags=["feedback"], status_code=201, summary="Mark a tag wrong, or add a missing one."
)
def give_feedback(body: FeedbackIn, session: DbSession, caller: Writer) -> FeedbackOut:
    if content_id(body.title, body.text) != body.article_id:
        raise Problem(
            422, f"the title and text given are not article {body.article_id}", kind="wrong-article"
        )
    topics = web_topics()
    if topics is not None and body.topic not in topics:
        raise Problem(
            422, f"unknown topic {body.topic!r} (known: {', '.join(sorted(topics))})", kind="bad-topic"
        )
    label = Label(
        body.article_id,
        body.title,
        body.text,
        body.topic,
        body.label,
        f"token:{caller.name}",
        utc_now(),
        body.note,
    )
    number = record_label(session, label)
    return FeedbackOut(
        id=number,
        article_id=label.article_id,
        topic=label.topic,
        label=label.label,
        given_by=label.given_by,
        given_at=label.given_at,
    )
