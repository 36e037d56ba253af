"""Messages that travel between services on the broker: frozen pydantic models, sent as JSON.

Every message carries a ``schema_version``; a consumer refuses a version it does not know.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.arabic import fold
from shared.errors import MessageError

SCHEMA_VERSION: Literal[1] = 1


class Message(BaseModel):
    """Base of every broker message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    # The fields a log line may show: ids and sizes, never article text.
    summary_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        """Validate a payload taken from the broker, raising :class:`MessageError`."""
        try:
            return cls.model_validate(payload)
        except ValidationError as error:
            raise MessageError(f"{cls.__name__}: {error}") from error

    def to_payload(self) -> dict[str, Any]:
        """The JSON-safe form sent on the broker."""
        return self.model_dump(mode="json")

    def summary(self) -> str:
        """How the message appears in logs."""
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.summary_fields)
        return f"{type(self).__name__}({fields})"


def content_id(title: str, text: str) -> str:
    """An article's id: a hash of its normalized words, so one text has one id whatever its
    encoding, file name, spacing or diacritics."""
    words = fold(f"{title}\n{text}").split()
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()[:32]


class ArticleIngested(Message):
    """A new article, decoded and de-duplicated by the ingest service."""

    summary_fields = ("article_id", "source_kind", "source")

    article_id: Annotated[str, Field(min_length=16, max_length=64)]
    title: str
    text: str
    source: str = Field(description="File name or feed title the article came from.")
    source_kind: Literal["file", "feed"]
    url: str | None = None
    published_at: datetime | None = None
    ingested_at: datetime


class Evidence(BaseModel):
    """One passage that made a tag: where it is in the original text, as the reader wrote it."""

    model_config = ConfigDict(frozen=True)

    topic: str
    term: str = Field(description="The taxonomy term that matched.")
    matched: str = Field(description="The words as written in the article.")
    field: Literal["title", "text"]
    start: int = Field(ge=0, description="Offset of the match in the original field.")
    end: int = Field(ge=0)
    sentence: str = Field(description="The sentence around the match, as written.")


class Entity(BaseModel):
    """An actor or place the article names, under a stable id."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: Literal["country", "alliance", "group", "place", "organization"]
    name: str
    mentions: int = Field(ge=1)


class Classification(BaseModel):
    """What the classifier concluded about one article."""

    model_config = ConfigDict(frozen=True)

    tags: tuple[str, ...]
    scores: dict[str, float]
    evidence: tuple[Evidence, ...] = ()
    entities: tuple[Entity, ...] = ()
    classifier_version: str


class ArticleClassified(Message):
    """An ingested article with its tags, handed to the alert service."""

    article: ArticleIngested
    classification: Classification

    def summary(self) -> str:
        tags = ",".join(self.classification.tags) or "-"
        return f"ArticleClassified(article_id={self.article.article_id!r}, tags={tags!r})"


class ArticleStored(Message):
    """The alert service has stored an article: the ingest service may stop re-sending it."""

    summary_fields = ("article_id",)

    article_id: Annotated[str, Field(min_length=16, max_length=64)]


class DeliveryRequested(Message):
    """Deliver (or retry) one alert."""

    summary_fields = ("alert_id",)

    alert_id: int
