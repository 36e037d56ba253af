"""Benchmark of the classifier: articles per second on one core, latency percentiles, memory.

Input: JSON lines of articles (``title``, ``text``); by default the dev set next to the repository
(``../shared/eval/dev.jsonl``) when present, else articles synthesized from the seed articles.
Memory is what loading the classifier allocates (tracemalloc), measured in a fresh load.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from classifier_service.articles import Article, article_from_file, read_json_lines
from classifier_service.classifier import Classifier
from classifier_service.loading import forget_classifiers, load_classifier

REPOSITORY = Path(__file__).resolve().parent.parent
DEV_SET = REPOSITORY.parent / "shared" / "eval" / "dev.jsonl"
SEEDS = REPOSITORY / "seeds"
SYNTHESIZED_ARTICLES = 200
PERCENTILES = (50, 95, 99)


@dataclass(frozen=True, slots=True)
class BenchmarkResult:
    """What one benchmark run measured."""

    source: str
    articles: int
    classifications: int
    seconds: float
    latencies_ms: tuple[float, ...]
    memory_bytes: int
    load_seconds: float

    def percentile(self, percent: int) -> float:
        """Latency at ``percent`` (nearest rank), in milliseconds."""
        ordered = sorted(self.latencies_ms)
        rank = max(0, min(len(ordered) - 1, round(percent / 100 * len(ordered)) - 1))
        return ordered[rank]

    def lines(self) -> Iterator[str]:
        """The result as text lines."""
        yield f"input: {self.source} ({self.articles} articles, {self.classifications} classifications)"
        yield f"articles/second (one core): {self.classifications / self.seconds:,.0f}"
        yield "latency: " + ", ".join(f"p{p} {self.percentile(p):.3f} ms" for p in PERCENTILES)
        yield f"loaded classifier memory: {self.memory_bytes / 1_000_000:.1f} MB (tracemalloc)"
        yield f"load time: {self.load_seconds:.2f} s"


def run_benchmark(path: Path | None, *, rounds: int, taxonomy_path: Path | None = None) -> BenchmarkResult:
    """Load (measuring memory), then classify every article ``rounds`` times, timing each call."""
    articles, source = _bench_articles(path)
    memory, load_seconds = _load_memory(taxonomy_path)
    classifier = load_classifier(taxonomy_path)
    latencies: list[float] = []
    started = time.perf_counter()
    for _ in range(rounds):
        latencies.extend(_timed_pass(classifier, articles))
    seconds = time.perf_counter() - started
    return BenchmarkResult(
        source, len(articles), len(latencies), seconds, tuple(latencies), memory, load_seconds
    )


def _timed_pass(classifier: Classifier, articles: list[Article]) -> list[float]:
    latencies = []
    clock = time.perf_counter
    for article in articles:
        begin = clock()
        classifier.classify(title=article.title, text=article.text)
        latencies.append((clock() - begin) * 1000)
    return latencies


def _load_memory(taxonomy_path: Path | None) -> tuple[int, float]:
    """Bytes allocated by a fresh load of the classifier, and the seconds it took."""
    forget_classifiers()
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    classifier = load_classifier(taxonomy_path)
    seconds = time.perf_counter() - started
    gc.collect()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del classifier
    return current, seconds


def _bench_articles(path: Path | None) -> tuple[list[Article], str]:
    if path is not None:
        return _read(path), str(path)
    if DEV_SET.exists():
        return _read(DEV_SET), str(DEV_SET)
    return synthesize_from_seeds(SEEDS), f"{SYNTHESIZED_ARTICLES} articles synthesized from {SEEDS}"


def _read(path: Path) -> list[Article]:
    with path.open(encoding="utf-8") as lines:
        return list(read_json_lines(lines))


def synthesize_from_seeds(seeds: Path, *, count: int = SYNTHESIZED_ARTICLES) -> list[Article]:
    """Dev-set-sized articles (~1,700 characters) made by mixing the seeds' paragraphs."""
    paragraphs: list[str] = []
    titles: list[str] = []
    for seed in sorted(seeds.glob("*.txt")):
        article = article_from_file(seed.name, seed.read_bytes())
        titles.append(article.title)
        paragraphs.extend(line for line in article.text.splitlines() if len(line.strip()) > 40)
    if not paragraphs:
        raise FileNotFoundError(f"no seed articles in {seeds}")
    articles = []
    for number in range(count):
        body: list[str] = []
        offset = number
        while sum(map(len, body)) < 1700:
            body.append(paragraphs[offset % len(paragraphs)])
            offset += 7
        articles.append(Article(f"synthetic-{number}", titles[number % len(titles)], "\n".join(body)))
    return articles


def main() -> None:
    """Run the default benchmark (for ``python -m classifier_service.bench``)."""
    for line in run_benchmark(None, rounds=5).lines():
        print(line)


if __name__ == "__main__":
    main()
