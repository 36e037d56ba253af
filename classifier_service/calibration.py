"""Calibration of scores into probabilities, and how to judge it: isotonic regression, expected
calibration error, a reliability table and average precision. Plain Python: the evaluation command
uses them without any numerical library."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from classifier_service.model import Calibration

BINS = 10


def isotonic(raw: Sequence[float], labels: Sequence[bool]) -> Calibration:
    """The increasing step function of ``raw`` closest to ``labels`` in squared error (pool adjacent
    violators), as points at each block's mean raw score, read linearly in between."""
    if not raw:
        raise ValueError("no scores to calibrate")
    order = sorted(range(len(raw)), key=lambda index: raw[index])
    # Each block: (sum of labels, sum of raw scores, count).
    blocks: list[list[float]] = []
    for index in order:
        blocks.append([float(labels[index]), raw[index], 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][2] >= blocks[-1][0] / blocks[-1][2]:
            positives, total, count = blocks.pop()
            blocks[-1][0] += positives
            blocks[-1][1] += total
            blocks[-1][2] += count
    x = tuple(total / count for _, total, count in blocks)
    y = tuple(positives / count for positives, _, count in blocks)
    return Calibration(x, y)


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """One bin of predicted probabilities: how many, their mean, and how many were positive."""

    low: float
    high: float
    count: int
    mean_predicted: float
    observed: float


def reliability(
    probabilities: Sequence[float], labels: Sequence[bool], *, bins: int = BINS
) -> list[ReliabilityBin]:
    """Predictions grouped in ``bins`` equal-width bins of probability (1.0 in the last)."""
    counts = [0] * bins
    totals = [0.0] * bins
    positives = [0] * bins
    for probability, label in zip(probabilities, labels, strict=True):
        slot = min(int(probability * bins), bins - 1)
        counts[slot] += 1
        totals[slot] += probability
        positives[slot] += int(label)
    return [
        ReliabilityBin(
            low=index / bins,
            high=(index + 1) / bins,
            count=count,
            mean_predicted=total / count if count else 0.0,
            observed=found / count if count else 0.0,
        )
        for index, (count, total, found) in enumerate(zip(counts, totals, positives, strict=True))
    ]


def expected_calibration_error(
    probabilities: Sequence[float], labels: Sequence[bool], *, bins: int = BINS
) -> float:
    """The gap between predicted and observed rates, averaged over bins weighted by their counts."""
    table = reliability(probabilities, labels, bins=bins)
    count = sum(item.count for item in table)
    if not count:
        return 0.0
    return sum(item.count * abs(item.mean_predicted - item.observed) for item in table) / count


def average_precision(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Mean of the precision at each positive, ranking by score (ties ranked together, worst case
    first: a positive tied with negatives gets the precision of the whole tie)."""
    positives = sum(map(int, labels))
    if not positives:
        return 0.0
    ranked = sorted(zip(scores, labels, strict=True), key=lambda item: -item[0])
    total = 0.0
    seen = found = 0
    index = 0
    while index < len(ranked):
        tie_end = index
        while tie_end < len(ranked) and ranked[tie_end][0] == ranked[index][0]:
            tie_end += 1
        tie_positives = sum(int(label) for _, label in ranked[index:tie_end])
        seen += tie_end - index
        found += tie_positives
        total += tie_positives * found / seen
        index = tie_end
    return total / positives


def reliability_lines(table: list[ReliabilityBin]) -> Iterator[str]:
    """A reliability table as text lines."""
    yield f"{'bin':<12}{'count':>7}{'predicted':>11}{'observed':>10}"
    for item in table:
        shown = f"{item.low:.1f}-{item.high:.1f}"
        yield f"{shown:<12}{item.count:>7}{item.mean_predicted:>11.3f}{item.observed:>10.3f}"
