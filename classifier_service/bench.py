"""Benchmark of the classifier: articles per second on one core, latency percentiles, memory.

Input: JSON lines of articles (``title``, ``text``); by default the labeled sets next to the repository
(``../shared/eval/train.jsonl`` and ``dev.jsonl``) when present, else articles synthesized from the
seed articles. Speed is measured twice, each on one thread: in this process (``classify`` calls,
timed one by one), and through ``rasid classify --jsonl`` in a new process given the same articles
``rounds`` times (start-up, reading and writing JSON included), with that process's peak RSS and
CPU time (on a busy machine, articles per CPU second move less than per second).
Memory is also what loading the classifier allocates (tracemalloc), measured in a fresh load.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from classifier_service.articles import Article, article_from_file, read_json_lines
from classifier_service.classifier import Classifier
from classifier_service.loading import forget_classifiers, load_classifier

REPOSITORY = Path(__file__).resolve().parent.parent
EVAL = REPOSITORY.parent / "shared" / "eval"
LABELED_SETS = (EVAL / "train.jsonl", EVAL / "dev.jsonl")
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
    # Through ``rasid classify --jsonl``: None when not measured.
    command: CommandRun | None = None

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
        if self.command is not None:
            yield from self.command.lines()


@dataclass(frozen=True, slots=True)
class CommandRun:
    """One run of ``rasid classify --jsonl`` over the benchmark's articles."""

    articles: int
    seconds: float
    cpu_seconds: float
    peak_rss_bytes: int

    def lines(self) -> Iterator[str]:
        """The run as text lines."""
        yield (
            f"through rasid classify --jsonl (one core, start-up included): {self.articles} articles in "
            f"{self.seconds:.2f} s, {self.articles / self.seconds:,.0f} articles/second "
            f"({self.articles / self.cpu_seconds:,.0f} per CPU second)"
        )
        yield f"rasid classify peak RSS: {self.peak_rss_bytes / 1_000_000:.1f} MB"


def run_benchmark(
    path: Path | None, *, rounds: int, taxonomy_path: Path | None = None, command: bool = True
) -> BenchmarkResult:
    """Load (measuring memory), then classify every article ``rounds`` times, timing each call;
    then (``command``) the same through ``rasid classify --jsonl``. Both run on one core at a time
    (one thread); ``taskset -c 0 rasid bench classify`` pins both to one."""
    articles, source = _bench_articles(path)
    memory, load_seconds = _load_memory(taxonomy_path)
    classifier = load_classifier(taxonomy_path)
    latencies: list[float] = []
    started = time.perf_counter()
    for _ in range(rounds):
        latencies.extend(_timed_pass(classifier, articles))
    seconds = time.perf_counter() - started
    run = _command_run(articles, rounds=rounds, taxonomy_path=taxonomy_path) if command else None
    return BenchmarkResult(
        source, len(articles), len(latencies), seconds, tuple(latencies), memory, load_seconds, run
    )


def _command_run(articles: list[Article], *, rounds: int, taxonomy_path: Path | None) -> CommandRun:
    """``rasid classify --jsonl`` over ``articles`` ``rounds`` times, in a new process."""
    with tempfile.TemporaryDirectory(prefix="rasid-bench-") as folder:
        lines = Path(folder) / "articles.jsonl"
        with lines.open("w", encoding="utf-8") as out:
            for _ in range(rounds):
                for article in articles:
                    row = {"id": article.id, "title": article.title, "text": article.text}
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
        command = [sys.executable, "-m", "shared.cli", "classify", "--jsonl", str(lines)]
        if taxonomy_path is not None:
            command += ["--taxonomy", str(taxonomy_path)]
        launched = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, *command], stdout=subprocess.PIPE, text=True, check=False
        )
    if launched.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {launched.returncode}")
    seconds, cpu_seconds, peak_kilobytes = launched.stdout.split()
    return CommandRun(len(articles) * rounds, float(seconds), float(cpu_seconds), int(peak_kilobytes) * 1024)


# Starts the command and prints its wall seconds, CPU seconds and peak RSS (kilobytes, wait4 gives
# the child's own). The command is started from this small process, not from the benchmark's: Linux
# carries a process's peak RSS across exec, and a process started from the benchmark (vfork, then
# exec) would report the benchmark's own peak when larger (65 MB for the labeled sets, five rounds,
# against the command's 44 MB).
_LAUNCHER = """
import os, subprocess, sys, time
started = time.perf_counter()
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(process.pid, 0)
seconds = time.perf_counter() - started
code = os.waitstatus_to_exitcode(status)
print(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
sys.exit(code)
"""


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
    present = [labeled for labeled in LABELED_SETS if labeled.exists()]
    if present:
        return [article for labeled in present for article in _read(labeled)], " + ".join(map(str, present))
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
