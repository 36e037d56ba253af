"""Measuring the classifier against labeled articles: precision, recall and F1 per topic, and errors.

The labeled file is JSON lines in the format of the dev set: ``id``, ``title``, ``text`` and a 0/1
field per topic. Topics the file does not label are left out of the scores.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from classifier_service.calibration import (
    average_precision,
    expected_calibration_error,
    reliability,
    reliability_lines,
)
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
    """Counts for one topic, and every score given with its label (to judge ranking and calibration)."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    scores: list[float] = field(default_factory=list)
    labels: list[bool] = field(default_factory=list)

    def add(self, score: float, *, tagged: bool, label: bool) -> None:
        """Count one article: its score, whether it was tagged and whether it is labeled."""
        self.scores.append(score)
        self.labels.append(label)
        self.true_positives += tagged and label
        self.false_positives += tagged and not label
        self.false_negatives += label and not tagged

    @property
    def average_precision(self) -> float:
        """How well the scores rank the labeled articles first."""
        return average_precision(self.scores, self.labels)

    @property
    def calibration_error(self) -> float:
        """Expected calibration error of the scores read as probabilities (10 bins)."""
        return expected_calibration_error(self.scores, self.labels)

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
        """The report as text lines: a table, the macro average, the reliability of the scores
        (every topic's together), then each mistake."""
        yield from figure_lines(self.topics)
        yield f"articles: {self.articles}, mistakes: {len(self.mistakes)}"
        scores = [value for score in self.topics.values() for value in score.scores]
        labels = [label for score in self.topics.values() for label in score.labels]
        error = expected_calibration_error(scores, labels)
        yield f"reliability of the scores (all topics), expected calibration error {error:.3f}:"
        yield from reliability_lines(reliability(scores, labels))
        for mistake in self.mistakes:
            yield (
                f"{mistake.article_id}\t{mistake.topic}\texpected={int(mistake.expected)}\t"
                f"got={int(mistake.got)}\tscore={mistake.score:.2f}\t{mistake.evidence}"
            )


def figure_lines(topics: Mapping[str, TopicScore]) -> Iterator[str]:
    """Per topic: precision, recall, F1, average precision, calibration error and counts; then the
    macro F1."""
    yield (
        f"{'topic':<14}{'precision':>10}{'recall':>10}{'f1':>10}{'ap':>8}{'ece':>8}"
        f"{'tp':>6}{'fp':>6}{'fn':>6}"
    )
    for topic, score in topics.items():
        yield (
            f"{topic:<14}{score.precision:>10.3f}{score.recall:>10.3f}{score.f1:>10.3f}"
            f"{score.average_precision:>8.3f}{score.calibration_error:>8.3f}"
            f"{score.true_positives:>6}{score.false_positives:>6}{score.false_negatives:>6}"
        )
    macro = sum(score.f1 for score in topics.values()) / len(topics) if topics else 0.0
    yield f"{'macro':<14}{'':>10}{'':>10}{macro:>10.3f}"


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
    score.add(result.scores.get(topic, 0.0), tagged=got, label=expected)
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
