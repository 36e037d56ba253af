"""How well a grouping into stories agrees with labeled stories.

Pairwise: over the pairs of articles put in one story, the share the labels also put together
(precision) and the share of the labels' pairs found (recall). B-cubed: for each article, the share of
its predicted story that belongs to its labeled story (precision) and the share of its labeled story
that its predicted story holds (recall), averaged over articles. An article alone in its story in
both counts as right for B-cubed and adds no pair.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Scores:
    """Precision, recall and their harmonic mean."""

    precision: float
    recall: float

    @property
    def f1(self) -> float:
        """The harmonic mean of precision and recall (0 when both are 0)."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


@dataclass(frozen=True)
class GroupingScores:
    """Pairwise and B-cubed scores of one grouping."""

    pairwise: Scores
    bcubed: Scores
    articles: int
    labeled_stories: int
    predicted_stories: int


def _pairs(sizes: Counter[Hashable]) -> int:
    return sum(size * (size - 1) // 2 for size in sizes.values())


def score_grouping(predicted: Mapping[str, Hashable], labeled: Mapping[str, Hashable]) -> GroupingScores:
    """Scores of ``predicted`` (article id -> story) against ``labeled``; both name the same articles."""
    if predicted.keys() != labeled.keys():
        raise ValueError("the grouping and the labels name different articles")
    both = Counter((predicted[key], labeled[key]) for key in predicted)
    predicted_sizes = Counter(predicted.values())
    labeled_sizes = Counter(labeled.values())
    together = sum(size * (size - 1) // 2 for size in both.values())
    predicted_pairs, labeled_pairs = _pairs(predicted_sizes), _pairs(labeled_sizes)
    pairwise = Scores(
        precision=together / predicted_pairs if predicted_pairs else 1.0,
        recall=together / labeled_pairs if labeled_pairs else 1.0,
    )
    count = len(predicted) or 1
    bcubed = Scores(
        precision=sum(size * size / predicted_sizes[story] for (story, _), size in both.items()) / count,
        recall=sum(size * size / labeled_sizes[label] for (_, label), size in both.items()) / count,
    )
    return GroupingScores(
        pairwise=pairwise,
        bcubed=bcubed,
        articles=len(predicted),
        labeled_stories=len(labeled_sizes),
        predicted_stories=len(predicted_sizes),
    )
