"""Pipeline benchmark: drop-to-webhook latency and burst intake of the whole stack.

    python -m benchmarks.pipeline --database sqlite        # rasid run: SQLite + file broker
    python -m benchmarks.pipeline --database postgresql    # compose services: PostgreSQL + Redis

Prints the median (p90, p99) time from dropping one file into the watched folder to its webhook
arriving, over ``--drops`` files dropped one by one, then how many articles per second the stack
stores when ``--burst`` files are dropped at once, the same articles read, classified and stored in one
process without the broker, in the pipeline's batches of ``MAX_BATCH`` (and the pipeline's ratio to
that), the largest RSS of each process during the burst and the CPU seconds per article each process
spent on it (the PostgreSQL backends of this run's database and the machine's Redis server included),
then what the stack costs when idle: the CPU each process takes over ``--idle`` seconds with nothing
to do. The PostgreSQL run takes a database and a Redis database of its own, so runs side by side on one
machine do not take each other's messages (the Redis server, though, is shared: its figure includes
other runs' traffic).

``--burst 30000`` is the archive case: the files are written and read without classifying them, and
the wait polls a count, so the benchmark itself stays light; ``--one-process N`` compares with the
first ``N`` of them only (0 skips the comparison).

The files are real articles of ``../shared/corpus/`` (title line, then text), each a story of its
own: copies of one article with a line added would be one story, and a story alerts once.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg
from sqlalchemy import create_engine, text

from alert_service.store import store_batch
from classifier_service.loading import load_classifier
from ingest_service.files import ingest_files
from ingest_service.schemas import FileReady
from ingest_service.settings import MEGABYTE
from shared.db import session_scope
from shared.documents import read_document
from shared.errors import UnreadableDocument
from shared.gazetteer import entity_finder
from shared.messages import MAX_BATCH, ArticleClassified, content_id
from shared.migrations import upgrade_all
from shared.services import known_topics
from tests.e2e.corpus import corpus_files
from tests.e2e.stack import RASID, Stack, compose_stack, embedded_stack, stack_env
from tests.helpers import own_redis_database
from tests.peers import ACCEPT, HttpPeer, http_peer, smtp_sink, wait_for

# The ingest service's default limit on a dropped file.
MAX_FILE_BYTES = 5 * MEGABYTE
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def distinct_articles(files: Iterator[bytes], count: int, *, alerting: bool) -> list[bytes]:
    """``count`` files that Rasid reads as distinct articles, so the stack stores exactly ``count``.

    ``alerting``: each also tagged, and naming places none of the others name, so each is a story
    of its own and alerts (a later article of a story alerts nobody again).
    """
    if count <= 0:
        return []
    classifier = load_classifier() if alerting else None
    chosen, seen, named = [], set(), set()
    for data in files:
        try:
            document = read_document(data, suffix=".txt")
        except UnreadableDocument:
            continue
        article_id = content_id(document.title, document.text)
        if article_id in seen:
            continue
        if classifier is not None:
            classification = classifier.classify(title=document.title, text=document.text)
            places = {entity.id for entity in classification.entities}
            if not classification.tags or not places or places & named:
                continue
            named |= places
        seen.add(article_id)
        chosen.append(data)
        if len(chosen) == count:
            break
    return chosen


def drop(stack: Stack, name: str, data: bytes) -> None:
    staging = stack.workdir / "staging"
    staging.mkdir(exist_ok=True)
    (staging / name).write_bytes(data)
    (staging / name).rename(stack.watch_dir / name)


def measure_latency(stack: Stack, receiver: HttpPeer, articles: list[bytes]) -> list[float]:
    run = uuid.uuid4().hex[:8]
    latencies = []
    for number, data in enumerate(articles):
        before = len(receiver.received("/hook"))
        started = time.monotonic()
        drop(stack, f"latency-{run}-{number}.txt", data)
        wait_for(
            lambda b=before: len(receiver.received("/hook")) > b,
            timeout=60,
            what=f"the webhook of drop {number}",
            interval=0.005,
        )
        latencies.append(receiver.received("/hook")[-1].received_at - started)
    return latencies


@dataclass(frozen=True)
class Burst:
    """What a burst of dropped files gave: articles/s stored, and what was stored of them."""

    rate: float
    stored: int
    alerts: int
    # The transactions that recorded the burst in the ingest ledger and stored it in the alert service
    # (PostgreSQL only: counted by the rows' xmin): how many batches it travelled in.
    batches: tuple[int, int] | None = None


def stage_burst(stack: Stack, articles: list[bytes]) -> Path:
    """The burst's files, written beside the watched folder (the same file system) to be renamed in at
    once. Written before the processes are watched: creating thousands of files took this process
    up to 0.6 ms of system time a file on a busy machine, not a cost of the burst it measures."""
    run = uuid.uuid4().hex[:8]
    staging = stack.workdir / "burst"
    staging.mkdir()
    for number, data in enumerate(articles):
        (staging / f"burst-{run}-{number}.txt").write_bytes(data)
    return staging


def measure_burst(stack: Stack, database_url: str, staging: Path, count: int) -> Burst:
    """Rename the ``count`` files staged in ``staging`` into the watched folder and wait until the stack
    has stored them all."""
    engine = create_engine(database_url)

    def counted(table: str) -> int:
        with engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())

    postgresql = engine.dialect.name == "postgresql"

    def transactions() -> tuple[int, int] | None:
        if not postgresql:
            return None
        ingest, store = (
            counted("(SELECT DISTINCT xmin FROM ingest_articles) AS ingest"),
            counted("(SELECT DISTINCT xmin FROM alert_articles) AS store"),
        )
        return ingest, store

    baseline, alerts_before = counted("alert_articles"), counted("alert_alerts")
    transactions_before = transactions()
    started = time.monotonic()
    for path in staging.iterdir():
        path.rename(stack.watch_dir / path.name)
    # Polled less often the larger the burst: the count is the benchmark's own load on the database.
    interval = min(0.2 + count / 20_000, 2.0)
    wait_for(
        lambda: counted("alert_articles") >= baseline + count,
        timeout=3600,
        what=f"{count} articles",
        interval=interval,
    )
    rate = count / (time.monotonic() - started)
    # Anything stored twice, or an article the stack made up, would show here after a pause.
    time.sleep(2)
    stored, alerts = counted("alert_articles") - baseline, counted("alert_alerts") - alerts_before
    after = transactions()
    batches = None
    if after is not None and transactions_before is not None:
        batches = (after[0] - transactions_before[0], after[1] - transactions_before[1])
    engine.dispose()
    return Burst(rate=rate, stored=stored, alerts=alerts, batches=batches)


def in_process_rate(database_url: str, folder: Path, articles: list[bytes]) -> float:
    """Articles/s of the same work in one process, without the broker, in the pipeline's batches: each
    batch of files read into the ingest ledger (one transaction), classified, and stored (tags, story,
    alerts) in one transaction, into a freshly migrated database."""
    classifier = load_classifier()
    finder = entity_finder(None)
    folder.mkdir()
    batch = [_written(folder / f"one-process-{number}.txt", data) for number, data in enumerate(articles)]
    started = time.monotonic()
    for start in range(0, len(batch), MAX_BATCH):
        with session_scope(database_url) as session:
            outcomes = ingest_files(
                session,
                batch[start : start + MAX_BATCH],
                watch_dir=folder,
                rejected_dir=folder / "rejected",
                max_bytes=MAX_FILE_BYTES,
            )
        new = [outcome.article for outcome in outcomes if outcome.article is not None]
        classified = [
            ArticleClassified(
                article=article, classification=classifier.classify(title=article.title, text=article.text)
            )
            for article in new
        ]
        with session_scope(database_url) as session:
            store_batch(session, classified, finder=finder)
    return len(articles) / (time.monotonic() - started)


def _written(path: Path, data: bytes) -> FileReady:
    path.write_bytes(data)
    stat = path.stat()
    return FileReady.of(path, size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def stack_processes(stack: Stack) -> dict[int, tuple[str, psutil.Process]]:
    """Every live process of the stack by pid, with its label: the stack's name for it, with its pool
    children; a child that runs a command of its own (``rasid run``'s workers, watcher and beat) is
    labelled by that command, with its own pool children."""
    found: dict[int, tuple[str, psutil.Process]] = {}
    for name, popen in stack.processes.items():
        try:
            parent = psutil.Process(popen.pid)
            found[parent.pid] = (name, parent)
            command = parent.cmdline()
            for child in children_of(parent):
                own = child.cmdline()
                if own == command:  # a pool child: apart from its parent, which relays its messages
                    label = f"{name} {POOL_CHILDREN}"
                else:
                    label = " ".join(own[own.index("shared") + 1 :][:2])
                for process in [child, *descendants_of(child)]:
                    found[process.pid] = (label, process)
        except (psutil.Error, ValueError):
            continue
    return found


POOL_CHILDREN = "(pool children)"


def children_of(process: psutil.Process) -> list[psutil.Process]:
    """The children of ``process``. Where the kernel lists them for each thread of a process (Linux;
    a pool may fork from any of its threads), a few reads of small files: psutil reads every process
    on the machine for their parents, which, sampled twice a second for each process of the stack,
    made the benchmark one of the busiest processes while it measured the others."""
    if not _KERNEL_LISTS_CHILDREN:
        return process.children()
    children = []
    for pid in _child_pids(process.pid):
        with contextlib.suppress(psutil.NoSuchProcess):  # ended meanwhile
            children.append(psutil.Process(pid))
    return children


def descendants_of(process: psutil.Process) -> list[psutil.Process]:
    """Every process below ``process``: its children, theirs, and so on."""
    found = []
    for child in children_of(process):
        found += [child, *descendants_of(child)]
    return found


_KERNEL_LISTS_CHILDREN = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists()


def _child_pids(pid: int) -> list[int]:
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        raise psutil.NoSuchProcess(pid) from None
    pids: list[int] = []
    for thread in threads:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # the thread ended meanwhile
            pids += map(int, Path(f"/proc/{pid}/task/{thread}/children").read_text().split())
    return pids


def service_processes(database_name: str | None) -> dict[int, tuple[str, psutil.Process]]:
    """The PostgreSQL backends serving ``database_name`` and the machine's Redis server (none for the
    embedded stack)."""
    found: dict[int, tuple[str, psutil.Process]] = {}
    if database_name is None:
        return found
    for process in psutil.process_iter(["name", "cmdline"]):
        command = " ".join(process.info["cmdline"] or ())
        if process.info["name"] == "postgres" and f" {database_name} " in command:
            found[process.pid] = ("postgresql backends", process)
        elif process.info["name"] == "redis-server" or command.startswith("redis-server"):
            found[process.pid] = ("redis server (shared)", process)
    return found


def cpu_of(process: psutil.Process) -> float:
    """CPU seconds of ``process`` and of its children it has reaped (pool children replaced)."""
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


@dataclass
class ProcessWatch:
    """CPU seconds and largest RSS of a set of processes, by label, between :meth:`start` and
    :meth:`stop`; sampled every ``interval`` seconds, so processes started meanwhile are seen too."""

    find: Callable[[], dict[int, tuple[str, psutil.Process]]]
    interval: float = 0.5
    first: dict[int, float] = field(default_factory=dict)
    last: dict[int, tuple[str, float]] = field(default_factory=dict)
    rss: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self, *, initial: bool = False) -> None:
        for pid, (label, process) in self.find().items():
            try:
                with process.oneshot():
                    cpu, rss = cpu_of(process), process.memory_info().rss / 1e6
            except psutil.Error:
                continue
            if initial:
                self.first[pid] = cpu
            self.last[pid] = (label, cpu)
            self.rss[label] = max(self.rss.get(label, 0.0), rss)

    def start(self) -> None:
        self.sample(initial=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> dict[str, float]:
        """CPU seconds by label since :meth:`start`."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.sample()
        spent: dict[str, float] = {}
        for pid, (label, cpu) in self.last.items():
            spent[label] = spent.get(label, 0.0) + cpu - self.first.get(pid, 0.0)
        return spent


def print_cpu(tag: str, spent: dict[str, float], *, articles: int, stack_labels: set[str]) -> None:
    total = sum(cpu for label, cpu in spent.items() if label in stack_labels)
    for label, cpu in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"{tag} CPU of {label}: {cpu:.1f} s, {cpu / articles * 1000:.2f} ms per article")
    for label, cpu in sorted(_with_pools(spent).items(), key=lambda item: -item[1]):
        print(f"{tag} CPU of {label} with its pool: {cpu:.1f} s, {cpu / articles * 1000:.2f} ms per article")
    print(f"{tag} CPU of Rasid's processes: {total:.1f} s, {total / articles * 1000:.2f} ms per article")


def _with_pools(spent: dict[str, float]) -> dict[str, float]:
    """Each worker's CPU with its pool children's, by the worker's label."""
    return {
        label: cpu + spent[f"{label} {POOL_CHILDREN}"]
        for label, cpu in spent.items()
        if f"{label} {POOL_CHILDREN}" in spent
    }


def measure_idle(stack: Stack, seconds: float, *, settle: float = 15.0) -> dict[str, float]:
    """Per cent of one core each of the stack's processes takes over ``seconds`` with nothing to do,
    once ``settle`` seconds have let the last work finish."""
    time.sleep(settle)
    watch = ProcessWatch(lambda: stack_processes(stack))
    watch.start()
    time.sleep(seconds)
    return {label: cpu / seconds * 100 for label, cpu in watch.stop().items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--drops", type=int, default=20)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument(
        "--one-process", type=int, default=None, help="articles of the one-process run (default: --burst)"
    )
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of the idle measure (0: none)")
    options = parser.parse_args()
    # A SIGTERM (say from `timeout`) unwinds the stacks below, so no Rasid process outlives the run.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    with ExitStack() as stack_of, tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        sink = stack_of.enter_context(smtp_sink())
        receiver = stack_of.enter_context(http_peer(fallback=ACCEPT))
        extra = {
            "RASID_SMTP_HOST": sink.host,
            "RASID_SMTP_PORT": str(sink.port),
            "RASID_LOG_LEVEL": "WARNING",
            # The product's defaults, not the short waits the tests use.
            "RASID_RESEND_AFTER_SECONDS": "300",
            "RASID_RESEND_SWEEP_SECONDS": "60",
            "RASID_DELIVERY_SWEEP_SECONDS": "5",
            "RASID_RETRY_SCHEDULE": "5s,5m,30m,2h,5h,10h",
        }
        name: str | None = None
        if options.database == "postgresql":
            name = f"rasid_bench_{uuid.uuid4().hex[:8]}"
            stack_of.enter_context(own_databases(name, f"{name}_one"))
            database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
            one_process_url = f"{database_url}_one"
            # A Redis database of this run's own: another run on the machine must not take its messages.
            broker_url = stack_of.enter_context(own_redis_database())
            env = stack_env(workdir=workdir, database_url=database_url, broker_url=broker_url, extra=extra)
            stack = stack_of.enter_context(compose_stack(env, workdir))
        else:
            database_url = f"sqlite:///{workdir / 'data' / 'rasid.db'}"
            one_process_url = f"sqlite:///{workdir / 'one-process.db'}"
            env = stack_env(workdir=workdir, database_url="", broker_url="filesystem://", extra=extra)
            stack = stack_of.enter_context(embedded_stack(env, workdir))
        wait_for(
            lambda: stack.rasid("subscriptions", "list", check=False).returncode == 0, timeout=60, what="db"
        )
        stack.rasid(
            "subscribe", "webhook", receiver.url("/hook"), "--topics", ",".join(sorted(known_topics() or ()))
        )
        files = corpus_files()
        if options.drops:
            report_latency(stack, receiver, distinct_articles(files, options.drops, alerting=True), options)
        burst = distinct_articles(files, options.burst, alerting=False)
        rate = report_burst(stack, database_url, burst, database_name=name, options=options)
        alone_count = len(burst) if options.one_process is None else min(options.one_process, len(burst))
        if alone_count:
            upgrade_all(one_process_url)
            topics = ",".join(sorted(known_topics() or ()))
            one_env = {**stack.env, "RASID_DATABASE_URL": one_process_url}
            subprocess.run(
                [*RASID, "subscribe", "webhook", receiver.url("/hook"), "--topics", topics],
                env=one_env,
                check=True,
                capture_output=True,
            )
            report_one_process(
                one_process_url, workdir, burst[:alone_count], rate=rate, tag=f"[{options.database}]"
            )


def report_latency(stack: Stack, receiver: HttpPeer, drops: list[bytes], options: argparse.Namespace) -> None:
    """Drop ``drops`` one by one and print the percentiles of their drop-to-webhook latency."""
    try:
        latencies = measure_latency(stack, receiver, drops)
    except AssertionError:
        print(stack.logs(tail=4000), file=sys.stderr)
        raise
    percentiles = statistics.quantiles(latencies, n=100, method="inclusive")
    print(
        f"[{options.database}] drop-to-webhook latency over {options.drops} drops: "
        f"median {statistics.median(latencies) * 1000:.0f} ms, p90 {percentiles[89] * 1000:.0f} ms, "
        f"p99 {percentiles[98] * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )


def report_burst(
    stack: Stack,
    database_url: str,
    burst: list[bytes],
    *,
    database_name: str | None,
    options: argparse.Namespace,
) -> float:
    """Drop ``burst`` at once and print its rate, what was stored, each process's CPU and largest
    RSS during it, then the idle measure; returns the rate."""
    tag = f"[{options.database}]"
    myself = {os.getpid(): ("the benchmark itself", psutil.Process())}
    services = service_processes(database_name)  # a look at every process on the machine: once
    watch = ProcessWatch(lambda: {**stack_processes(stack), **services, **myself})
    staging = stage_burst(stack, burst)
    watch.start()
    try:
        outcome = measure_burst(stack, database_url, staging, len(burst))
    finally:
        spent = watch.stop()
    print(
        f"{tag} burst of {len(burst)} files: {outcome.rate:.1f} articles/s stored; stored "
        f"{outcome.stored} ({'as dropped' if outcome.stored == len(burst) else 'NOT as dropped'}), "
        f"{outcome.alerts} alerts"
        + (
            f"; in {outcome.batches[0]} ingest and {outcome.batches[1]} store transactions"
            if outcome.batches
            else ""
        )
    )
    stack_labels = {label for label, _ in stack_processes(stack).values()}
    print_cpu(tag, spent, articles=len(burst), stack_labels=stack_labels)
    for label, rss in sorted(watch.rss.items()):
        print(f"{tag} largest RSS of {label} during the burst: {rss:.0f} MB")
    if options.idle > 0:
        idle = measure_idle(stack, options.idle)
        for label, share in sorted(idle.items(), key=lambda item: -item[1]):
            print(f"{tag} idle: {label} {share:.2f}% of a core")
        print(f"{tag} idle over {options.idle:.0f} s: {sum(idle.values()):.2f}% of a core in all")
    return outcome.rate


@contextmanager
def own_databases(*names: str) -> Iterator[None]:
    """PostgreSQL databases of this run's own, dropped when it ends (its processes stopped first)."""
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
        for name in names:
            connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
            for name in names:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report_one_process(
    database_url: str, workdir: Path, articles: list[bytes], *, rate: float, tag: str
) -> None:
    started = time.process_time()
    alone = in_process_rate(database_url, workdir / "one-process", articles)
    cpu = time.process_time() - started
    print(
        f"{tag} the same {len(articles)} articles in one process without the broker: "
        f"{alone:.1f} articles/s, {cpu / len(articles) * 1000:.2f} ms CPU per article (this process "
        f"only); the pipeline's ratio to it {rate / alone:.2f}"
    )


if __name__ == "__main__":
    main()
