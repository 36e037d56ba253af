"""Store benchmark: articles per second through the alert service's store path, by batch size.

    python -m benchmarks.store --database sqlite
    python -m benchmarks.store --database postgresql --count 2000 --batch 1 --batch 200
    python -m benchmarks.store --database sqlite --profile 200     # cProfile's top lines too
    python -m benchmarks.store --database postgresql --count 5000 --batch 200 --memory
    python -m benchmarks.store --database postgresql --count 2000 --batch 200 --deliver   # + deliveries
    python -m benchmarks.store --database postgresql --count 5000 --batch 200 --stories out.json

Reads ``--count`` distinct real articles of ``../shared/corpus/`` as dropped files (so without a
publication date: every one within the others' story window, as in a burst), classifies them (not
timed), then stores them into a freshly migrated database with one subscription to every topic, one
transaction per batch of ``--batch`` articles (1, 50 and 200 unless given): the articles, their tags
and entities, their stories and their alerts, as the alert worker does. Prints articles per second,
and the process's CPU time an article (the figure to compare on a machine other work shares), of
which placing articles in stories (:func:`alert_service.story_store.assign_stories`), and of that the
part under the story lock (the window read, the choices and the members written: the time the alert
worker's processes take in turn). ``--memory``
also prints the process's peak RSS and what the story profiles it keeps take (the classifier loaded
for the set-up counts in the peak too; tracing allocations slows the run, so take rates from a run
without it).
``--deliver`` then delivers every alert of the last batch size's run, one at a time as the alert
worker does, to a webhook receiver in this process, and prints the CPU time one delivery takes (this
thread's: the receiver's thread is not counted); ``--profile`` then profiles the deliveries too.
``--steps`` then stores them once more in batches of ``BATCH`` and prints the CPU time an article
of each step of :func:`alert_service.store.store_batch` (placement one of them), of the cyclic
garbage collector wherever it ran (counted in those steps too; this process holds the classifier,
which a worker does not, so its full collections scan more than a worker's), and the statements
sent a batch (an ``executemany`` counts once).
``--stories`` writes the story of each article of the last run (article id to story id, as JSON): two
versions of the code place alike when the files are the same.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import resource
import time
import tracemalloc
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import psycopg
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from alert_service import store as store_module
from alert_service import story_store
from alert_service.delivery import deliver_alert
from alert_service.models import StoryMember, Subscription
from alert_service.rules import WatchRule
from alert_service.settings import alert_settings
from alert_service.store import store_batch
from alert_service.subscriptions import subscribe
from benchmarks.pipeline import POSTGRES_ADMIN_URL, corpus_files, distinct_articles
from classifier_service.loading import load_classifier
from ingest_service.files import article_from_document
from shared.db import dispose_engines, session_scope
from shared.documents import read_document
from shared.gazetteer import entity_finder
from shared.messages import ArticleClassified
from shared.migrations import upgrade_all
from shared.net import TargetPolicy
from shared.services import known_topics
from tests.peers import ACCEPT, http_peer


def classified_articles(count: int) -> list[ArticleClassified]:
    """``count`` distinct corpus articles, read and classified as the pipeline reads and classifies them."""
    classifier = load_classifier()
    messages = []
    for number, data in enumerate(distinct_articles(corpus_files(), count, alerting=False)):
        article = article_from_document(read_document(data, suffix=".txt"), source=f"store-{number}.txt")
        classification = classifier.classify(title=article.title, text=article.text)
        messages.append(ArticleClassified(article=article, classification=classification))
    return messages


@contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    """A new database of ``kind``, migrated, with a webhook subscription to every topic."""
    if kind == "postgresql":
        name = f"rasid_store_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    else:
        url = f"sqlite:////tmp/rasid-store-bench-{uuid.uuid4().hex[:8]}.db"
    upgrade_all(url)
    with session_scope(url) as session:
        rule = WatchRule.of_topics(sorted(known_topics() or ()))
        policy = TargetPolicy(allow_private=True)
        subscribe(session, "webhook", target="http://127.0.0.1:9/hook", rule=rule, policy=policy, now=_now())
    try:
        yield url
    finally:
        dispose_engines()
        if kind == "postgresql":
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class StoreRun:
    """What storing the articles took: wall and process CPU seconds, of which placing them in stories."""

    articles: int
    seconds: float
    cpu: float
    placing_cpu: float
    locked_cpu: float
    alerts: list[int]

    def describe(self) -> str:
        """The run's figures, per article."""
        per_article = 1000 / self.articles
        rate = self.articles / self.seconds
        return (
            f"{rate:.0f} articles/s ({self.seconds * per_article:.2f} ms an article), "
            f"cpu {self.cpu * per_article:.2f} ms an article, of which placing in stories "
            f"{self.placing_cpu * per_article:.2f} ms "
            f"(under the lock {self.locked_cpu * per_article:.2f} ms), "
            f"{len(self.alerts)} alerts"
        )


def store_rate(url: str, messages: Sequence[ArticleClassified], *, batch: int) -> StoreRun:
    """Store ``messages`` in transactions of ``batch`` articles, timing story placement apart."""
    finder = entity_finder(None)
    alerts: list[int] = []
    placing, locked, lock_taken = [0.0], [0.0], [0.0]
    assign, lock = store_module.assign_stories, story_store.lock_stories

    def timed_assign(*args: Any, **kwargs: Any) -> dict[str, int]:
        started = lock_taken[0] = time.process_time()
        try:
            return assign(*args, **kwargs)
        finally:
            ended = time.process_time()
            placing[0] += ended - started
            locked[0] += ended - lock_taken[0]

    def timed_lock(session: Session) -> None:
        lock(session)
        lock_taken[0] = time.process_time()

    started, cpu_started = time.perf_counter(), time.process_time()
    with (
        patch.object(store_module, "assign_stories", timed_assign),
        patch.object(story_store, "lock_stories", timed_lock),
    ):
        for start in range(0, len(messages), batch):
            with session_scope(url) as session:
                alerts += store_batch(session, messages[start : start + batch], finder=finder)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return StoreRun(len(messages), seconds, cpu, placing[0], locked[0], alerts)


# The steps of ``store_batch`` that --steps times, in the order it takes them.
_STEPS = (
    "_store_articles",
    "_store_tags",
    "_store_entities",
    "subscriptions_matched",
    "assign_stories",
    "create_alerts",
)


@dataclass
class StepCosts:
    """CPU seconds of each step of storing, of the garbage collector, and the statements sent."""

    steps: dict[str, float]
    collector: float
    statements: int
    batches: int


def step_costs(url: str, messages: Sequence[ArticleClassified], *, batch: int) -> StepCosts:
    """Store ``messages`` in batches of ``batch``, timing each step of ``store_batch`` apart."""
    costs = StepCosts(dict.fromkeys(_STEPS, 0.0), 0.0, 0, 0)
    collecting = [0.0]

    def timed(name: str, step: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return step(*args, **kwargs)
            finally:
                costs.steps[name] += time.process_time() - started

        return run

    def on_collection(phase: str, _: dict[str, int]) -> None:
        if phase == "start":
            collecting[0] = time.process_time()
        else:
            costs.collector += time.process_time() - collecting[0]

    def on_statement(*_: Any) -> None:
        costs.statements += 1

    with session_scope(url) as session:
        engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", on_statement)
    gc.callbacks.append(on_collection)
    try:
        with ExitStack() as stack:
            for name in _STEPS:
                stack.enter_context(
                    patch.object(store_module, name, timed(name, getattr(store_module, name)))
                )
            store_rate(url, messages, batch=batch)
    finally:
        gc.callbacks.remove(on_collection)
        event.remove(engine, "before_cursor_execute", on_statement)
    costs.batches = -(-len(messages) // batch)
    return costs


def _print_steps(costs: StepCosts, articles: int) -> None:
    per_article = 1000 / articles
    for name, seconds in costs.steps.items():
        print(f"  {name}: cpu {seconds * per_article:.3f} ms an article")
    print(f"  the garbage collector: cpu {costs.collector * per_article:.3f} ms an article")
    print(f"  {costs.statements / costs.batches:.1f} statements a batch (an executemany counts once)")


def delivery_cost(url: str, alert_ids: Sequence[int]) -> tuple[float, dict[str, int]]:
    """CPU milliseconds this thread spends on one delivery of ``alert_ids`` to a webhook receiver that
    accepts them all, and how many ended in each status."""
    settings = alert_settings().model_copy(update={"allow_private_targets": True})
    statuses: dict[str, int] = {}
    with http_peer(fallback=ACCEPT) as peer:
        with session_scope(url) as session:
            session.execute(update(Subscription).values(target=f"http://127.0.0.1:{peer.port}/hook"))
        started = time.thread_time()
        for alert_id in alert_ids:
            status = deliver_alert(url, alert_id, settings=settings) or "not claimed"
            statuses[status] = statuses.get(status, 0) + 1
        spent = time.thread_time() - started
    return 1000 * spent / max(len(alert_ids), 1), statuses


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--batch", type=int, action="append", help="Batch size (repeatable).")
    parser.add_argument("--profile", type=int, metavar="BATCH", help="Profile one run at this batch size.")
    parser.add_argument("--memory", action="store_true", help="Print peak RSS and the profiles' memory.")
    parser.add_argument("--deliver", action="store_true", help="Deliver the alerts and print their cost.")
    parser.add_argument("--steps", type=int, metavar="BATCH", help="Print each store step's CPU.")
    parser.add_argument("--stories", type=Path, help="Write each article's story of the last run here.")
    options = parser.parse_args()
    messages = classified_articles(options.count)
    for batch in options.batch or [1, 50, 200]:
        with fresh_database(options.database) as url:
            if options.memory:
                tracemalloc.start()
            run = store_rate(url, messages, batch=batch)
            if options.memory:
                _print_memory()
            print(f"[{options.database}] {len(messages)} articles in batches of {batch}: {run.describe()}")
            if options.deliver:
                _print_deliveries(url, run.alerts)
            if options.stories:
                _write_stories(url, options.stories)
    if options.steps:
        with fresh_database(options.database) as url:
            _print_steps(step_costs(url, messages, batch=options.steps), len(messages))
    if options.profile:
        with fresh_database(options.database) as url, cProfile.Profile() as profile:
            profiled = store_rate(url, messages, batch=options.profile)
            if options.deliver:
                delivery_cost(url, profiled.alerts)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(20)


def _print_deliveries(url: str, alerts: Sequence[int]) -> None:
    cost, statuses = delivery_cost(url, alerts)
    outcomes = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
    print(f"  {len(alerts)} deliveries: {cost:.2f} ms CPU a delivery ({outcomes})")


def _write_stories(url: str, path: Path) -> None:
    with session_scope(url) as session:
        rows = session.execute(select(StoryMember.article_id, StoryMember.story_id)).all()
    path.write_text(json.dumps(dict(sorted((article_id, story_id) for article_id, story_id in rows))))
    print(f"  the stories of {len(rows)} articles written to {path}")


def _print_memory() -> None:
    """The memory the store path kept (story profiles, centroids, caches) and the peak RSS so far, with
    the lines that allocated most of what is kept."""
    kept, _ = tracemalloc.get_traced_memory()
    top = tracemalloc.take_snapshot().statistics("lineno")[:_TOP_LINES]
    tracemalloc.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"kept by the store path {kept / 2**20:.1f} MiB, peak RSS {peak:.0f} MiB, of which:")
    for line in top:
        where = line.traceback[0]
        print(f"  {line.size / 2**20:6.1f} MiB {where.filename.rsplit('/', 2)[-1]}:{where.lineno}")


# How many allocating lines --memory names.
_TOP_LINES = 8


if __name__ == "__main__":
    main()
