"""The taxonomy: topics, their terms, and the words around a term that make it count or not.

The taxonomy is data (``taxonomy.yaml``), validated here. A term is a word or phrase with a weight;
it may require context (a lexicon or phrase near it in the same sentence), and a second condition
besides (``also``: an armed actor as well as a word of demand, say), and may be cancelled by
exclusions (false friends such as withdrawing from an agreement, or a penalty kick). A term whose
subject is often named a sentence earlier (a pronoun: "they withdrew") may look for its context, and
its exclusions with it, in the sentence before its own as well (``context_scope``). In context and
exclusion lists, a lexicon is named (lowercase ASCII, as topics are), a gazetteer kind is written
``@kind`` (any country, group, ... the gazetteer knows), and anything else is a literal Arabic phrase,
in which a word ``@kind`` stands for each name of that kind (``من @country``: "from" followed by a
country). Topic names and entity kinds are those of the messages (:mod:`shared.messages`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from classifier_service.errors import TaxonomyError
from shared.arabic import fold, words
from shared.datafile import load_data_file
from shared.messages import ENTITY_KINDS, TOPIC_NAME_RULE, is_topic_name

PACKAGED_TAXONOMY = Path(__file__).with_name("taxonomy.yaml")
KIND_REFERENCES = tuple(f"@{kind}" for kind in ENTITY_KINDS)

Weight = Annotated[float, Field(gt=0.0, le=1.0)]
Threshold = Annotated[float, Field(gt=0.0, le=1.0)]
# Where a term's context, second condition and exclusions are looked for: its own sentence, or its
# own and the one before it (the subject named there, the verb carrying it as a pronoun).
ContextScope = Literal["sentence", "previous_sentence"]


def is_reference(item: str) -> bool:
    """Whether a context or exclusion item names a lexicon rather than spelling a phrase."""
    # Lexicons are named as topics are, so one rule tells a name from an Arabic phrase.
    return is_topic_name(item)


def _check_phrase(value: str) -> str:
    if not words(fold(value)):
        raise ValueError("a phrase must have at least one word")
    return value


def is_entity_kind(item: str) -> bool:
    """Whether a context or exclusion item stands for every gazetteer entity of a kind."""
    return item.startswith("@") and " " not in item.strip()


def _check_references(items: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
    lexicons: set[str] = (info.context or {}).get("lexicons", set())
    for item in items:
        if is_entity_kind(item):
            if item not in KIND_REFERENCES:
                raise ValueError(f"unknown entity kind {item!r} (known: {', '.join(KIND_REFERENCES)})")
            continue
        for word in item.split():
            if word.startswith("@") and word not in KIND_REFERENCES and len(item.split()) > 1:
                raise ValueError(f"unknown entity kind {word!r} in {item!r}")
        if is_reference(item) and item not in lexicons:
            raise ValueError(f"unknown lexicon {item!r} (known: {', '.join(sorted(lexicons)) or 'none'})")
        if not is_reference(item):
            _check_phrase(item)
    return items


class Term(BaseModel):
    """One term of a topic and the conditions under which it counts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    term: str = Field(description="The word or phrase, in any spelling.")
    variants: tuple[str, ...] = Field(default=(), description="Other forms: broken plurals, verb forms.")
    weight: Weight = Field(description="How much one occurrence says the topic is present.")
    context: tuple[str, ...] = Field(default=(), description="At least one must be near the term.")
    also: tuple[str, ...] = Field(
        default=(), description="A second condition: at least one of these must be near the term too."
    )
    exclude: tuple[str, ...] = Field(default=(), description="None may be near the term.")
    window: int | None = Field(default=None, ge=0, description="Words either side; 0 is the sentence.")
    also_window: int | None = Field(default=None, ge=0, description="For ``also``; default: window.")
    exclude_window: int | None = Field(
        default=None, ge=0, description="For the term's own exclusions; default: window."
    )
    exact: bool = Field(default=False, description="Match the written form only, no clitics or endings.")
    context_scope: ContextScope = Field(
        default="sentence",
        description="Where conditions and exclusions are looked for: the sentence, or it and the one before.",
    )

    @field_validator("term")
    @classmethod
    def _term_has_words(cls, value: str) -> str:
        return _check_phrase(value)

    @field_validator("variants")
    @classmethod
    def _variants_have_words(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for variant in value:
            _check_phrase(variant)
        return value

    @field_validator("context", "also", "exclude")
    @classmethod
    def _known_lexicons(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        return _check_references(value, info)


class Topic(BaseModel):
    """A topic: its terms, an optional threshold, exclusions that apply to all its terms."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    threshold: Threshold | None = None
    exclude: tuple[str, ...] = Field(default=(), description="Exclusions added to every term.")
    terms: tuple[Term, ...] = Field(min_length=1)

    @field_validator("exclude")
    @classmethod
    def _known_lexicons(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        return _check_references(value, info)


class Taxonomy(BaseModel):
    """The whole taxonomy file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, pattern=r"^[0-9A-Za-z.\-_]+$")
    threshold: Threshold = 0.5
    window: int = Field(default=8, ge=0, description="Default context window, in words; 0 is the sentence.")
    lexicons: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    topics: dict[str, Topic] = Field(min_length=1)

    @field_validator("lexicons")
    @classmethod
    def _lexicons_are_named_phrases(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for name, phrases in value.items():
            if not is_reference(name):
                raise ValueError(f"lexicon name {name!r} must be {TOPIC_NAME_RULE}")
            if not phrases:
                raise ValueError(f"lexicon {name!r} is empty")
            for phrase in phrases:
                _check_phrase(phrase)
        return value

    @field_validator("topics")
    @classmethod
    def _topic_names(cls, value: dict[str, Topic]) -> dict[str, Topic]:
        for name in value:
            if not is_topic_name(name):
                raise ValueError(f"topic name {name!r} must be {TOPIC_NAME_RULE}")
        return value

    def threshold_of(self, topic: str) -> float:
        """The tagging threshold of ``topic``: its own, else the file's."""
        own = self.topics[topic].threshold
        return own if own is not None else self.threshold


def _validation_context(data: Any) -> dict[str, Any]:
    lexicons = data.get("lexicons") if isinstance(data, dict) else None
    return {"lexicons": set(lexicons) if isinstance(lexicons, dict) else set()}


def load_taxonomy(path: Path) -> Taxonomy:
    """Read and validate a taxonomy file, raising :class:`TaxonomyError` with line and reason."""
    return load_data_file(path, model=Taxonomy, error=TaxonomyError, context=_validation_context)
