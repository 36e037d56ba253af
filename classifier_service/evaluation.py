"""Measuring the classifier against labeled articles: precision, recall and F1 per topic, and errors.

The labeled file is JSON lines in the format of the dev set: ``id``, ``title``, ``text`` and a 0/1
field per topic. Topics the file does not label are left out of the scores.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from classifier_service.classifier import Classifier
from classifier_service.errors import ArticleInputError
from shared.messages import Classification


@dataclass(frozen=True, slots=True)
class LabeledArticle:
    """One labeled article."""

    id: str
    title: str
    text: str
    labels: dict[str, bool]


@dataclass(frozen=True, slots=True)
class Mistake:
    """One wrong label: what the file says, what the classifier said, and why."""

    article_id: str
    topic: str
    expected: bool
    got: bool
    score: float
    evidence: str


@dataclass
class TopicScore:
    """Counts for one topic."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        """Share of tags that were right."""
        tagged = self.true_positives + self.false_positives
        return self.true_positives / tagged if tagged else 1.0

    @property
    def recall(self) -> float:
        """Share of labeled articles that were tagged."""
        labeled = self.true_positives + self.false_negatives
        return self.true_positives / labeled if labeled else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


@dataclass
class Report:
    """The outcome of an evaluation."""

    articles: int = 0
    topics: dict[str, TopicScore] = field(default_factory=dict)
    mistakes: list[Mistake] = field(default_factory=list)

    @property
    def macro_f1(self) -> float:
        """Mean F1 over topics."""
        return sum(score.f1 for score in self.topics.values()) / len(self.topics) if self.topics else 0.0

    def lines(self) -> Iterator[str]:
        """The report as text lines: a table, the macro average, then each mistake."""
        yield f"{'topic':<14}{'precision':>10}{'recall':>10}{'f1':>10}{'tp':>6}{'fp':>6}{'fn':>6}"
        for topic, score in self.topics.items():
            yield (
                f"{topic:<14}{score.precision:>10.3f}{score.recall:>10.3f}{score.f1:>10.3f}"
                f"{score.true_positives:>6}{score.false_positives:>6}{score.false_negatives:>6}"
            )
        yield f"{'macro':<14}{'':>10}{'':>10}{self.macro_f1:>10.3f}"
        yield f"articles: {self.articles}, mistakes: {len(self.mistakes)}"
        for mistake in self.mistakes:
            yield (
                f"{mistake.article_id}\t{mistake.topic}\texpected={int(mistake.expected)}\t"
                f"got={int(mistake.got)}\tscore={mistake.score:.2f}\t{mistake.evidence}"
            )


def read_labeled(lines: Iterable[str], *, topics: tuple[str, ...]) -> Iterator[LabeledArticle]:
    """Parse labeled JSON lines; raises :class:`ArticleInputError` naming the bad line."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row: dict[str, Any] = json.loads(line)
            labels = {topic: bool(int(row[topic])) for topic in topics if topic in row}
            yield LabeledArticle(str(row["id"]), str(row.get("title", "")), str(row["text"]), labels)
        except (ValueError, KeyError, TypeError) as error:
            raise ArticleInputError(f"line {number}: not a labeled article: {error}") from None


def evaluate(classifier: Classifier, articles: Iterable[LabeledArticle]) -> Report:
    """Classify each article and compare with its labels."""
    report = Report()
    for article in articles:
        report.articles += 1
        result = classifier.classify(title=article.title, text=article.text)
        for topic, expected in article.labels.items():
            _count(report, article, topic, expected=expected, result=result)
    return report


def _count(
    report: Report, article: LabeledArticle, topic: str, *, expected: bool, result: Classification
) -> None:
    score = report.topics.setdefault(topic, TopicScore())
    got = topic in result.tags
    if got and expected:
        score.true_positives += 1
    elif got:
        score.false_positives += 1
    elif expected:
        score.false_negatives += 1
    if got != expected:
        report.mistakes.append(
            Mistake(
                article.id, topic, expected, got, result.scores.get(topic, 0.0), _top_evidence(result, topic)
            )
        )


def _top_evidence(result: Classification, topic: str) -> str:
    for evidence in result.evidence:
        if evidence.topic == topic:
            return f"{evidence.term} → «{evidence.matched}» in «{evidence.sentence[:120]}»"
    return "(no evidence: below threshold)" if result.scores.get(topic) else "(no term matched)"
