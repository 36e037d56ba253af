"""Pipeline benchmark: drop-to-webhook latency and burst intake of the whole stack.

    python -m benchmarks.pipeline --database sqlite        # rasid run: SQLite + file broker
    python -m benchmarks.pipeline --database postgresql    # compose services: PostgreSQL + Redis

Prints the median (p90, p99) time from dropping one file into the watched folder to its webhook
arriving, over ``--drops`` files dropped one by one, then how many articles per second the stack
stores when ``--burst`` files are dropped at once, the same articles read, classified and stored in one
process without the broker, in the pipeline's batches of ``MAX_BATCH`` (and the pipeline's ratio to
that), and the largest RSS of each process. The PostgreSQL run takes a database and a Redis database of
its own, so runs side by side on one machine do not take each other's messages.

The files are real articles of ``../shared/corpus/`` (title line, then text), each a story of its
own: copies of one article with a line added would be one story, and a story alerts once.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
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
    classifier = load_classifier()
    chosen, seen, named = [], set(), set()
    for data in files:
        try:
            document = read_document(data, suffix=".txt")
        except UnreadableDocument:
            continue
        article_id = content_id(document.title, document.text)
        if article_id in seen:
            continue
        if alerting:
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


def measure_burst(stack: Stack, database_url: str, articles: list[bytes]) -> float:
    run, count = uuid.uuid4().hex[:8], len(articles)
    staging = stack.workdir / "burst"
    staging.mkdir()
    for number, data in enumerate(articles):
        (staging / f"burst-{run}-{number}.txt").write_bytes(data)
    engine = create_engine(database_url)

    def stored() -> int:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM alert_articles")).scalar_one())

    baseline = stored()
    started = time.monotonic()
    for path in staging.iterdir():
        path.rename(stack.watch_dir / path.name)
    wait_for(lambda: stored() >= baseline + count, timeout=1800, what=f"{count} articles", interval=0.2)
    return count / (time.monotonic() - started)


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


def worker_rss(stack: Stack) -> dict[str, float]:
    """The largest resident memory (MB) of each of the stack's processes and their pool children."""
    sizes: dict[str, float] = {}
    for name, popen in stack.processes.items():
        try:
            parent = psutil.Process(popen.pid)
            family = [parent, *parent.children(recursive=True)]
            sizes[name] = max(process.memory_info().rss for process in family) / 1e6
        except psutil.Error:
            continue
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--drops", type=int, default=20)
    parser.add_argument("--burst", type=int, default=1000)
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
        if options.database == "postgresql":
            name = f"rasid_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{name}"')
            database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{name}_one"')
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
        try:
            latencies = measure_latency(
                stack, receiver, distinct_articles(files, options.drops, alerting=True)
            )
        except AssertionError:
            print(stack.logs(tail=4000), file=sys.stderr)
            raise
        percentiles = statistics.quantiles(latencies, n=100, method="inclusive")
        print(
            f"[{options.database}] drop-to-webhook latency over {options.drops} drops: "
            f"median {statistics.median(latencies) * 1000:.0f} ms, p90 {percentiles[89] * 1000:.0f} ms, "
            f"p99 {percentiles[98] * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
        )
        burst = distinct_articles(files, options.burst, alerting=False)
        rate = measure_burst(stack, database_url, burst)
        print(f"[{options.database}] burst of {options.burst} files: {rate:.1f} articles/s stored")
        upgrade_all(one_process_url)
        topics = ",".join(sorted(known_topics() or ()))
        one_env = {**stack.env, "RASID_DATABASE_URL": one_process_url}
        subprocess.run(
            [*RASID, "subscribe", "webhook", receiver.url("/hook"), "--topics", topics],
            env=one_env,
            check=True,
            capture_output=True,
        )
        alone = in_process_rate(one_process_url, workdir / "one-process", burst)
        print(
            f"[{options.database}] the same {options.burst} articles in one process without the broker: "
            f"{alone:.1f} articles/s; the pipeline's ratio to it {rate / alone:.2f}"
        )
        for name, rss in sorted(worker_rss(stack).items()):
            print(f"[{options.database}] largest RSS of {name}: {rss:.0f} MB")


if __name__ == "__main__":
    main()
