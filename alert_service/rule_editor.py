"""Reading a subscription from what people type on the web: the API's rule text, and the dashboard's
rule editor, a form with one field for each criterion a watch rule has.

The form is turned into rule criteria (``kind:value``, as the command line writes them) and read by
the same :class:`~alert_service.rule_text.RuleReader`; each criterion is also checked on its own so
the editor can show an error (an unknown entity, with the closest names) beside its field. The
schedule fields are read by :func:`~alert_service.schedules.read_schedule`, as ``rasid subscribe``'s
options are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from alert_service.errors import RuleError, SubscriptionError
from alert_service.rule_text import RuleReader, format_rule, source_text
from alert_service.rules import WatchRule
from alert_service.schedules import Schedule, read_schedule
from alert_service.settings import alert_settings
from shared.gazetteer import entity_finder
from shared.web.topics import web_topics

# The editor's fields that hold one value a line, and the rule criterion kind each line is.
LINE_FIELDS: Mapping[str, str] = {
    "entities": "entity",
    "keywords": "keyword",
    "sources": "source",
    "exclude_entities": "-entity",
    "exclude_keywords": "-keyword",
}
# Where an error about the rule as a whole (nothing to watch) is shown.
RULE_FIELD = "rule"
SCHEDULE_FIELD = "schedule"


def web_rule_reader() -> RuleReader:
    """A reader of rules resolving entities with the configured gazetteer and checking topics against
    the services' taxonomy."""
    return RuleReader(entity_finder(alert_settings().gazetteer_path), known_topics=web_topics())


def read_web_rule(text: str) -> WatchRule:
    """The rule in ``text`` (its text form); :class:`RuleError` says what is wrong."""
    return web_rule_reader().read(text)


@dataclass(frozen=True)
class RuleForm:
    """The rule editor's fields as typed (kept as text so a refused form comes back as it was sent)."""

    topics: tuple[str, ...] = ()
    min_scores: Mapping[str, str] = field(default_factory=dict)
    exclude_topics: tuple[str, ...] = ()
    entities: str = ""
    keywords: str = ""
    sources: str = ""
    exclude_entities: str = ""
    exclude_keywords: str = ""
    mode: str = "immediate"
    at: str = ""
    zone: str = "UTC"
    quiet_start: str = ""
    quiet_end: str = ""

    @classmethod
    def from_fields(cls, values: Callable[[str], list[str]]) -> RuleForm:
        """The form from the posted fields (``values(name)``: every value of the field ``name``)."""

        def one(name: str, default: str = "") -> str:
            found = values(name)
            return found[0].strip() if found else default

        topics = tuple(dict.fromkeys(value.strip() for value in values("topic") if value.strip()))
        return cls(
            topics=topics,
            min_scores={topic: one(f"score_{topic}") for topic in topics},
            exclude_topics=tuple(dict.fromkeys(v.strip() for v in values("exclude_topic") if v.strip())),
            **{name: one(name) for name in LINE_FIELDS},
            mode=one("mode", "immediate"),
            at=one("at"),
            zone=one("zone", "UTC") or "UTC",
            quiet_start=one("quiet_start"),
            quiet_end=one("quiet_end"),
        )

    @classmethod
    def of(cls, rule: WatchRule, schedule: Schedule) -> RuleForm:
        """The form showing a stored rule and schedule."""
        quiet = schedule.quiet
        return cls(
            topics=rule.topic_names,
            min_scores={c.topic: f"{c.min_score:g}" for c in rule.topics if c.min_score is not None},
            exclude_topics=rule.exclude_topics,
            entities=_lines(rule.entities),
            keywords=_lines(rule.keywords),
            sources=_lines(source_text(source) for source in rule.sources),
            exclude_entities=_lines(rule.exclude_entities),
            exclude_keywords=_lines(rule.exclude_keywords),
            mode=schedule.mode,
            at=schedule.at.strftime("%H:%M") if schedule.at else "",
            zone=schedule.zone,
            quiet_start=quiet[0].strftime("%H:%M") if quiet else "",
            quiet_end=quiet[1].strftime("%H:%M") if quiet else "",
        )

    def criteria(self) -> list[tuple[str, str]]:
        """Each criterion the form gives, with the field it came from."""
        found = [("topics", _topic_criterion(topic, self.min_scores.get(topic, ""))) for topic in self.topics]
        found += [("exclude_topics", f"-topic:{topic}") for topic in self.exclude_topics]
        for name, kind in LINE_FIELDS.items():
            found += [(name, f"{kind}:{line}") for line in _split_lines(getattr(self, name))]
        return found

    def schedule(self) -> Schedule:
        """The schedule the delivery fields give; :class:`SubscriptionError` says what is wrong."""
        digest = f"daily@{self.at}" if self.mode == "daily" else self.mode
        if bool(self.quiet_start) != bool(self.quiet_end):
            raise SubscriptionError("quiet hours need a start and an end, e.g. 22:00 and 07:00")
        quiet = f"{self.quiet_start}-{self.quiet_end}" if self.quiet_start else None
        return read_schedule(digest, zone=self.zone, quiet=quiet)


@dataclass(frozen=True)
class ReadForm:
    """What a rule editor's form says: the rule and the schedule when they can be read, else the
    errors by field (``topics``, ``entities``, ..., :data:`RULE_FIELD`, :data:`SCHEDULE_FIELD`)."""

    form: RuleForm
    rule: WatchRule | None
    schedule: Schedule | None
    errors: Mapping[str, Sequence[str]]

    @property
    def rule_text(self) -> str:
        """The rule in its text form, or empty when it cannot be read."""
        return format_rule(self.rule) if self.rule is not None else ""

    def with_error(self, name: str, message: str) -> ReadForm:
        """The same reading with one more error, on field ``name``."""
        errors = {key: list(value) for key, value in self.errors.items()}
        errors.setdefault(name, []).append(message)
        return replace(self, errors=errors)


def read_form(form: RuleForm, reader: RuleReader) -> ReadForm:
    """Read the rule and schedule of ``form``, collecting every error by the field it belongs to."""
    errors: dict[str, list[str]] = {}
    criteria = form.criteria()
    for name, criterion in criteria:
        try:
            reader.check(criterion)
        except RuleError as error:
            errors.setdefault(name, []).append(str(error))
    rule = None
    if not errors:
        try:
            rule = reader.read_criteria(criterion for _, criterion in criteria)
        except RuleError as error:
            errors.setdefault(RULE_FIELD, []).append(str(error).removeprefix("invalid rule: "))
    try:
        schedule: Schedule | None = form.schedule()
    except SubscriptionError as error:
        schedule = None
        errors.setdefault(SCHEDULE_FIELD, []).append(str(error))
    return ReadForm(form=form, rule=rule, schedule=schedule, errors=errors)


def _topic_criterion(topic: str, min_score: str) -> str:
    return f"topic:{topic}>={min_score}" if min_score else f"topic:{topic}"


def _lines(values: Iterable[str]) -> str:
    return "\n".join(values)


def _split_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]
