"""Compiling a taxonomy and a gazetteer into what classifying needs, as plain data.

Every phrase (a term and its variants, the phrases of context and exclusion groups, the names of
gazetteer entries) goes into one :class:`~classifier_service.phrases.PhraseIndex`, owned by an id:
terms first, then groups, then gazetteer entries. A term's conditions become ids of groups, so
matching a field finds terms, group occurrences and entities in the same pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from classifier_service.matching import NO_VOCABULARY, ResolvedVocabulary
from classifier_service.phrases import CompiledIndex, Owners, PhraseIndex
from shared.arabic import fold

if TYPE_CHECKING:
    # Only compiling reads them: a classifier loaded from the cache does not import them (nor
    # pydantic, which the messages that declare the entity kinds are made of).
    from classifier_service.taxonomy import Taxonomy, Term
    from shared.gazetteer import Gazetteer
    from shared.messages import EntityKind

# A gazetteer entry as a classification names it: ``(id, kind, name)``.
EntityName: TypeAlias = "tuple[str, EntityKind, str]"


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
    # A second condition, met as ``context`` is (empty: none).
    also: frozenset[int]
    also_window: int
    # Whether conditions and exclusions are looked for in the sentence before the term's too.
    previous_sentence: bool


@dataclass(frozen=True, slots=True)
class CompiledTaxonomy:
    """A taxonomy and a gazetteer compiled: everything a classifier needs, and nothing else."""

    version: str
    topics: tuple[str, ...]
    thresholds: dict[str, float]
    # By id: an index owner below ``len(terms)`` is that term.
    terms: list[CompiledTerm]
    # By gazetteer position, the entities an index owner past the groups stands for.
    entities: list[EntityName]
    index: CompiledIndex
    # Frequent words resolved against ``index`` (:mod:`~classifier_service.vocabulary`).
    vocabulary: ResolvedVocabulary = NO_VOCABULARY

    def to_plain(self) -> tuple[object, ...]:
        """The compiled taxonomy as plain data (tuples, lists, dicts, frozensets, strings, numbers)."""
        terms = [
            (t.topic, t.term, t.weight, t.context, t.exclude, t.topic_exclude, t.window, t.exclude_window,
             t.topic_window, t.also, t.also_window, t.previous_sentence)
            for t in self.terms
        ]  # fmt: skip
        return (self.version, self.topics, self.thresholds, terms, self.entities, self.index, self.vocabulary)

    @classmethod
    def from_plain(cls, plain: tuple[Any, ...]) -> CompiledTaxonomy:
        """The compiled taxonomy of :meth:`to_plain`; raises ``ValueError`` (or ``TypeError``) if
        ``plain`` is not one."""
        version, topics, thresholds, terms, entities, index, vocabulary = plain
        words, word_ids, starts = vocabulary
        compiled = cls(
            version=str(version),
            topics=tuple(topics),
            thresholds=dict(thresholds),
            terms=[CompiledTerm(*term) for term in terms],
            entities=[(entity_id, kind, name) for entity_id, kind, name in entities],
            index=index,
            vocabulary=(bytes(words), tuple(word_ids), bytes(starts)),
        )
        if not isinstance(index, tuple) or set(compiled.thresholds) != set(compiled.topics):
            raise ValueError("not a compiled taxonomy")
        return compiled


def compile_taxonomy(
    taxonomy: Taxonomy, gazetteer: Gazetteer, *, version: str, vocabulary: Iterable[str] = ()
) -> CompiledTaxonomy:
    """Compile ``taxonomy`` and ``gazetteer``; ``version`` is what classifications will carry, and
    the words of ``vocabulary`` are resolved against the index (:mod:`~classifier_service.vocabulary`)."""
    from classifier_service.vocabulary import resolve_vocabulary

    compiler = _Compiler(taxonomy, gazetteer)
    return CompiledTaxonomy(
        version=version,
        topics=tuple(taxonomy.topics),
        thresholds={topic: taxonomy.threshold_of(topic) for topic in taxonomy.topics},
        terms=compiler.terms,
        entities=[(entry.id, entry.kind, entry.name) for entry in gazetteer.entries],
        index=compiler.index,
        vocabulary=resolve_vocabulary(compiler.index, vocabulary),
    )


class _Compiler:
    """One compilation: gives groups their ids as terms name them, then routes every index owner."""

    def __init__(self, taxonomy: Taxonomy, gazetteer: Gazetteer) -> None:
        self._taxonomy = taxonomy
        self._gazetteer = gazetteer
        self._phrases = PhraseIndex()
        self._group_ids: dict[str, int] = {}
        self._kind_groups: dict[str, int] = {}
        self.terms: list[CompiledTerm] = []
        self._compile_terms()
        # Context and exclusion groups are owned by the ids that follow the terms; gazetteer
        # entries by the ids that follow the groups.
        self._group_owner_base = len(self.terms)
        self._compile_groups()
        self._entity_base = len(self.terms) + len(self._group_ids)
        self._entity_kind_groups = [self._kind_groups.get(entry.kind) for entry in gazetteer.entries]
        self._compile_entities()
        self.index: CompiledIndex = self._phrases.compile(self._route)

    def _compile_terms(self) -> None:
        topics = self._taxonomy.topics
        specs = [(name, term, topic.exclude) for name, topic in topics.items() for term in topic.terms]
        for topic, term, topic_exclusions in specs:
            self.terms.append(self._compiled(topic, term, topic_exclusions=topic_exclusions))
        for owner, (_, term, _) in enumerate(specs):
            for phrase in (term.term, *term.variants):
                self._phrases.add(phrase, owner=owner, exact=term.exact)

    def _compile_groups(self) -> None:
        from classifier_service.taxonomy import is_entity_kind, is_reference

        for group_name, group_id in self._group_ids.items():
            owner = self._group_owner_base + group_id
            if is_entity_kind(group_name):
                self._kind_groups[group_name.removeprefix("@")] = group_id
                continue
            phrases = self._taxonomy.lexicons[group_name] if is_reference(group_name) else (group_name,)
            for phrase in phrases:
                names = self._with_names(phrase)
                for expanded in names:
                    self._phrases.add(expanded, owner=owner, name=names != [phrase])

    def _compile_entities(self) -> None:
        for position, entry in enumerate(self._gazetteer.entries):
            for name in entry.names:
                self._phrases.add(name, owner=self._entity_base + position, name=True)

    def _with_names(self, phrase: str) -> list[str]:
        """``phrase`` with a ``@kind`` word replaced by each gazetteer name of that kind."""
        words = phrase.split()
        slots = [index for index, word in enumerate(words) if word.startswith("@")]
        if not slots:
            return [phrase]
        slot = slots[0]
        kind = words[slot].removeprefix("@")
        names = [name for entry in self._gazetteer.entries if entry.kind == kind for name in entry.names]
        return [" ".join([*words[:slot], name, *words[slot + 1 :]]) for name in names]

    def _compiled(self, topic: str, term: Term, *, topic_exclusions: tuple[str, ...]) -> CompiledTerm:
        window = self._taxonomy.window if term.window is None else term.window
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
            also=frozenset(self._group_id(item) for item in term.also),
            also_window=window if term.also_window is None else term.also_window,
            previous_sentence=term.context_scope == "previous_sentence",
        )

    def _group_id(self, item: str) -> int:
        from classifier_service.taxonomy import is_entity_kind, is_reference

        key = item if is_reference(item) or is_entity_kind(item) else fold(item)
        return self._group_ids.setdefault(key, len(self._group_ids))

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
