"""``rasid train``: gather the labels, cross-validate, and install the new model only if it is no worse.

Labels come from labeled JSON lines files (by default the shipped sets ``../shared/eval/train.jsonl``
and ``dev.jsonl`` beside the repository) and from analysts' feedback (:mod:`classifier_service.feedback`),
a feedback label overriding the file's for the same article and topic. The figures before are the
rules alone on every labeled article (they learn nothing, so nothing is held out) and the model in use
as measured when it was trained; after, the new model's cross-validated figures. The new model is
written only if its macro-F1 over the topics both models know is at least the one in use.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from classifier_service.calibration import reliability, reliability_lines
from classifier_service.classifier import Classifier
from classifier_service.evaluation import TopicScore, figure_lines, read_labeled
from classifier_service.feedback import Label
from classifier_service.model import Model, write_model
from classifier_service.training import (
    LabeledText,
    Recipe,
    cross_validated,
    examples_of,
    fit_model,
    rules_figures,
    trainable_topics,
)
from shared.messages import content_id

REPOSITORY = Path(__file__).resolve().parent.parent
SHIPPED_LABELS = (
    REPOSITORY.parent / "shared" / "eval" / "train.jsonl",
    REPOSITORY.parent / "shared" / "eval" / "dev.jsonl",
)


@dataclass(frozen=True, slots=True)
class TrainingReport:
    """What a training run measured and decided."""

    articles: int
    topics: list[str]
    rules: dict[str, TopicScore]
    current: Model | None
    after: dict[str, TopicScore]
    model: Model
    installed: bool
    reason: str

    def lines(self) -> Iterator[str]:
        """The report as text lines."""
        yield f"labeled articles: {self.articles}; topics trained: {', '.join(self.topics) or 'none'}"
        yield "before, rules alone:"
        yield from figure_lines(self.rules)
        if self.current is not None and self.current.figures:
            recorded = ", ".join(f"{topic} {f1:.3f}" for topic, f1 in self.current.figures.items())
            yield f"before, model in use {self.current.version} (cross-validated F1 when trained): {recorded}"
        yield "after, cross-validated (each fold scored by a model fitted on the others):"
        yield from figure_lines(self.after)
        scores = [score for figures in self.after.values() for score in figures.scores]
        labels = [label for figures in self.after.values() for label in figures.labels]
        yield "reliability of the cross-validated scores (all topics):"
        yield from reliability_lines(reliability(scores, labels))
        yield self.reason


def labeled_texts(
    files: Iterable[Path], feedback: Sequence[Label], *, topics: tuple[str, ...]
) -> list[LabeledText]:
    """The labeled articles of ``files`` and of the feedback, one per article id; a feedback label
    overrides a file's for the same topic."""
    texts: dict[str, LabeledText] = {}
    for path in files:
        with path.open(encoding="utf-8") as lines:
            for article in read_labeled(lines, topics=topics):
                article_id = content_id(article.title, article.text)
                texts[article_id] = LabeledText(article_id, article.title, article.text, dict(article.labels))
    for label in feedback:
        known = texts.get(label.article_id)
        if known is None:
            known = texts[label.article_id] = LabeledText(label.article_id, label.title, label.text, {})
        known.labels[label.topic] = label.label
    return [texts[article_id] for article_id in sorted(texts)]


def train(  # noqa: PLR0913 -- past the second, every argument is keyword-only and named
    rules: Classifier,
    texts: Sequence[LabeledText],
    *,
    recipe: Recipe,
    current: Model | None,
    output: Path,
    force: bool = False,
) -> TrainingReport:
    """Cross-validate and fit a model of the trainable topics of ``texts``; write it to ``output``
    unless it scores worse than ``current`` (or ``force``)."""
    examples = examples_of(rules, texts)
    topics = trainable_topics(examples, rules.topics)
    before = rules_figures(examples, topics, rules.compiled.thresholds)
    after = cross_validated(examples, topics, recipe)
    figures = {topic: round(after[topic].f1, 4) for topic in topics}
    model = versioned(fit_model(examples, topics, recipe, version=""), figures)
    installed, reason = _decision(model, current, force=force)
    if installed:
        write_model(model, output)
        reason += f"; written to {output}"
    return TrainingReport(len(examples), topics, before, current, after, model, installed, reason)


def versioned(model: Model, figures: dict[str, float]) -> Model:
    """``model`` with its figures and a version naming its content (same labels, same version)."""
    plain = Model(version="", threshold=model.threshold, topics=model.topics, figures=figures).to_plain()
    digest = hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:10]
    return Model(version=f"model-{digest}", threshold=model.threshold, topics=model.topics, figures=figures)


def _decision(model: Model, current: Model | None, *, force: bool) -> tuple[bool, str]:
    if not model.topics:
        return False, "not installed: no topic has enough labels (20 positive and 20 negative)"
    shared = [topic for topic in model.figures if current is not None and topic in current.figures]
    if current is None or not shared:
        return True, f"installed {model.version}"
    new = sum(model.figures[topic] for topic in shared) / len(shared)
    old = sum(current.figures[topic] for topic in shared) / len(shared)
    if new < old and not force:
        return False, (
            f"not installed: cross-validated macro-F1 {new:.3f} over {', '.join(shared)} is below "
            f"{old:.3f} of {current.version} in use (--force installs it anyway)"
        )
    return True, f"installed {model.version} (macro-F1 {new:.3f}, model in use {old:.3f})"
