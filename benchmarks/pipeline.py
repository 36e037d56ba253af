"""Pipeline benchmark: drop-to-webhook latency and burst intake of the whole stack.

    python -m benchmarks.pipeline --database sqlite        # rasid run: SQLite + file broker
    python -m benchmarks.pipeline --database postgresql    # compose services: PostgreSQL + Redis

Prints the median (and p90) time from dropping one file into the watched folder to its webhook
arriving, over ``--drops`` files dropped one by one, then how many articles per second the stack
stores when ``--burst`` files are dropped at once.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import psycopg
import redis
from sqlalchemy import create_engine, text

from tests.e2e.stack import ROOT, Stack, compose_stack, embedded_stack, stack_env
from tests.peers import ACCEPT, HttpPeer, http_peer, smtp_sink, wait_for

SEED = ROOT / "seeds" / "000_ba543e6c3f13ccc4.txt"
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/8"


def article(number: int, run: str) -> bytes:
    """A distinct article about a withdrawal: the seed with a line of its own."""
    body = SEED.read_text(encoding="utf-8")
    return f"{body}\nتحديث رقم {number} من سلسلة {run}.\n".encode()


def drop(stack: Stack, name: str, data: bytes) -> None:
    staging = stack.workdir / "staging"
    staging.mkdir(exist_ok=True)
    (staging / name).write_bytes(data)
    (staging / name).rename(stack.watch_dir / name)


def measure_latency(stack: Stack, receiver: HttpPeer, drops: int) -> list[float]:
    run = uuid.uuid4().hex[:8]
    latencies = []
    for number in range(drops):
        before = len(receiver.received("/hook"))
        started = time.monotonic()
        drop(stack, f"latency-{run}-{number}.txt", article(number, run))
        wait_for(
            lambda b=before: len(receiver.received("/hook")) > b, timeout=60, what="a webhook", interval=0.005
        )
        latencies.append(receiver.received("/hook")[-1].received_at - started)
    return latencies


def measure_burst(stack: Stack, database_url: str, count: int) -> float:
    run = uuid.uuid4().hex[:8]
    staging = stack.workdir / "burst"
    staging.mkdir()
    for number in range(count):
        (staging / f"burst-{run}-{number}.txt").write_bytes(article(number, run))
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
            redis.Redis.from_url(REDIS_URL).flushdb()
            env = stack_env(workdir=workdir, database_url=database_url, broker_url=REDIS_URL, extra=extra)
            stack = stack_of.enter_context(compose_stack(env, workdir))
        else:
            database_url = f"sqlite:///{workdir / 'data' / 'rasid.db'}"
            env = stack_env(workdir=workdir, database_url="", broker_url="filesystem://", extra=extra)
            stack = stack_of.enter_context(embedded_stack(env, workdir))
        wait_for(
            lambda: stack.rasid("subscriptions", "list", check=False).returncode == 0, timeout=60, what="db"
        )
        stack.rasid("subscribe", "webhook", receiver.url("/hook"), "--topics", "withdrawal")
        latencies = measure_latency(stack, receiver, options.drops)
        print(
            f"[{options.database}] drop-to-webhook latency over {options.drops} drops: "
            f"median {statistics.median(latencies) * 1000:.0f} ms, "
            f"p90 {statistics.quantiles(latencies, n=10)[-1] * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms"
        )
        rate = measure_burst(stack, database_url, options.burst)
        print(f"[{options.database}] burst of {options.burst} files: {rate:.1f} articles/s stored")


if __name__ == "__main__":
    main()
