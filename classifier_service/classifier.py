"""The topic classifier: taxonomy terms found in an article's words, weighed in their context.

Each field (title, text) is read into tokens (:mod:`classifier_service.tokens`). One pass over the
tokens finds every phrase the taxonomy and the gazetteer know. A term occurrence counts when its
context (if it needs one) is near it in the same sentence and no exclusion (false friend) is; a
topic's score is the noisy-or of the weights of the occurrences that count.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from classifier_service.cache import cache_key, default_cache_dir, read_cached, write_cached
from classifier_service.gazetteer import PACKAGED_GAZETTEER, Gazetteer, load_gazetteer
from classifier_service.matching import Match, Matcher, Occurrence
from classifier_service.phrases import CompiledIndex, Owners, PhraseIndex
from classifier_service.taxonomy import (
    PACKAGED_TAXONOMY,
    Taxonomy,
    Term,
    is_entity_kind,
    is_reference,
    load_taxonomy,
)
from classifier_service.tokens import FieldWords
from shared.arabic import fold
from shared.messages import Classification, Entity, Evidence

_SCORE_DIGITS = 4


@dataclass(frozen=True, slots=True)
class CompiledTerm:
    """A taxonomy term ready for matching: its conditions are ids of phrase groups."""

    topic: str
    term: str
    weight: float
    context: frozenset[int]
    exclude: frozenset[int]
    topic_exclude: frozenset[int]
    window: int
    exclude_window: int
    topic_window: int


@dataclass(slots=True)
class FieldMatches:
    """What was found in one field, sorted by what found it."""

    words: FieldWords
    terms: list[Match]
    groups: dict[int, list[Occurrence]]
    entities: list[Match]


class Classifier:
    """Tags articles with the topics of a taxonomy. Build with :func:`load_classifier`."""

    version: str
    topics: tuple[str, ...]

    def __init__(self, taxonomy: Taxonomy, gazetteer: Gazetteer, *, version: str) -> None:
        self.version = version
        self.topics = tuple(taxonomy.topics)
        self.__dict__["taxonomy"] = taxonomy
        self.__dict__["gazetteer"] = gazetteer
        self._thresholds = {topic: taxonomy.threshold_of(topic) for topic in self.topics}
        self._index = PhraseIndex()
        self._group_ids: dict[str, int] = {}
        self._terms: list[CompiledTerm] = []
        self._kind_groups: dict[str, int] = {}
        self._compile_terms(taxonomy)
        self._entity_base = len(self._terms) + len(self._group_ids)
        self._compile_entities(gazetteer)
        self._compiled_index: CompiledIndex = self._index.compile(self._route)
        self._matcher = Matcher(self._compiled_index)
        del self._index
        self._entity_names = [(entry.id, entry.kind, entry.name) for entry in gazetteer.entries]

    # A classifier read from the cache loads its data files only if someone asks for them.
    _taxonomy_path: Path
    _gazetteer_path: Path

    @cached_property
    def taxonomy(self) -> Taxonomy:
        """The taxonomy the classifier was compiled from."""
        return load_taxonomy(self._taxonomy_path)

    @cached_property
    def gazetteer(self) -> Gazetteer:
        """The gazetteer the classifier was compiled from."""
        return load_gazetteer(self._gazetteer_path)

    def state(self) -> tuple[object, ...]:
        """What classifying needs, as plain data (see :mod:`classifier_service.cache`)."""
        terms = [
            (t.topic, t.term, t.weight, t.context, t.exclude, t.topic_exclude, t.window, t.exclude_window,
             t.topic_window)
            for t in self._terms
        ]  # fmt: skip
        return (self.version, self.topics, self._thresholds, terms, self._entity_names, self._compiled_index)

    @classmethod
    def from_state(cls, state: tuple[Any, ...], *, taxonomy_path: Path, gazetteer_path: Path) -> Classifier:
        """A classifier from :meth:`state`; raises ``ValueError`` (or ``TypeError``) if it is malformed."""
        version, topics, thresholds, terms, entity_names, phrases = state
        classifier = cls.__new__(cls)
        classifier.version = str(version)
        classifier.topics = tuple(topics)
        classifier._thresholds = dict(thresholds)
        classifier._terms = [CompiledTerm(*term) for term in terms]
        classifier._entity_names = [tuple(names) for names in entity_names]
        if not isinstance(phrases, tuple) or set(classifier._thresholds) != set(classifier.topics):
            raise ValueError("not a compiled classifier")
        classifier._compiled_index = phrases
        classifier._matcher = Matcher(phrases)
        classifier._taxonomy_path = taxonomy_path
        classifier._gazetteer_path = gazetteer_path
        return classifier

    def classify(self, *, title: str, text: str) -> Classification:
        """Score every topic, tag those at or above their threshold, with evidence and entities."""
        fields = [self._match(FieldWords.read("title", title)), self._match(FieldWords.read("text", text))]
        counted: dict[str, list[tuple[CompiledTerm, FieldMatches, Match]]] = defaultdict(list)
        for found in fields:
            for match in found.terms:
                term = self._terms[match[0]]
                if self._counts(term, match, found):
                    counted[term.topic].append((term, found, match))
        scores = {topic: _noisy_or(term.weight for term, _, _ in counted[topic]) for topic in self.topics}
        tags = tuple(topic for topic in self.topics if scores[topic] >= self._thresholds[topic])
        evidence = tuple(_evidence(topic, counted[topic]) for topic in tags)
        return Classification(
            tags=tags,
            scores=scores,
            evidence=evidence,
            entities=self._entities(fields),
            classifier_version=self.version,
        )

    def _compile_terms(self, taxonomy: Taxonomy) -> None:
        specs = [
            (name, term, topic.exclude) for name, topic in taxonomy.topics.items() for term in topic.terms
        ]
        for topic, term, topic_exclusions in specs:
            self._terms.append(
                self._compiled(topic, term, topic_exclusions=topic_exclusions, taxonomy=taxonomy)
            )
        for owner, (_, term, _) in enumerate(specs):
            for phrase in (term.term, *term.variants):
                self._index.add(phrase, owner=owner, exact=term.exact)
        # Context and exclusion groups are owned by the ids that follow the terms.
        self._group_owner_base = len(self._terms)
        for group_name, group_id in self._group_ids.items():
            if is_entity_kind(group_name):
                self._kind_groups[group_name.removeprefix("@")] = group_id
                continue
            phrases = taxonomy.lexicons[group_name] if is_reference(group_name) else (group_name,)
            for phrase in phrases:
                names = self._with_names(phrase)
                for expanded in names:
                    self._index.add(expanded, owner=self._group_owner_base + group_id, name=names != [phrase])

    def _with_names(self, phrase: str) -> list[str]:
        """``phrase`` with a ``@kind`` word replaced by each gazetteer name of that kind."""
        words = phrase.split()
        slots = [index for index, word in enumerate(words) if word.startswith("@")]
        if not slots:
            return [phrase]
        slot = slots[0]
        kind = words[slot].removeprefix("@")
        names = [name for entry in self.gazetteer.entries if entry.kind == kind for name in entry.names]
        return [" ".join([*words[:slot], name, *words[slot + 1 :]]) for name in names]

    def _compiled(
        self, topic: str, term: Term, *, topic_exclusions: tuple[str, ...], taxonomy: Taxonomy
    ) -> CompiledTerm:
        window = taxonomy.window if term.window is None else term.window
        exclude_window = window if term.exclude_window is None else term.exclude_window
        return CompiledTerm(
            topic=topic,
            term=term.term,
            weight=term.weight,
            context=frozenset(self._group_id(item) for item in term.context),
            exclude=frozenset(self._group_id(item) for item in term.exclude),
            topic_exclude=frozenset(self._group_id(item) for item in topic_exclusions),
            window=window,
            exclude_window=exclude_window,
            # The topic's exclusions: within the term's window; a sentence-wide term uses its own
            # exclusion window, so a topic's false friends do not reach across a whole sentence.
            topic_window=window or exclude_window,
        )

    def _group_id(self, item: str) -> int:
        key = item if is_reference(item) or is_entity_kind(item) else fold(item)
        return self._group_ids.setdefault(key, len(self._group_ids))

    def _compile_entities(self, gazetteer: Gazetteer) -> None:
        self._entity_kind_groups = [self._kind_groups.get(entry.kind) for entry in gazetteer.entries]
        for position, entry in enumerate(gazetteer.entries):
            for name in entry.names:
                self._index.add(name, owner=self._entity_base + position, name=True)

    def _route(self, owner: int) -> Owners:
        """What an index owner stands for: a term, a context/exclusion group, or a gazetteer entry
        (which is also an occurrence of its kind's group)."""
        if owner < self._group_owner_base:
            return (owner,), (), ()
        if owner < self._entity_base:
            return (), (owner - self._group_owner_base,), ()
        position = owner - self._entity_base
        kind_group = self._entity_kind_groups[position]
        return (), (() if kind_group is None else (kind_group,)), (position,)

    def _match(self, words: FieldWords) -> FieldMatches:
        terms, groups, entities = self._matcher.find_sorted(words.tokens)
        return FieldMatches(words, terms, groups, entities)

    def _counts(self, term: CompiledTerm, match: Match, found: FieldMatches) -> bool:
        groups = found.groups
        # Only the groups present in the field are looked at; a term whose conditions are all
        # absent is decided without finding its sentence.
        exclusions = [group for group in term.exclude if group in groups] if term.exclude else None
        topic_exclusions = [group for group in term.topic_exclude if group in groups]
        contexts = [group for group in term.context if group in groups] if term.context else None
        if contexts == []:
            return False
        if not exclusions and not topic_exclusions and contexts is None:
            return True
        sentence = found.words.sentence_around(match[1])
        for group in exclusions or ():
            if _near(groups[group], match, sentence, term.exclude_window):
                return False
        for group in topic_exclusions:
            if _near(groups[group], match, sentence, term.topic_window):
                return False
        if contexts is None:
            return True
        return any(_near(groups[group], match, sentence, term.window) for group in contexts)

    def _entities(self, fields: list[FieldMatches]) -> tuple[Entity, ...]:
        counts: dict[int, int] = defaultdict(int)
        for found in fields:
            for owner, _, _ in _without_overlaps(found.entities):
                counts[owner] += 1
        names = self._entity_names
        ranked = sorted(counts.items(), key=lambda item: (-item[1], names[item[0]][0]))
        return tuple(
            Entity(id=names[index][0], kind=names[index][1], name=names[index][2], mentions=count)
            for index, count in ranked
        )


def _near(occurrences: list[Occurrence] | None, match: Match, sentence: tuple[int, int], window: int) -> bool:
    """Whether an occurrence is in ``sentence`` (a token span) and within ``window`` words of ``match``
    (0: anywhere in the sentence). Plain loops: this runs for every term occurrence's conditions."""
    if not occurrences:
        return False
    first, last = sentence
    if window:
        before, after = match[1] - window, match[2] + window
        for start, end in occurrences:
            if start >= first and end <= last and start < after and end > before:
                return True
        return False
    for start, end in occurrences:  # noqa: SIM110 (a loop is faster than any() over a generator)
        if start >= first and end <= last:
            return True
    return False


def _noisy_or(weights: Iterable[float]) -> float:
    missing = 1.0
    for weight in weights:
        missing *= 1.0 - weight
    return round(1.0 - missing, _SCORE_DIGITS)


def _without_overlaps(matches: list[Match]) -> list[Match]:
    """Longest match first at each position; a match inside an accepted one is dropped."""
    kept: list[Match] = []
    covered_until = -1
    for match in sorted(matches, key=lambda item: (item[1], item[1] - item[2])):
        if match[1] >= covered_until:
            kept.append(match)
            covered_until = match[2]
    return kept


def _evidence(topic: str, counted: list[tuple[CompiledTerm, FieldMatches, Match]]) -> Evidence:
    term, found, match = max(counted, key=lambda item: item[0].weight)
    words = found.words
    _, first_word, end_word = match
    start, end = words.character_span(first_word, end_word)
    original_start, original_end = words.normalized.to_original(start, end)
    original_sentence = words.normalized.to_original(*words.sentence_span(start))
    original = words.normalized.original
    return Evidence(
        topic=topic,
        term=term.term,
        matched=original[original_start:original_end],
        field=words.name,
        start=original_start,
        end=original_end,
        sentence=original[original_sentence[0] : original_sentence[1]].strip(),
    )


def classifier_version(taxonomy: Taxonomy, *, files: tuple[Path, ...]) -> str:
    """``<taxonomy version>+<hash of the data files>``: changes whenever a data file changes."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return f"{taxonomy.version}+{digest.hexdigest()[:10]}"


@cache
def _load(taxonomy_path: Path, gazetteer_path: Path, cache_dir: Path | None) -> Classifier:
    key = cache_key((taxonomy_path, gazetteer_path))
    if cache_dir is not None:
        state = read_cached(cache_dir, key)
        if state is not None:
            try:
                return Classifier.from_state(
                    state, taxonomy_path=taxonomy_path, gazetteer_path=gazetteer_path
                )
            except (ValueError, TypeError):
                pass  # a corrupt or foreign cache file: build, and write over it
    taxonomy = load_taxonomy(taxonomy_path)
    gazetteer = load_gazetteer(gazetteer_path)
    version = classifier_version(taxonomy, files=(taxonomy_path, gazetteer_path))
    classifier = Classifier(taxonomy, gazetteer, version=version)
    if cache_dir is not None:
        write_cached(cache_dir, key, classifier.state())
    return classifier


def forget_classifiers() -> None:
    """Drop the cached classifiers, so the next load reads the files again (benchmarks, tests)."""
    _load.cache_clear()


def load_classifier(taxonomy_path: Path | None = None, *, gazetteer_path: Path | None = None) -> Classifier:
    """The classifier of a taxonomy file, built once per path.

    Without a path: ``RASID_TAXONOMY_PATH`` if set, else the packaged ``taxonomy.yaml``. The compiled
    classifier is cached in ``RASID_CACHE_DIR`` (default ``~/.cache/rasid``).
    """
    from classifier_service.settings import classifier_settings

    settings = classifier_settings()
    taxonomy = taxonomy_path or settings.taxonomy_path or PACKAGED_TAXONOMY
    gazetteer = gazetteer_path or settings.gazetteer_path or PACKAGED_GAZETTEER
    cache_dir = settings.cache_dir or default_cache_dir()
    return _load(taxonomy.resolve(), gazetteer.resolve(), cache_dir)
