"""Watch rules: which subscriptions want which articles.

A rule combines criteria of four kinds, each optional but at least one given: topics (each with an
optional minimum score), entities (gazetteer ids), keywords or phrases, and sources (a feed by id or
host, or the watched folder). Kinds combine with AND, the values of one kind with OR, and the
exclusions (topics, entities, keywords) veto a match. :class:`WatchRule` is the one representation,
stored with the subscription as JSON under a ``version``; :mod:`alert_service.rule_text` reads and
writes its compact text form.

Keywords are matched as the classifier matches its terms (:mod:`shared.forms`): folded, each word
in any of its written forms with clitics and endings, so ``قاعدة عين الأسد`` matches
``بقاعدة عين الاسد``; a phrase does not reach across a sentence end.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from shared.arabic import fold
from shared.forms import key_forms, word_key
from shared.gazetteer import EntityFinder
from shared.messages import TOPIC_NAME_RULE, EntityId, TopicName, is_topic_name

RULE_VERSION: Literal[1] = 1
# A word, or a sentence end: what keywords are matched against (the classifier's tokens).
TOKEN_PATTERN = re.compile(r"\w+|[.!?؟\n]")
SENTENCE_ENDS = frozenset(".!?؟\n")
SourceKind = Literal["feed", "host", "folder"]
Keyword = Annotated[str, StringConstraints(min_length=1, max_length=200)]
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


class TopicCriterion(BaseModel):
    """A topic the article must carry, with at least ``min_score`` when one is given."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: TopicName
    min_score: float | None = Field(default=None, ge=0.0, le=1.0)


class SourceCriterion(BaseModel):
    """Where the article must come from: a feed (its id), a site (its host) or the watched folder."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: SourceKind
    value: str = ""

    @model_validator(mode="after")
    def _value_fits_kind(self) -> SourceCriterion:
        if self.kind == "feed" and not self.value.isdigit():
            raise ValueError(f"a feed is given by its id (a number), not {self.value!r}")
        if self.kind == "host" and not _HOST.fullmatch(self.value):
            raise ValueError(f"{self.value!r} is not a host name like example.org (lowercase)")
        if self.kind == "folder" and self.value:
            raise ValueError("the watched folder takes no value")
        return self


class WatchRule(BaseModel):
    """What one subscription watches for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = RULE_VERSION
    topics: tuple[TopicCriterion, ...] = ()
    entities: tuple[EntityId, ...] = ()
    keywords: tuple[Keyword, ...] = ()
    sources: tuple[SourceCriterion, ...] = ()
    exclude_topics: tuple[TopicName, ...] = ()
    exclude_entities: tuple[EntityId, ...] = ()
    exclude_keywords: tuple[Keyword, ...] = ()

    @field_validator("keywords", "exclude_keywords")
    @classmethod
    def _keywords_have_words(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for keyword in value:
            if not keyword_words(keyword):
                raise ValueError(f"keyword {keyword!r} has no words")
        return value

    @model_validator(mode="after")
    def _something_to_watch(self) -> WatchRule:
        if not (self.topics or self.entities or self.keywords or self.sources):
            raise ValueError(
                "a rule needs at least one topic, entity, keyword or source (exclusions only veto)"
            )
        return self

    @classmethod
    def of_topics(cls, topics: Iterable[str]) -> WatchRule:
        """The rule of a subscription that names topics and nothing else."""
        return cls(topics=tuple(TopicCriterion(topic=topic) for topic in topics))

    @property
    def topic_names(self) -> tuple[str, ...]:
        """The topics the rule asks for, in order."""
        return tuple(criterion.topic for criterion in self.topics)

    def to_json(self) -> dict[str, object]:
        """The form stored with the subscription."""
        return self.model_dump(mode="json", exclude_defaults=True) | {"version": self.version}


@dataclass(frozen=True)
class ArticleFacts:
    """What a rule may look at in an article: its topics with their scores, the entities it names
    (with the places and countries they lie within), its words, and where it came from."""

    scores: Mapping[str, float] = field(default_factory=dict)
    entities: frozenset[str] = frozenset()
    title: str = ""
    text: str = ""
    source_kind: str = ""
    feed_id: int | None = None
    host: str | None = None

    @cached_property
    def words(self) -> tuple[str, ...]:
        """The article's folded words (:func:`article_words`), split only when a rule has keywords."""
        return article_words(self.title, self.text)

    @cached_property
    def distinct_words(self) -> frozenset[str]:
        """The article's words, each once: most keywords are ruled out by one set operation."""
        return frozenset(self.words)

    def find(self, keyword: str) -> int | None:
        """Where ``keyword`` first occurs in the article's words, or None."""
        forms = _keyword_forms(keyword)
        if not forms or any(word_forms.isdisjoint(self.distinct_words) for word_forms in forms):
            return None
        return find_keyword(self.words, keyword)

    @classmethod
    def of_article(  # noqa: PLR0913 -- past the first, every argument is keyword-only and named
        cls,
        scores: Mapping[str, float],
        *,
        entity_ids: Iterable[str],
        title: str,
        text: str,
        source_kind: str,
        feed_id: int | None,
        url: str | None,
        finder: EntityFinder,
    ) -> ArticleFacts:
        """The facts of an article: its tags' scores, the entities it names and (with ``finder``'s
        gazetteer) those they lie within."""
        return cls(
            scores=dict(scores),
            entities=finder.with_containers(frozenset(entity_ids)),
            title=title,
            text=text,
            source_kind=source_kind,
            feed_id=feed_id,
            host=url_host(url),
        )


@dataclass(frozen=True)
class RuleMatch:
    """Why an article matched: the topics, entities and keywords of the rule it carries."""

    topics: tuple[str, ...]
    entities: tuple[str, ...]
    keywords: tuple[tuple[str, int], ...]  # (keyword, position of its first word in the words)


def article_text(title: str, text: str) -> str:
    """An article's title and text as one text, the title its first line."""
    return f"{title}\n{text}"


def article_words(title: str, text: str) -> tuple[str, ...]:
    """The folded words of an article (:func:`article_text`) with its sentence ends, as keywords see
    them; a word's position is that of its match of :data:`TOKEN_PATTERN` in the folded text."""
    return tuple(token.casefold() for token in TOKEN_PATTERN.findall(fold(article_text(title, text))))


def url_host(url: str | None) -> str | None:
    """The host of an article's URL, lowercase, or None."""
    if not url:
        return None
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def keyword_words(keyword: str) -> list[str]:
    """The folded words of a keyword (its punctuation left out)."""
    words = (token.casefold() for token in TOKEN_PATTERN.findall(fold(keyword)))
    return [word for word in words if word not in SENTENCE_ENDS]


@cache
def _keyword_forms(keyword: str) -> tuple[frozenset[str], ...]:
    return tuple(key_forms(word_key(word)) for word in keyword_words(keyword))


def find_keyword(words: tuple[str, ...], keyword: str) -> int | None:
    """Where ``keyword`` first occurs in ``words`` (each of its words in any written form), or None."""
    forms = _keyword_forms(keyword)
    if not forms:
        return None
    first, rest = forms[0], forms[1:]
    for position, word in enumerate(words):
        if word in first and all(
            position + offset < len(words) and words[position + offset] in word_forms
            for offset, word_forms in enumerate(rest, 1)
        ):
            return position
    return None


def evaluate(rule: WatchRule, facts: ArticleFacts) -> RuleMatch | None:
    """Why ``facts`` match ``rule``, or None when they do not (a missing kind or an exclusion)."""
    if _vetoed(rule, facts):
        return None
    topics = tuple(
        c.topic
        for c in rule.topics
        if c.topic in facts.scores and (c.min_score is None or facts.scores[c.topic] >= c.min_score)
    )
    entities = tuple(entity for entity in rule.entities if entity in facts.entities)
    keywords = tuple(
        (keyword, position) for keyword in rule.keywords if (position := facts.find(keyword)) is not None
    )
    wanted = ((rule.topics, topics), (rule.entities, entities), (rule.keywords, keywords))
    if any(asked and not found for asked, found in wanted):
        return None
    if rule.sources and not any(_from_source(source, facts) for source in rule.sources):
        return None
    return RuleMatch(topics=topics, entities=entities, keywords=keywords)


def _vetoed(rule: WatchRule, facts: ArticleFacts) -> bool:
    return (
        any(topic in facts.scores for topic in rule.exclude_topics)
        or any(entity in facts.entities for entity in rule.exclude_entities)
        or any(facts.find(keyword) is not None for keyword in rule.exclude_keywords)
    )


def _from_source(source: SourceCriterion, facts: ArticleFacts) -> bool:
    if source.kind == "folder":
        return facts.source_kind == "file"
    if source.kind == "feed":
        return facts.feed_id is not None and str(facts.feed_id) == source.value
    host = facts.host or ""
    return host == source.value or host.endswith("." + source.value)


def matching_subscriptions(rules: Mapping[int, WatchRule], facts: ArticleFacts) -> list[int]:
    """Ids of the subscriptions whose rule matches the article, in ascending order."""
    return sorted(subscription_id for subscription_id, rule in rules.items() if evaluate(rule, facts))


def parse_topics(raw: str) -> list[str]:
    """Topics from a comma-separated list, de-duplicated in order; ValueError names a bad one."""
    topics: list[str] = []
    for part in raw.split(","):
        topic = part.strip()
        if not topic:
            continue
        if not is_topic_name(topic):
            example = "like 'strikes' or 'troop_movements'"
            raise ValueError(f"topic {topic!r} is not an identifier {example} ({TOPIC_NAME_RULE})")
        if topic not in topics:
            topics.append(topic)
    if not topics:
        raise ValueError("at least one topic is needed")
    return topics
