"""Fitting the learned re-scoring: a logistic model per topic over its hit features, calibrated by
isotonic regression on out-of-fold scores, judged by k-fold cross-validation.

Deterministic: folds come from a seeded shuffle of the article ids, and the optimiser is full-batch
gradient descent (Adam) from zero weights, so the same labels give the same model file. numpy is
imported here only: classifying never needs it.

A topic is trained when its labels hold at least :data:`MIN_LABELS` positives and as many
negatives; the others keep the rules' scores.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from classifier_service.calibration import isotonic
from classifier_service.classifier import Classifier
from classifier_service.evaluation import TopicScore
from classifier_service.features import topic_features
from classifier_service.model import Calibration, Model, TopicModel
from classifier_service.tokens import FieldWords

MIN_LABELS = 20
# Digits kept of the fitted numbers, so the same labels give the same file in any process.
DIGITS = 5
TAG_PROBABILITY = 0.5


@dataclass(frozen=True, slots=True)
class Recipe:
    """How a model is fitted: folds, seed, L2 penalty, the fewest articles a feature must appear
    in, and the optimiser's steps."""

    folds: int = 5
    seed: int = 9
    l2: float = 1.0
    min_count: int = 1
    steps: int = 300
    learning_rate: float = 0.1


@dataclass(frozen=True, slots=True)
class Example:
    """One labeled article as training sees it: each topic's hit features, the rules' scores and
    the labels it has (a topic may be unlabeled)."""

    article_id: str
    features: dict[str, dict[str, float]]
    rule_scores: dict[str, float]
    labels: dict[str, bool]


@dataclass(frozen=True, slots=True)
class LabeledText:
    """A labeled article: its id, title, text and labels by topic."""

    article_id: str
    title: str
    text: str
    labels: dict[str, bool]


def examples_of(classifier: Classifier, articles: Iterable[LabeledText]) -> list[Example]:
    """What the rules find in each article, by topic (the classifier's model, if any, is not used)."""
    examples = []
    for article in articles:
        hits = classifier.hits(
            [FieldWords.read("title", article.title), FieldWords.read("text", article.text)]
        )
        features = {topic: topic_features(hits[topic]) for topic in classifier.topics}
        scores = {topic: hits[topic].rule_score for topic in classifier.topics}
        examples.append(Example(article.article_id, features, scores, dict(article.labels)))
    return examples


def trainable_topics(examples: Sequence[Example], topics: Iterable[str]) -> list[str]:
    """The topics with at least :data:`MIN_LABELS` positive and negative labels each."""
    kept = []
    for topic in topics:
        labels = [example.labels[topic] for example in examples if topic in example.labels]
        positives = sum(labels)
        if positives >= MIN_LABELS and len(labels) - positives >= MIN_LABELS:
            kept.append(topic)
    return kept


def fold_of(examples: Sequence[Example], recipe: Recipe) -> dict[str, int]:
    """Each article's fold: a seeded shuffle of the sorted ids, dealt round."""
    ids = sorted({example.article_id for example in examples})
    random.Random(recipe.seed).shuffle(ids)
    return {article_id: index % recipe.folds for index, article_id in enumerate(ids)}


def fit_topic(examples: Sequence[Example], topic: str, recipe: Recipe) -> TopicModel:
    """A topic's weights fitted on ``examples``, calibrated on their out-of-fold raw scores."""
    labeled = [example for example in examples if topic in example.labels]
    hit = [example for example in labeled if example.features[topic]]
    missed = [example.labels[topic] for example in labeled if not example.features[topic]]
    no_hit = (sum(missed) + 0.5) / (len(missed) + 1.0)
    rows = [example.features[topic] for example in hit]
    labels = [example.labels[topic] for example in hit]
    if len(set(labels)) < 2:
        constant = sum(labels) / len(labels) if labels else 0.0
        return TopicModel(0.0, {}, _constant(constant), no_hit)
    bias, weights = fit_logistic(rows, labels, recipe)
    raw = _out_of_fold_raw(hit, topic, recipe)
    calibration = isotonic(raw, labels)
    # Rounded: a feature's order in an article (a set's, which varies between processes) can move
    # the last bits of a raw score, and the file must not change with it.
    rounded = Calibration(tuple(round(x, DIGITS) for x in calibration.x), calibration.y)
    return TopicModel(bias, weights, rounded, round(no_hit, DIGITS))


def _constant(probability: float) -> Calibration:
    return Calibration((0.0,), (probability,))


def _out_of_fold_raw(hit: Sequence[Example], topic: str, recipe: Recipe) -> list[float]:
    folds = fold_of(hit, recipe)
    raw = [0.0] * len(hit)
    for fold in range(recipe.folds):
        train = [example for example in hit if folds[example.article_id] != fold]
        labels = [example.labels[topic] for example in train]
        bias, weights = 0.0, dict[str, float]()
        if len(set(labels)) == 2:
            bias, weights = fit_logistic([example.features[topic] for example in train], labels, recipe)
        model = TopicModel(bias, weights, _constant(0.0), 0.0)
        for index, example in enumerate(hit):
            if folds[example.article_id] == fold:
                raw[index] = model.raw(example.features[topic])
    return raw


def fit_logistic(
    rows: Sequence[dict[str, float]], labels: Sequence[bool], recipe: Recipe
) -> tuple[float, dict[str, float]]:
    """L2-penalised logistic regression over the features seen in ``min_count`` rows or more."""
    seen: dict[str, int] = {}
    for row in rows:
        for name in row:
            seen[name] = seen.get(name, 0) + 1
    vocabulary = sorted(name for name, count in seen.items() if count >= recipe.min_count)
    column = {name: index for index, name in enumerate(vocabulary)}
    entries = [
        (row_index, index, value)
        for row_index, row in enumerate(rows)
        for name, value in sorted(row.items())
        if (index := column.get(name)) is not None
    ]
    matrix = _Sparse(
        np.asarray([entry[0] for entry in entries], dtype=np.int64),
        np.asarray([entry[1] for entry in entries], dtype=np.int64),
        np.asarray([entry[2] for entry in entries], dtype=np.float64),
        shape=(len(rows), len(vocabulary)),
    )
    target = np.asarray(labels, dtype=np.float64)
    bias, weights = _adam(matrix, target, recipe)
    kept = zip(vocabulary, weights.tolist(), strict=True)
    return round(bias, DIGITS), {name: round(weight, DIGITS) for name, weight in kept if abs(weight) >= 1e-4}


@dataclass(frozen=True, slots=True)
class _Sparse:
    """A sparse matrix as its entries ``(rows, columns, values)``: rows have a few dozen features
    of thousands, so products go through ``bincount`` rather than a dense matrix."""

    rows: np.ndarray
    columns: np.ndarray
    values: np.ndarray
    shape: tuple[int, int]

    def times(self, vector: np.ndarray) -> np.ndarray:
        return np.bincount(self.rows, weights=self.values * vector[self.columns], minlength=self.shape[0])

    def transposed_times(self, vector: np.ndarray) -> np.ndarray:
        return np.bincount(self.columns, weights=self.values * vector[self.rows], minlength=self.shape[1])


def _adam(matrix: _Sparse, target: np.ndarray, recipe: Recipe) -> tuple[float, np.ndarray]:
    """Full-batch Adam from zero on the penalised log-loss (deterministic)."""
    count, width = matrix.shape
    parameters = np.zeros(width + 1)
    first = np.zeros(width + 1)
    second = np.zeros(width + 1)
    beta1, beta2, epsilon = 0.9, 0.999, 1e-8
    gradient = np.empty(width + 1)
    for step in range(1, recipe.steps + 1):
        logits = matrix.times(parameters[1:]) + parameters[0]
        error = 1.0 / (1.0 + np.exp(-logits)) - target
        gradient[0] = error.sum() / count
        gradient[1:] = (matrix.transposed_times(error) + recipe.l2 * parameters[1:]) / count
        first = beta1 * first + (1 - beta1) * gradient
        second = beta2 * second + (1 - beta2) * gradient * gradient
        corrected = first / (1 - beta1**step)
        parameters -= recipe.learning_rate * corrected / (np.sqrt(second / (1 - beta2**step)) + epsilon)
    return float(parameters[0]), parameters[1:]


def fit_model(examples: Sequence[Example], topics: Sequence[str], recipe: Recipe, *, version: str) -> Model:
    """A model of ``topics`` fitted on every example."""
    return Model(
        version=version,
        threshold=TAG_PROBABILITY,
        topics={topic: fit_topic(examples, topic, recipe) for topic in topics},
    )


def rules_figures(
    examples: Sequence[Example], topics: Sequence[str], thresholds: dict[str, float]
) -> dict[str, TopicScore]:
    """The rules alone (nothing to fit, so every article is held out)."""
    figures = {topic: TopicScore() for topic in topics}
    for example in examples:
        for topic in topics:
            if topic in example.labels:
                score = example.rule_scores[topic]
                figures[topic].add(score, tagged=score >= thresholds[topic], label=example.labels[topic])
    return figures


def cross_validated(
    examples: Sequence[Example], topics: Sequence[str], recipe: Recipe
) -> dict[str, TopicScore]:
    """Each topic's scores on held-out folds, each fold scored by a model (weights and calibration)
    fitted on the other folds only."""
    folds = fold_of(examples, recipe)
    figures = {topic: TopicScore() for topic in topics}
    for fold in range(recipe.folds):
        train = [example for example in examples if folds[example.article_id] != fold]
        held_out = [example for example in examples if folds[example.article_id] == fold]
        for topic in topics:
            model = fit_topic(train, topic, recipe)
            for example in held_out:
                if topic in example.labels:
                    probability = model.probability(example.features[topic])
                    tagged = probability >= TAG_PROBABILITY and bool(example.features[topic])
                    figures[topic].add(probability, tagged=tagged, label=example.labels[topic])
    return figures
