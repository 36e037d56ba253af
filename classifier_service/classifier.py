"""The topic classifier: taxonomy terms found in an article's words, weighed in their context.

Each field (title, text) is read into tokens (:mod:`~classifier_service.tokens`); one pass over them
finds every phrase the taxonomy and the gazetteer know (:mod:`~classifier_service.matching`); each
term occurrence is weighed in its sentence and each topic scored (:mod:`~classifier_service.scoring`);
the tags come with their evidence and the entities named (:mod:`~classifier_service.evidence`).
"""

from __future__ import annotations

from collections import defaultdict

from classifier_service.compiler import CompiledTaxonomy
from classifier_service.evidence import entities_named, evidence_of
from classifier_service.matching import Matcher
from classifier_service.scoring import Counted, FieldMatches, counts, noisy_or
from classifier_service.tokens import FieldWords
from shared.messages import Classification


class Classifier:
    """Tags articles with the topics of a compiled taxonomy (load one with
    :func:`classifier_service.loading.load_classifier`)."""

    def __init__(self, compiled: CompiledTaxonomy) -> None:
        self.compiled = compiled
        self.version = compiled.version
        self.topics = compiled.topics
        self._thresholds = compiled.thresholds
        self._terms = compiled.terms
        self._entity_names = compiled.entities
        self._matcher = Matcher(compiled.index)

    def classify(self, *, title: str, text: str) -> Classification:
        """Score every topic, tag those at or above their threshold, with evidence and entities."""
        fields = [self._match(FieldWords.read("title", title)), self._match(FieldWords.read("text", text))]
        counted: dict[str, list[Counted]] = defaultdict(list)
        for found in fields:
            for match in found.terms:
                term = self._terms[match[0]]
                if counts(term, match, found):
                    counted[term.topic].append((term, found, match))
        scores = {topic: noisy_or(term.weight for term, _, _ in counted[topic]) for topic in self.topics}
        tags = tuple(topic for topic in self.topics if scores[topic] >= self._thresholds[topic])
        evidence = tuple(evidence_of(topic, counted[topic]) for topic in tags)
        return Classification(
            tags=tags,
            scores=scores,
            evidence=evidence,
            entities=entities_named(fields, self._entity_names),
            classifier_version=self.version,
        )

    def _match(self, words: FieldWords) -> FieldMatches:
        terms, groups, entities = self._matcher.find_sorted(words.tokens)
        return FieldMatches(words, terms, groups, entities, self._matcher.longest)
