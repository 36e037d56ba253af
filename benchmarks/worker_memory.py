"""Worker memory benchmark: what an alert worker's pool child holds after a burst, and what holds it.

    python -m benchmarks.worker_memory --count 5000
    python -m benchmarks.worker_memory --count 5000 --words 20000     # another size of the word cache
    python -m benchmarks.worker_memory --count 5000 --trace           # + the lines that allocated it

Replays the alert worker's store path as a burst hands it to a pool of ``--children`` processes (2,
the worker's default concurrency): ``--count`` distinct real articles of ``../shared/corpus/`` are
read and classified (in this process, not measured) and written as batch messages of ``MAX_BATCH``;
each child, a fresh interpreter started as the worker's main process starts (httpx's command line
left out, large blocks mapped apart, the story IDF table and place names read), stores the batches
handed to it in turn (``alert.store_classified_batch``'s body; its messages to the broker are left
unsent) into one freshly migrated PostgreSQL database, so each keeps the other's members in its
window as a pool child does. Prints each child's RSS when it started, after each batch and its
largest (VmHWM), the CPU an article it spent storing, what its caches hold (the words of the word
cache and how many of the words looked up it found, the profiles kept, the window's members) and where
its memory lies: grown by its start, in use or free, the C heap's, the blocks mapped apart, and Python's
small-object arenas (pymalloc). What is free there counts in the RSS as well; the C heap's free pages
go back to the system only at its top, and an arena only once it is wholly free.

The RSS a child starts with is above a pool child's (a forked child maps the shared libraries' pages
only as it runs them): compare what a child grows by. ``--trace`` traces allocations in the children
(slower: take the CPU from a run without it) and prints the lines that allocated most of what a
child keeps.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest.mock import patch

import psutil

# How many allocating lines --trace names.
_TOP_LINES = 25
# The totals of sys._debugmallocstats's report on Python's small-object arenas that describe_allocators
# reads, by the label the report gives each.
_ARENA_TOTALS = ("# bytes in allocated blocks", "# bytes in available blocks", "Total")


class _MallocInfo(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (<malloc.h>, glibc 2.33 on), each field in bytes or a count."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


class Allocators:
    """Where a process's memory lies, in bytes: the C heap's and Python's arenas', in use and free."""

    def __init__(self) -> None:
        self.heap_used, self.heap_free, self.mapped_apart = _c_heap()
        self.arenas_used, self.arenas_free, self.arenas = _python_arenas()

    def describe(self, start: Allocators) -> str:
        """This against ``start``: each figure and what it grew by, in MB."""
        figures = [
            ("C heap in use", self.heap_used, start.heap_used),
            ("free", self.heap_free, start.heap_free),
            ("mapped apart", self.mapped_apart, start.mapped_apart),
            ("Python's arenas", self.arenas, start.arenas),
            ("in blocks", self.arenas_used, start.arenas_used),
            ("free", self.arenas_free, start.arenas_free),
        ]
        return ", ".join(
            f"{name} {now / 1e6:.1f} MB ({(now - then) / 1e6:+.1f})" for name, now, then in figures
        )


def write_batches(count: int, folder: Path) -> list[Path]:
    """``count`` classified articles as batch messages' payloads, a file each, as the broker hands them."""
    from benchmarks.store import classified_articles
    from shared.messages import MAX_BATCH, ArticlesClassified

    messages = classified_articles(count)
    paths = []
    for number, start in enumerate(range(0, len(messages), MAX_BATCH)):
        batch = ArticlesClassified(items=tuple(messages[start : start + MAX_BATCH]))
        path = folder / f"batch-{number}.json"
        path.write_text(json.dumps(batch.to_payload(), ensure_ascii=False))
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--children", type=int, default=2)
    parser.add_argument("--words", type=int, help="Words the word cache keeps (default: the shipped size).")
    parser.add_argument("--trace", action="store_true", help="Trace the children's allocations.")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        run_child(trace=options.trace, words=options.words)
        return
    # Imported here: a child imports only what the alert worker imports.
    from benchmarks.store import fresh_database

    with tempfile.TemporaryDirectory() as folder, fresh_database("postgresql") as url:
        batches = write_batches(options.count, Path(folder))
        env = {**os.environ, "RASID_DATABASE_URL": url, "RASID_LOG_LEVEL": "WARNING"}
        command = [sys.executable, "-m", "benchmarks.worker_memory", "--child"]
        command += ["--trace"] if options.trace else []
        command += ["--words", str(options.words)] if options.words else []
        children = [
            subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for _ in range(options.children)
        ]
        for child in children:
            _ask(child, "ready")
        for number, path in enumerate(batches):
            _ask(children[number % len(children)], str(path))
        for number, child in enumerate(children):
            assert child.stdin is not None and child.stdout is not None
            child.stdin.close()
            print(f"child {number}:")
            print(child.stdout.read(), end="")
            child.wait()


def _ask(child: subprocess.Popen[str], line: str) -> None:
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(line + "\n")
    child.stdin.flush()
    if child.stdout.readline().strip() != "done":
        raise RuntimeError(f"a child failed on {line}")


def run_child(*, trace: bool, words: int | None) -> None:
    """A pool child: the worker's start-up, then the batches named on stdin, one a line."""
    from shared import cli

    cli._without_httpx_command_line()
    cli._map_large_blocks_apart()
    from alert_service import stories, tasks

    tasks._load_before_fork()
    if words:
        stories._WORDS = stories._WordCache(words)
    started = psutil.Process().memory_info().rss
    allocators = Allocators()
    if trace:
        tracemalloc.start()
    lookups = Lookups()
    with ExitStack() as stack:
        stack.enter_context(patch.object(tasks, "send_message"))
        stack.enter_context(patch.object(tasks, "_send_deliveries"))
        lookups.count(stack)
        cpu, articles, after_each = _store_batches(tasks.store_classified_batch)
    print(f"  RSS at start {started / 1e6:.0f} MB, largest {_high_water_mark() / 1e6:.0f} MB")
    print(f"  RSS after each batch (MB): {' '.join(after_each)}")
    print(f"  {articles} articles, CPU {cpu / max(articles, 1) * 1000:.2f} ms an article")
    print(f"  {describe_caches()}; {lookups.describe()}")
    print(f"  memory against the start: {Allocators().describe(allocators)}")
    if trace:
        _print_traced()


def _store_batches(store: Callable[[dict[str, Any]], object]) -> tuple[float, int, list[str]]:
    """Store each batch named on stdin; the CPU seconds spent, the articles, the RSS after each."""
    process = psutil.Process()
    cpu, articles, after_each = 0.0, 0, []
    for line in sys.stdin:
        if line.strip() != "ready":
            payload = json.loads(Path(line.strip()).read_text())
            before = time.process_time()
            store(payload)
            cpu += time.process_time() - before
            articles += len(payload["items"])
            after_each.append(f"{process.memory_info().rss / 1e6:.0f}")
        print("done", flush=True)
    return cpu, articles, after_each


def _high_water_mark() -> int:
    """The process's largest RSS so far, in bytes (Linux; getrusage's carries over the exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


class Lookups:
    """How many words the word cache was asked for, and how many of them it had to stem."""

    def __init__(self) -> None:
        self.asked = 0
        self.stemmed = 0

    def count(self, stack: ExitStack) -> None:
        """Count the lookups and the stems made until ``stack`` closes."""
        from alert_service import stories

        learn, stem = stories._WordCache._learn, stories.stem

        def asked(cache: stories._WordCache, words: list[str]) -> None:
            self.asked += len(words)
            learn(cache, words)

        def stemmed(word: str) -> str:
            self.stemmed += 1
            return stem(word)

        stack.enter_context(patch.object(stories._WordCache, "_learn", asked))
        stack.enter_context(patch.object(stories, "stem", stemmed))

    def describe(self) -> str:
        found = 1 - self.stemmed / max(self.asked, 1)
        return f"word cache: {self.asked} words looked up, {self.stemmed} stemmed, {found:.2%} found"


def describe_caches() -> str:
    from alert_service import stories, story_store

    return (
        f"word cache {len(stories._WORDS)} words, profiles kept {len(story_store._CACHE)}, "
        f"kept window members {story_store._KEPT.held}"
    )


def _c_heap() -> tuple[int, int, int]:
    """The C heap's bytes in use and free, and the bytes of the blocks mapped apart (0s but on glibc)."""
    try:
        read = ctypes.CDLL(None).mallinfo2
    except AttributeError:  # not glibc 2.33 or later
        return 0, 0, 0
    read.restype = _MallocInfo
    info = read()
    return info.uordblks, info.fordblks, info.hblkhd


def _python_arenas() -> tuple[int, int, int]:
    """The bytes of Python's small-object arenas in blocks in use and free in their pools, and all
    they take: sys._debugmallocstats writes them to the C stderr, read back from a file here."""
    with tempfile.TemporaryFile() as report:
        saved = os.dup(2)
        try:
            os.dup2(report.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        report.seek(0)
        text = report.read().decode()
    totals = []
    for label in _ARENA_TOTALS:
        found = re.search(rf"^{re.escape(label)}\s*=\s*([\d,]+)$", text, re.MULTILINE)
        totals.append(int(found.group(1).replace(",", "")) if found else 0)
    return totals[0], totals[1], totals[2]


def _print_traced() -> None:
    kept, _ = tracemalloc.get_traced_memory()
    top = tracemalloc.take_snapshot().statistics("lineno")[:_TOP_LINES]
    print(f"  kept by the store path {kept / 2**20:.1f} MiB, of which:")
    for line in top:
        where = line.traceback[0]
        print(f"  {line.size / 2**20:6.2f} MiB {where.filename.rsplit('/', 2)[-1]}:{where.lineno}")


if __name__ == "__main__":
    main()
