"""The compact text form of a watch rule, for the command line: read it, and write it back.

A rule is criteria separated by spaces, each ``kind:value``; a value with spaces is quoted
(``keyword:"قاعدة عين الأسد"``); a leading ``-`` makes a topic, entity or keyword an exclusion::

    topic:strikes>=0.8 topic:withdrawal entity:Iraq entity:"Ain al-Asad" keyword:مسيرة
    source:folder source:feed:3 source:host:example.org -keyword:مناورات -topic:training

Entities are given by id (``country:iq``), Arabic name (``العراق``) or English name (``Iraq``) and
resolved to their ids when the rule is read; :func:`format_rule` writes the canonical form (ids,
kinds in a fixed order), which reads back to the same rule.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Collection, Iterable

from pydantic import ValidationError

from alert_service.errors import RuleError
from alert_service.rules import SourceCriterion, TopicCriterion, WatchRule
from shared.errors import GazetteerError
from shared.gazetteer import EntityFinder
from shared.messages import is_topic_name

KINDS = ("topic", "entity", "keyword", "source")
EXCLUDABLE = ("topic", "entity", "keyword")
_TOPIC = re.compile(r"^(?P<topic>[^<>=]+?)\s*(?:>=\s*(?P<score>[0-9.]+))?$")
_NEEDS_QUOTES = re.compile(r"[\s\"'\\]")
_EXAMPLE = "e.g. topic:strikes>=0.8 entity:Iraq -keyword:مناورات"


class RuleReader:
    """Reads rule text, resolving entity names with ``finder`` and checking topics against ``known``
    (None when the taxonomy cannot say)."""

    def __init__(self, finder: EntityFinder, *, known_topics: Collection[str] | None = None) -> None:
        self._finder = finder
        self._known = known_topics
        self._fields: dict[str, list[object]] = {}

    def read(self, text: str) -> WatchRule:
        """The rule ``text`` describes; :class:`RuleError` says what is wrong with it."""
        return self.read_criteria(split_rule(text))

    def read_criteria(self, criteria: Iterable[str]) -> WatchRule:
        """The rule of criteria already split (``kind:value`` or ``-kind:value`` each)."""
        self._fields = {name: [] for name in WatchRule.model_fields if name != "version"}
        for criterion in criteria:
            self._add(criterion)
        try:
            return WatchRule.model_validate({name: _unique(values) for name, values in self._fields.items()})
        except ValidationError as error:
            raise RuleError(f"invalid rule: {error.errors()[0]['msg']}") from None

    def check(self, criterion: str) -> None:
        """Raise :class:`RuleError` when ``criterion`` (``kind:value`` or ``-kind:value``) cannot be
        read (an unknown entity, with the closest names): what a form shows beside its field."""
        self._fields = {name: [] for name in WatchRule.model_fields if name != "version"}
        self._add(criterion)

    def _add(self, criterion: str) -> None:
        excluded = criterion.startswith("-")
        kind, colon, value = criterion.removeprefix("-").partition(":")
        value = " ".join(value.split())
        if not colon or kind not in KINDS or not value:
            raise RuleError(f"{criterion!r} is not kind:value with kind {', '.join(KINDS)} ({_EXAMPLE})")
        if excluded and kind not in EXCLUDABLE:
            raise RuleError(f"{criterion!r}: only topics, entities and keywords can be excluded")
        readers: dict[str, Callable[[str], object]] = {
            "topic": self._topic_name if excluded else self._topic,
            "entity": self._entity,
            "keyword": str,
            "source": _source,
        }
        plural = "entities" if kind == "entity" else f"{kind}s"
        self._fields[f"exclude_{plural}" if excluded else plural].append(readers[kind](value))

    def _topic(self, value: str) -> TopicCriterion:
        found = _TOPIC.match(value)
        if found is None:
            raise RuleError(f"topic {value!r} is not NAME or NAME>=SCORE (topic:strikes>=0.8)")
        score = found["score"]
        try:
            min_score = None if score is None else float(score)
        except ValueError:
            raise RuleError(f"topic {value!r}: {score!r} is not a score between 0 and 1") from None
        if min_score is not None and not 0.0 <= min_score <= 1.0:
            raise RuleError(f"topic {value!r}: the minimum score must be between 0 and 1")
        return TopicCriterion(topic=self._topic_name(found["topic"]), min_score=min_score)

    def _topic_name(self, name: str) -> str:
        if not is_topic_name(name):
            raise RuleError(f"topic {name!r} is not a topic name like strikes or troop_movements")
        if self._known is not None and name not in self._known:
            raise RuleError(f"unknown topic {name!r} (known topics: {', '.join(sorted(self._known))})")
        return name

    def _entity(self, value: str) -> str:
        try:
            return self._finder.find(value).id
        except GazetteerError as error:
            raise RuleError(str(error)) from None


def split_rule(text: str) -> list[str]:
    """The criteria of rule text, split at spaces outside quotes."""
    try:
        return shlex.split(text)
    except ValueError as error:
        raise RuleError(f'cannot read the rule: {error} (quote a value with spaces in "...")') from None


def _source(value: str) -> SourceCriterion:
    kind, colon, rest = value.partition(":")
    if value == "folder":
        candidate = {"kind": "folder"}
    elif colon and kind in ("feed", "host"):
        candidate = {"kind": kind, "value": rest.lower() if kind == "host" else rest}
    elif value.isdigit():
        candidate = {"kind": "feed", "value": value}
    else:
        candidate = {"kind": "host", "value": value.lower().removeprefix("www.")}
    try:
        return SourceCriterion.model_validate(candidate)
    except ValidationError as error:
        message = error.errors()[0]["msg"].removeprefix("Value error, ")
        raise RuleError(
            f"source {value!r}: {message} (source:folder, source:feed:ID or source:host:HOST)"
        ) from None


def _unique(values: Iterable[object]) -> list[object]:
    return list(dict.fromkeys(values))


def format_rule(rule: WatchRule) -> str:
    """The canonical text of ``rule``: reads back (with :class:`RuleReader`) to the same rule."""
    parts = [_topic_text(criterion) for criterion in rule.topics]
    parts += [f"entity:{_quoted(entity)}" for entity in rule.entities]
    parts += [f"keyword:{_quoted(keyword)}" for keyword in rule.keywords]
    parts += [f"source:{source_text(source)}" for source in rule.sources]
    parts += [f"-topic:{topic}" for topic in rule.exclude_topics]
    parts += [f"-entity:{_quoted(entity)}" for entity in rule.exclude_entities]
    parts += [f"-keyword:{_quoted(keyword)}" for keyword in rule.exclude_keywords]
    return " ".join(parts)


def _topic_text(criterion: TopicCriterion) -> str:
    if criterion.min_score is None:
        return f"topic:{criterion.topic}"
    return f"topic:{criterion.topic}>={criterion.min_score:g}"


def source_text(source: SourceCriterion) -> str:
    """A source criterion's value as the rule text writes it: ``folder``, ``feed:3``, ``host:x.org``."""
    return "folder" if source.kind == "folder" else f"{source.kind}:{source.value}"


def _quoted(value: str) -> str:
    if not _NEEDS_QUOTES.search(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
