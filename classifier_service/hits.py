"""What the rules found in an article, by topic: the term occurrences that count, and those a
missing context or a near exclusion stopped. The rule score is read from the first; the learned
re-scoring (:mod:`classifier_service.model`) reads both."""

from __future__ import annotations

from dataclasses import dataclass

from classifier_service.scoring import Counted, FieldMatches, noisy_or


@dataclass(frozen=True, slots=True)
class TopicHits:
    """One topic's term occurrences in an article."""

    counted: list[Counted]
    blocked: list[Counted]
    # Why each blocked occurrence was stopped (:func:`~classifier_service.scoring.stopped_by`), in order.
    reasons: list[str]

    @property
    def rule_score(self) -> float:
        """The rules' score: the noisy-or of the weights of the occurrences that count."""
        return noisy_or(term.weight for term, _, _ in self.counted) if self.counted else 0.0

    @property
    def occurrences(self) -> list[Counted]:
        """The occurrences a tag's evidence is drawn from: those that count, else those stopped."""
        return self.counted or self.blocked


@dataclass(frozen=True, slots=True)
class ArticleHits:
    """An article's matched fields (title, text) and each topic's hits in them."""

    fields: list[FieldMatches]
    topics: dict[str, TopicHits]

    def __getitem__(self, topic: str) -> TopicHits:
        return self.topics[topic]
