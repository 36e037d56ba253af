"""Worst-case benchmark of the classifier: seconds to classify hostile article shapes as they grow.

Each shape is classified at doubling sizes up to its full size; a shape stops growing once one size
takes longer than ``--budget`` seconds (the next, at least twice as long, is not worth waiting for).
The last column is the time ratio to the size before: about 2 when the classifier is linear in the
article's length, about 4 when it is quadratic. The size caps are lifted here so that the
classifier's own speed is measured; the last lines show what the default caps do with the largest
inputs.

    .venv/bin/python -m benchmarks.classifier_worst_case [--budget 30] [--shape NAME]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from classifier_service.articles import read_json_lines
from classifier_service.classifier import Classifier
from classifier_service.loading import load_classifier

REPOSITORY = Path(__file__).resolve().parent.parent
DEV_SET = REPOSITORY.parent / "shared" / "eval" / "dev.jsonl"
SEEDS = REPOSITORY / "seeds"
KB = 1000
FIRST_SIZE = 16 * KB


def _real_text() -> str:
    """Real article text: the dev set when it is beside the repository, else the seeds."""
    if DEV_SET.exists():
        with DEV_SET.open(encoding="utf-8") as lines:
            return "\n".join(article.text for article in read_json_lines(lines))
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(SEEDS.glob("*.txt")))


def _repeat(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def one_term_one_sentence(size: int) -> str:
    """One sentence of hits of one term (انسحاب), each needing its context (armed forces) nearby."""
    return _repeat("انسحاب " * 8 + "قوات ", size)


def context_far_away(size: int) -> str:
    """One sentence: many context-group occurrences, then many hits too far from any of them."""
    half = size // 2
    return _repeat("قوات ", half) + " " + _repeat("انسحاب ", size - half)


def single_line(size: int) -> str:
    """Real article text on one line with no sentence mark: one sentence of ``size`` characters."""
    text = _real_text()
    for mark in ".!?؟\n":
        text = text.replace(mark, " ")
    return _repeat(text + " ", size)


def long_article(size: int) -> str:
    """Real articles, sentences and lines as written, one after another."""
    return _repeat(_real_text() + "\n", size)


SHAPES: dict[str, tuple[Callable[[int], str], int]] = {
    "one-term-one-sentence": (one_term_one_sentence, 1_000 * KB),
    "context-far-away": (context_far_away, 1_000 * KB),
    "single-line": (single_line, 781 * KB),
    "long-article": (long_article, 5_000 * KB),
}


def sizes(full: int) -> Iterator[int]:
    size = FIRST_SIZE
    while size < full:
        yield size
        size *= 2
    yield full


def run_shape(classifier: Classifier, name: str, *, budget: float) -> None:
    make, full = SHAPES[name]
    previous: float | None = None
    for size in sizes(full):
        text = make(size)
        started = time.perf_counter()
        result = classifier.classify(title="", text=text)
        seconds = time.perf_counter() - started
        ratio = f"x{seconds / previous:.1f}" if previous else ""
        tags = ",".join(result.tags) or "-"
        print(f"{name:22} {len(text) / KB:8,.0f} KB {seconds:10.3f} s  {ratio:6} tags: {tags}", flush=True)
        if seconds > budget and size < full:
            print(f"{name:22} stopped: {seconds:.0f} s is over the budget of {budget:.0f} s", flush=True)
            return
        previous = seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--budget", type=float, default=30.0, help="Seconds one size may take before the shape stops."
    )
    parser.add_argument("--shape", choices=sorted(SHAPES), action="append", help="Only these shapes.")
    arguments = parser.parse_args()
    classifier = Classifier(load_classifier().compiled)
    print(f"{'shape':22} {'size':>11} {'time':>12}  ratio")
    for name in arguments.shape or SHAPES:
        run_shape(classifier, name, budget=arguments.budget)


if __name__ == "__main__":
    main()
