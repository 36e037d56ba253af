"""Messages that travel between services on the broker: frozen pydantic models, sent as JSON.

Every message carries a ``schema_version``; a consumer refuses a version it does not know. The
vocabulary the messages use is declared here too, once for every service: what a topic name may
look like (the taxonomy names topics, subscriptions ask for them) and the kinds of entity (the
gazetteer files entities under them, the alert service stores them).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

# An article's id, which the messages carry, is made beside the folding it hashes (where a command that
# builds no message finds it without importing pydantic); named here too (``as``: an explicit re-export).
from shared.arabic import content_id as content_id  # noqa: PLC0414
from shared.arabic import content_id_of_folded as content_id_of_folded  # noqa: PLC0414
from shared.errors import MessageError

SCHEMA_VERSION: Literal[1] = 1

TOPIC_NAME_PATTERN = r"[a-z][a-z0-9_]*"
TOPIC_NAME_RULE = "lowercase ASCII (a-z, 0-9, _) starting with a letter"
_TOPIC_NAME = re.compile(TOPIC_NAME_PATTERN)

TopicName = Annotated[str, StringConstraints(pattern=f"^{TOPIC_NAME_PATTERN}$")]
"""A topic's name: an identifier such as ``strikes`` or ``troop_movements``."""

EntityKind = Literal["country", "alliance", "group", "place", "organization"]
ENTITY_KINDS: tuple[EntityKind, ...] = get_args(EntityKind)

# An entity's id is '<kind>:<slug>', e.g. 'country:tr', 'alliance:nato'.
ENTITY_ID_PATTERN = rf"(?:{'|'.join(ENTITY_KINDS)}):[a-z0-9_-]+"
_ENTITY_ID = re.compile(ENTITY_ID_PATTERN)

EntityId = Annotated[str, StringConstraints(pattern=f"^{ENTITY_ID_PATTERN}$")]


def is_topic_name(value: str) -> bool:
    """Whether ``value`` may name a topic."""
    return _TOPIC_NAME.fullmatch(value) is not None


def is_entity_id(value: str) -> bool:
    """Whether ``value`` is an entity id of a known kind, '<kind>:<slug>'."""
    return _ENTITY_ID.fullmatch(value) is not None


def entity_kind_of(entity_id: str) -> EntityKind:
    """The kind an entity id names ('country' for 'country:tr'); ValueError for an unknown kind."""
    prefix = entity_id.split(":", 1)[0]
    for kind in ENTITY_KINDS:
        if kind == prefix:
            return kind
    raise ValueError(f"entity id {entity_id!r} names no known kind ({', '.join(ENTITY_KINDS)})")


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


class ArticleIngested(Message):
    """A new article, decoded and de-duplicated by the ingest service.

    Version 2 adds ``feed_id``, the ingest service's id of the feed a feed article came from; a
    version 1 message has none.
    """

    summary_fields = ("article_id", "source_kind", "source")

    schema_version: Literal[1, 2] = 2  # type: ignore[assignment]

    article_id: Annotated[str, Field(min_length=16, max_length=64)]
    title: str
    text: str
    source: str = Field(description="File name or feed title the article came from.")
    source_kind: Literal["file", "feed"]
    url: str | None = None
    feed_id: int | None = Field(default=None, description="The feed's id, for a feed article.")
    published_at: datetime | None = None
    ingested_at: datetime
    alerts: bool = Field(
        default=True, description="False for an archive imported without alerts: stored and tagged only."
    )


class Evidence(BaseModel):
    """One passage that made a tag: where it is in the original text, as the reader wrote it."""

    model_config = ConfigDict(frozen=True)

    topic: TopicName
    term: str = Field(description="The taxonomy term that matched.")
    matched: str = Field(description="The words as written in the article.")
    field: Literal["title", "text"]
    start: int = Field(ge=0, description="Offset of the match in the original field.")
    end: int = Field(ge=0)
    sentence: str = Field(description="The sentence around the match, as written.")


class Entity(BaseModel):
    """An actor or place the article names, under a stable id."""

    model_config = ConfigDict(frozen=True)

    id: EntityId
    kind: EntityKind
    name: str
    mentions: int = Field(ge=1)


class Classification(BaseModel):
    """What the classifier concluded about one article."""

    model_config = ConfigDict(frozen=True)

    tags: tuple[TopicName, ...]
    scores: dict[TopicName, float]
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


# Most articles one batch message carries: a burst of files or a feed's first poll travels in messages
# of this size, and a lone article in a batch of one.
MAX_BATCH = 200


class ArticlesIngested(Message):
    """New articles handed on together (a burst of dropped files, one feed poll, a slice of an import):
    one message, one classification pass, one store transaction for all of them."""

    articles: tuple[ArticleIngested, ...] = Field(min_length=1, max_length=MAX_BATCH)

    def summary(self) -> str:
        return f"ArticlesIngested(articles={len(self.articles)})"


class ArticlesClassified(Message):
    """A batch of ingested articles with their tags, handed to the alert service together."""

    items: tuple[ArticleClassified, ...] = Field(min_length=1, max_length=MAX_BATCH)

    def summary(self) -> str:
        return f"ArticlesClassified(articles={len(self.items)})"


class ArticlesStored(Message):
    """The alert service has stored these articles: the ingest service may stop re-sending them."""

    article_ids: tuple[Annotated[str, Field(min_length=16, max_length=64)], ...] = Field(
        min_length=1, max_length=MAX_BATCH
    )

    def summary(self) -> str:
        return f"ArticlesStored(articles={len(self.article_ids)})"


class ArticleStored(Message):
    """The alert service has stored an article: the ingest service may stop re-sending it."""

    summary_fields = ("article_id",)

    article_id: Annotated[str, Field(min_length=16, max_length=64)]


class DeliveryRequested(Message):
    """Deliver (or retry) one alert."""

    summary_fields = ("alert_id",)

    alert_id: int


class DigestRequested(Message):
    """Deliver (or retry) one digest: a subscription's alerts held over one period."""

    summary_fields = ("digest_id",)

    digest_id: int
