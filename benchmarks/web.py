"""Web benchmark: response times of the articles page with many stored articles.

    python -m benchmarks.web                      # 100,000 articles on the local PostgreSQL
    python -m benchmarks.web --articles 10000 --requests 100

Makes a fresh PostgreSQL database, stores ``--articles`` articles (the seed texts, each made
distinct, two tags and an entity each, one stored per second up to now: 100,000 fill the overview's
last 30 days), starts ``rasid web`` on it and asks for pages over HTTP: the first page, a page deep
in the list (by cursor), a topic filter, an entity filter and a folded Arabic search through the
API, then the dashboard's articles page and overview (signed in). Prints p50 and p99 of each, in
milliseconds.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import insert, text

from alert_service.models import Article, ArticleEntity, Tag
from shared.db import dispose_engines, session_scope
from shared.messages import content_id
from shared.migrations import upgrade_all
from shared.web.tokens import create_token

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TOPICS = ("strikes", "withdrawal", "troop_movements", "training")
BATCH = 5000
PASSWORD = "benchmark"


def seed_texts() -> list[tuple[str, str]]:
    texts = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        lines = path.read_text(encoding="utf-8").strip().splitlines()
        texts.append((lines[0], "\n".join(lines[1:])))
    return texts


def rows(count: int) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]]:
    texts = seed_texts()
    start = datetime.now(UTC) - timedelta(seconds=count)
    for number in range(count):
        title, body = texts[number % len(texts)]
        text = f"{body}\nتحديث رقم {number}."
        article_id = content_id(title, text)
        stored = start + timedelta(seconds=number)
        article = {
            "id": article_id, "title": title, "text": text, "source": f"feed: مصدر {number % 20}",
            "source_kind": "feed", "url": None, "published_at": stored, "feed_id": None,
            "ingested_at": stored, "stored_at": stored,
        }  # fmt: skip
        tags = [
            {"article_id": article_id, "topic": TOPICS[(number + shift) % len(TOPICS)], "score": 0.8,
             "classifier_version": "bench", "evidence": []}
            for shift in (0, 1)
        ]  # fmt: skip
        entity = {"article_id": article_id, "entity_id": f"country:{'iq' if number % 3 else 'sy'}",
                  "kind": "country", "name": "العراق", "mentions": 1}  # fmt: skip
        yield article, tags, entity


def fill(url: str, count: int) -> None:
    batch: list[tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]] = []
    for row in rows(count):
        batch.append(row)
        if len(batch) == BATCH:
            _write(url, batch)
            batch = []
    if batch:
        _write(url, batch)


def _write(url: str, batch: list[tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]]) -> None:
    with session_scope(url) as session:
        session.execute(insert(Article), [article for article, _tags, _entity in batch])
        session.execute(insert(Tag), [tag for _article, tags, _entity in batch for tag in tags])
        session.execute(insert(ArticleEntity), [entity for _article, _tags, entity in batch])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def timed(client: httpx.Client, path: str, params: dict[str, Any], requests: int) -> list[float]:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path, params=params)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(name: str, times: list[float]) -> None:
    p50, p99 = statistics.median(times), percentile(times, 0.99)
    print(f"{name:<28} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms", flush=True)


def measure(url: str, *, requests: int) -> None:
    with session_scope(url) as session:
        token = create_token(session, "benchmark", read_only=True).token
    port = free_port()
    env = os.environ | {
        "RASID_DATABASE_URL": url,
        "RASID_WEB_PORT": str(port),
        "RASID_LOG_LEVEL": "WARNING",
        "RASID_ADMIN_PASSWORD": PASSWORD,
    }
    server = subprocess.Popen([sys.executable, "-m", "shared", "web"], env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
            _wait(client)
            deep = client.get("/api/v1/articles", params={"limit": 200}).json()["next_cursor"]
            cases = {
                "first page (50)": {},
                "page after 200": {"cursor": deep},
                "topic=strikes": {"topic": "strikes"},
                "entity=country:sy": {"entity": "country:sy"},
                "search q=انسحاب": {"q": "انسحاب"},
            }
            for name, params in cases.items():
                times = timed(client, "/api/v1/articles", params, requests)
                report(f"API {name}", times)
        with httpx.Client(base_url=base, timeout=120) as browser:
            form = browser.get("/sign-in").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form)
            assert csrf is not None
            signed_in = browser.post("/sign-in", data={"csrf": csrf.group(1), "secret": PASSWORD})
            assert signed_in.status_code == 303, signed_in.text
            report("dashboard /articles", timed(browser, "/articles", {}, requests))
            report("dashboard topic=strikes", timed(browser, "/articles", {"topic": "strikes"}, requests))
            report("dashboard /overview", timed(browser, "/overview", {}, requests))
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait(client: httpx.Client) -> None:
    for _ in range(300):
        try:
            client.get("/healthz")
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("rasid web did not start")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    options = parser.parse_args()
    name = f"rasid_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        upgrade_all(url)
        started = time.perf_counter()
        fill(url, options.articles)
        # What autovacuum does soon after a bulk load; without statistics the planner joins the
        # whole tag table instead of walking the newest articles.
        with session_scope(url) as session:
            session.execute(text("ANALYZE"))
        seconds = time.perf_counter() - started
        print(f"{options.articles} articles stored in {seconds:.0f} s; {options.requests} requests each:")
        measure(url, requests=options.requests)
    finally:
        dispose_engines()
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
