"""The topic classifier: taxonomy terms found in an article's words, weighed in their context.

Each field (title, text) is read into tokens (:mod:`~classifier_service.tokens`); one pass over them
finds every phrase the taxonomy and the gazetteer know (:mod:`~classifier_service.matching`); each
term occurrence is weighed in its sentence and each topic scored (:mod:`~classifier_service.scoring`);
the tags come with their evidence and the entities named (:mod:`~classifier_service.evidence`).

Every step is linear in the article's length (or n log n); an article over the caps of its
:class:`~classifier_service.limits.ArticleLimits` is refused with
:class:`~classifier_service.errors.ArticleTooLargeError`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from classifier_service.compiler import CompiledTaxonomy
from classifier_service.evidence import entities_named, entity_fields, evidence_fields, evidence_of
from classifier_service.hits import ArticleHits, TopicHits
from classifier_service.limits import ArticleLimits
from classifier_service.matching import Matcher
from classifier_service.model import Model, ModelSource
from classifier_service.scoring import Counted, FieldMatches, verdict
from classifier_service.tokens import FieldWords

if TYPE_CHECKING:
    # Built only where a message is (the worker): ``rasid classify`` writes plain fields.
    from shared.messages import Classification

# What classifying an article concluded: its hits, its tags, every topic's score, the version.
Concluded = tuple[ArticleHits, tuple[str, ...], dict[str, float], str]


class Classifier:
    """Tags articles with the topics of a compiled taxonomy (load one with
    :func:`classifier_service.loading.load_classifier`, which sets the limits from the settings;
    without limits, any article is classified)."""

    def __init__(
        self,
        compiled: CompiledTaxonomy,
        *,
        limits: ArticleLimits | None = None,
        model: ModelSource | None = None,
    ) -> None:
        self.compiled = compiled
        self.limits = limits
        # Where the learned re-scoring comes from; None (or a source without a model file): rules alone.
        self.model = model
        self.version = compiled.version
        self.topics = compiled.topics
        self._thresholds = compiled.thresholds
        self._terms = compiled.terms
        self._entity_names = compiled.entities
        self._matcher = Matcher(compiled.index, compiled.vocabulary)

    def classify(self, *, title: str, text: str) -> Classification:
        """Score every topic, tag those at or above their threshold, with evidence and entities.

        Raises :class:`~classifier_service.errors.ArticleTooLargeError` for an article over the
        limits, before any matching.
        """
        return self.classify_read(self.read(title=title, text=text))

    def read(self, *, title: str, text: str) -> list[FieldWords]:
        """The article's title and text, normalized and split, within the limits (else
        :class:`~classifier_service.errors.ArticleTooLargeError`)."""
        limits = self.limits
        if limits is not None:
            limits.check_characters(len(title) + len(text))
        read = [FieldWords.read("title", title), FieldWords.read("text", text)]
        if limits is not None:
            limits.check_tokens(len(read[0].tokens) + len(read[1].tokens))
        return read

    def classify_read(self, read: list[FieldWords]) -> Classification:
        """:meth:`classify` of an article already :meth:`read`."""
        from shared.messages import Classification

        hits, tags, scores, version = self._concluded(read)
        return Classification(
            tags=tags,
            scores=scores,
            evidence=tuple(evidence_of(topic, hits[topic].occurrences) for topic in tags),
            entities=entities_named(hits.fields, self._entity_names),
            classifier_version=version,
        )

    def classification_plain(self, read: list[FieldWords]) -> dict[str, Any]:
        """``classify_read(read).model_dump(mode="json")``, the same fields in the same order, made
        without building (and validating) the models: what ``rasid classify`` writes for each
        article, where the models would be made only to be taken apart again."""
        hits, tags, scores, version = self._concluded(read)
        return {
            "tags": list(tags),
            "scores": scores,
            "evidence": [evidence_fields(topic, hits[topic].occurrences) for topic in tags],
            "entities": entity_fields(hits.fields, self._entity_names),
            "classifier_version": version,
        }

    def _concluded(self, read: list[FieldWords]) -> Concluded:
        """The hits of an article, its tags, every topic's score, and the version that scored them."""
        hits = self.hits(read)
        model = self.model.current() if self.model is not None else None
        # The model scores the topics it knows: their rules' scores would be worked out only to be
        # replaced, so they stand at 0.0 until it does.
        rescored = model.topics if model is not None else {}
        rule_scores = {topic: 0.0 if topic in rescored else hits[topic].rule_score for topic in self.topics}
        scores = rule_scores if model is None else model.rescored(hits, rule_scores, self._thresholds)
        tags = tuple(
            topic
            for topic in self.topics
            if scores[topic] >= self._threshold_of(topic, model) and hits[topic].occurrences
        )
        return hits, tags, scores, self.version if model is None else f"{self.version}/{model.version}"

    def hits(self, read: list[FieldWords]) -> ArticleHits:
        """Every term occurrence of each topic in the fields ``read``: those that count, and those
        that a missing context or a near exclusion stopped (what the model re-scores)."""
        fields = [self._match(words) for words in read]
        counted: dict[str, list[Counted]] = defaultdict(list)
        blocked: dict[str, list[Counted]] = defaultdict(list)
        reasons: dict[str, list[str]] = defaultdict(list)
        for found in fields:
            for match in found.terms:
                term = self._terms[match[0]]
                reason = verdict(term, match, found)
                if reason is None:
                    counted[term.topic].append((term, found, match))
                else:
                    blocked[term.topic].append((term, found, match))
                    reasons[term.topic].append(reason)
        return ArticleHits(
            fields,
            {
                topic: TopicHits(counted.get(topic, []), blocked.get(topic, []), reasons.get(topic, []))
                for topic in self.topics
            },
        )

    def _threshold_of(self, topic: str, model: Model | None) -> float:
        if model is not None and topic in model.topics:
            return model.threshold
        return self._thresholds[topic]

    def untagged(self) -> Classification:
        """The classification of an article that was not classified: no tag, every score 0."""
        from shared.messages import Classification

        return Classification(
            tags=(), scores=dict.fromkeys(self.topics, 0.0), classifier_version=self.current_version()
        )

    def current_version(self) -> str:
        """What classifications carry: the taxonomy's version, and the model's when one is in use."""
        model = self.model.current() if self.model is not None else None
        return self.version if model is None else f"{self.version}/{model.version}"

    def _match(self, words: FieldWords) -> FieldMatches:
        terms, groups, entities = self._matcher.find_sorted(words.tokens)
        return FieldMatches(words, terms, groups, entities, self._matcher.longest)
