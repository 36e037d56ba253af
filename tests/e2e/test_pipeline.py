"""The whole pipeline with real parts: Celery worker processes started with the compose services'
commands, real Redis and PostgreSQL (or the embedded SQLite + file broker under ``rasid run``),
a real SMTP server and a real HTTP receiver. A seed article dropped into the watched folder must
reach each subscriber exactly once."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest
import redis
from standardwebhooks.webhooks import Webhook

from tests.e2e.stack import ROOT, Stack, compose_commands, compose_stack, embedded_stack, stack_env
from tests.helpers import own_redis_database
from tests.peers import ACCEPT, HttpPeer, SmtpSink, error, http_peer, serve_file, smtp_sink, wait_for

pytestmark = pytest.mark.e2e

SEED = ROOT / "seeds" / "000_ba543e6c3f13ccc4.txt"  # the end of the coalition's mission in Iraq
SECOND_SEED = ROOT / "seeds" / "001_a96cf1145acc075f.txt"
TOPIC = "withdrawal"
SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]+")
FEED = ROOT / "tests" / "fixtures" / "ingest" / "feeds" / "bbc_arabic_middleeast_2018_sample.rss.xml"
QUIET_SECONDS = 3.0


def drop(stack: Stack, name: str, data: bytes) -> Path:
    """Drop a file the way a careful user does: write it aside, then move it in."""
    staging = stack.workdir / "staging"
    staging.mkdir(exist_ok=True)
    (staging / name).write_bytes(data)
    return Path(shutil.move(staging / name, stack.watch_dir / name))


def json_rows(stack: Stack, *args: str) -> list[dict[str, Any]]:
    """What a ``rasid`` command prints with ``--json``: one object a line."""
    output = stack.rasid(*args, "--json").stdout
    return [json.loads(line) for line in output.splitlines()]


def subscribe(stack: Stack, channel: str, target: str) -> tuple[str, str | None]:
    """Subscribe through the CLI; returns the subscription id and the webhook secret, if any."""
    [created] = json_rows(stack, "subscribe", channel, target, "--topics", TOPIC)
    secret: str | None = created["secret"]
    assert secret is None or SECRET.fullmatch(secret), created
    return str(created["id"]), secret


def ledger_rows(stack: Stack) -> list[dict[str, Any]]:
    return json_rows(stack, "files", "list")


def assert_webhook(receiver: HttpPeer, secret: str, subscription_id: str) -> None:
    first = receiver.received("/hook")[0]
    Webhook(secret).verify(first.body, first.headers)
    body = json.loads(first.body)
    assert str(body["subscription_id"]) == subscription_id
    assert TOPIC in {topic["topic"] for topic in body["topics"]}
    assert body["article"]["title"].startswith("بريطانيا تتطلع لاستمرار التعاون العسكري")


def assert_email(sink: SmtpSink, address: str) -> None:
    message = next(mail.message for mail in sink.received() if address in mail.recipients)
    assert "بريطانيا تتطلع" in str(message["subject"])
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert TOPIC in plain.get_content()
    assert 'dir="rtl"' in html.get_content()


def run_scenario(stack: Stack, sink: SmtpSink, receiver: HttpPeer) -> None:
    """Drop a seed, its duplicates and a binary file; check each subscriber got one alert."""
    hook_id, hook_secret = subscribe(stack, "webhook", receiver.url("/hook"))
    _flaky_id, flaky_secret = subscribe(stack, "webhook", receiver.url("/flaky"))
    subscribe(stack, "email", "analyst@example.org")
    receiver.script("/flaky", error(500), error(500))
    assert hook_secret and flaky_secret

    drop(stack, "coalition.txt", SEED.read_bytes())
    wait_for(lambda: receiver.received("/hook"), timeout=120, what="the webhook")
    wait_for(sink.received, timeout=120, what="the email")
    wait_for(lambda: [d for d in receiver.received("/flaky") if d.status == 200], timeout=120, what="a retry")

    text = SEED.read_text(encoding="utf-8")
    drop(stack, "same-text-again.txt", SEED.read_bytes())
    drop(stack, "same-text-cp1256.txt", text.encode("cp1256", errors="strict"))
    drop(stack, "photo.txt", bytes(range(256)) * 40)
    wait_for(lambda: len(ledger_rows(stack)) >= 4, timeout=120, what="four files in the ledger")
    wait_for((stack.rejected_dir / "photo.txt").exists, timeout=120, what="the rejected file")
    reason = (stack.rejected_dir / "photo.txt.reason.txt").read_text(encoding="utf-8")
    assert "photo.txt" in reason

    drop(stack, "second.txt", SECOND_SEED.read_bytes())  # the pipeline goes on after a bad file
    wait_for(lambda: len(receiver.received("/hook")) >= 2, timeout=120, what="the second article's webhook")
    time.sleep(QUIET_SECONDS)

    first_ids = {d.headers["webhook-id"] for d in receiver.received("/hook")}
    assert len(receiver.received("/hook")) == 2 and len(first_ids) == 2, "one webhook per article"
    assert len(sink.received()) == 2, "one email per article"
    assert_webhook(receiver, hook_secret, hook_id)
    assert_email(sink, "analyst@example.org")
    flaky = receiver.received("/flaky")
    first_flaky = [d for d in flaky if d.headers["webhook-id"] == flaky[0].headers["webhook-id"]]
    assert [d.status for d in first_flaky] == [500, 500, 200], "retried until it succeeded"
    Webhook(flaky_secret).verify(first_flaky[-1].body, first_flaky[-1].headers)
    assert_feed_flows_through(stack, receiver)
    body_sentence = "الأشهر المقبلة، ستشهد عمل لندن مع بغداد"
    assert body_sentence in text and body_sentence not in stack.logs(tail=None), "logs carry no article text"
    statuses = {row["status"] for row in ledger_rows(stack)}
    assert {"ingested", "duplicate", "rejected"} <= statuses
    assert sorted(p.name for p in stack.watch_dir.iterdir() if p.is_file()) == [
        "coalition.txt",
        "same-text-again.txt",
        "same-text-cp1256.txt",
        "second.txt",
    ], "nothing but the bad file is moved"


def assert_feed_flows_through(stack: Stack, receiver: HttpPeer) -> None:
    """A feed added with the CLI is polled and its entries are stored like dropped files."""
    receiver.route("/feed.xml", serve_file(FEED, content_type="application/rss+xml; charset=utf-8"))
    stack.rasid("feeds", "add", receiver.url("/feed.xml"))
    titles = {" ".join(entry.title.split()) for entry in feedparser.parse(FEED.read_bytes()).entries}

    def stored() -> bool:
        articles = json_rows(stack, "articles", "list", "--limit", "500")
        return titles <= {" ".join(article["title"].split()) for article in articles}

    wait_for(stored, timeout=120, what="the feed's entries", interval=0.5)
    [feed] = json_rows(stack, "feeds", "list")
    assert feed["last_success_at"] is not None


@pytest.fixture
def peers() -> Iterator[tuple[SmtpSink, HttpPeer]]:
    with smtp_sink() as sink, http_peer(fallback=ACCEPT) as receiver:
        yield sink, receiver


@pytest.fixture
def redis_broker(redis_url: str) -> Iterator[str]:
    """A Redis database of this test's own."""
    with own_redis_database(redis_url) as url:
        yield url


def peer_env(sink: SmtpSink) -> dict[str, str]:
    return {"RASID_SMTP_HOST": sink.host, "RASID_SMTP_PORT": str(sink.port)}


@pytest.fixture
def compose_services(
    tmp_path: Path, fresh_postgres_url: str, redis_broker: str, peers: tuple[SmtpSink, HttpPeer]
) -> Iterator[Stack]:
    """The compose services as local processes on PostgreSQL and Redis. Their logs are printed at
    teardown: pytest shows them when the test failed."""
    env = stack_env(
        workdir=tmp_path, database_url=fresh_postgres_url, broker_url=redis_broker, extra=peer_env(peers[0])
    )
    with compose_stack(env, tmp_path) as stack:
        yield stack
        print(stack.logs())


@pytest.fixture
def embedded_services(tmp_path: Path, peers: tuple[SmtpSink, HttpPeer]) -> Iterator[Stack]:
    """``rasid run`` with the embedded defaults: SQLite and the file broker."""
    env = stack_env(workdir=tmp_path, database_url="", broker_url="filesystem://", extra=peer_env(peers[0]))
    with embedded_stack(env, tmp_path) as stack:
        yield stack
        print(stack.logs())


def test_compose_services_on_redis_and_postgresql(
    compose_services: Stack, peers: tuple[SmtpSink, HttpPeer]
) -> None:
    run_scenario(compose_services, *peers)
    assert all(compose_services.alive().values()), compose_services.alive()


def test_an_article_waits_for_a_crashed_worker(
    compose_services: Stack, peers: tuple[SmtpSink, HttpPeer]
) -> None:
    """The classify worker is killed; an article dropped meanwhile is tagged and alerted, once,
    when it is back."""
    stack, receiver = compose_services, peers[1]
    subscribe(stack, "webhook", receiver.url("/hook"))
    stack.kill("classify-worker")
    drop(stack, "coalition.txt", SEED.read_bytes())
    wait_for(lambda: ledger_rows(stack), timeout=120, what="the file in the ledger")
    time.sleep(QUIET_SECONDS)
    assert not receiver.received(), "nothing can be tagged while the classifier is down"
    stack.start("classify-worker-restarted", compose_commands()["classify-worker"])
    wait_for(lambda: receiver.received("/hook"), timeout=120, what="the webhook")
    time.sleep(QUIET_SECONDS)
    assert len(receiver.received("/hook")) == 1


def test_a_lost_message_is_handed_on_again(
    compose_services: Stack, peers: tuple[SmtpSink, HttpPeer], redis_broker: str
) -> None:
    """The message to the classifier vanishes from the broker: the ingest service, never told the
    article was stored, hands it on again, and the subscriber gets one alert."""
    stack, receiver = compose_services, peers[1]
    subscribe(stack, "webhook", receiver.url("/hook"))
    stack.kill("classify-worker")
    drop(stack, "coalition.txt", SEED.read_bytes())
    wait_for(lambda: ledger_rows(stack), timeout=120, what="the file in the ledger")
    broker = redis.Redis.from_url(redis_broker)
    lost = list(broker.scan_iter("classify*"))
    assert lost and broker.delete(*lost), "the message was waiting in the classify queue"
    stack.start("classify-worker-restarted", compose_commands()["classify-worker"])
    wait_for(lambda: receiver.received("/hook"), timeout=120, what="the webhook")
    time.sleep(QUIET_SECONDS)
    assert len(receiver.received("/hook")) == 1


def test_embedded_defaults_sqlite_and_file_broker(
    embedded_services: Stack, peers: tuple[SmtpSink, HttpPeer]
) -> None:
    stack = embedded_services
    wait_for(
        lambda: stack.rasid("subscriptions", "list", check=False).returncode == 0,
        timeout=60,
        what="the database",
    )
    run_scenario(stack, *peers)
    assert stack.interrupt("run") == 0, "Ctrl-C stops the stack cleanly"


ARTICLES = ROOT / "tests" / "fixtures" / "alert" / "articles"


def subscribe_rule(stack: Stack, path: str, receiver: HttpPeer, rule: str) -> dict[str, Any]:
    """Subscribe a webhook at ``path`` to ``rule`` through the CLI."""
    [created] = json_rows(stack, "subscribe", "webhook", receiver.url(path), "--rule", rule)
    return created


@pytest.mark.parametrize("services", ["compose_services", "embedded_services"])
def test_strikes_in_iraq_gets_the_iraq_strike_and_not_the_syria_strike(
    services: str, request: pytest.FixtureRequest, peers: tuple[SmtpSink, HttpPeer]
) -> None:
    """Three watch rules over two strike articles: strikes anywhere gets both, strikes in Iraq only the
    strike on Ain al-Asad, strikes in Syria (without a keyword) only the raid near Aleppo."""
    stack: Stack = request.getfixturevalue(services)
    receiver = peers[1]
    wait_for(
        lambda: stack.rasid("subscriptions", "list", check=False).returncode == 0, timeout=60, what="the db"
    )
    iraq = subscribe_rule(stack, "/iraq", receiver, "topic:strikes entity:Iraq")
    subscribe_rule(stack, "/syria", receiver, 'topic:strikes entity:سوريا -keyword:"قاعدة عين الأسد"')
    subscribe_rule(stack, "/anywhere", receiver, "topic:strikes")
    assert iraq["rule"] == "topic:strikes entity:country:iq"
    shown = stack.rasid("subscriptions", "show", str(iraq["id"])).stdout
    assert "rule: topic:strikes entity:country:iq" in shown

    drop(stack, "iraq.txt", (ARTICLES / "iraq_strike.txt").read_bytes())
    drop(stack, "syria.txt", (ARTICLES / "syria_strike.txt").read_bytes())
    wait_for(lambda: len(receiver.received("/anywhere")) >= 2, timeout=120, what="both strikes")
    wait_for(lambda: receiver.received("/iraq") and receiver.received("/syria"), timeout=60, what="the rules")
    time.sleep(QUIET_SECONDS)

    def titles(path: str) -> list[str]:
        return [json.loads(delivery.body)["article"]["title"] for delivery in receiver.received(path)]

    assert titles("/iraq") == ["طائرات مسيرة تستهدف قاعدة عين الأسد غربي العراق"]
    assert titles("/syria") == ["غارات جوية على مواقع قرب حلب شمالي سوريا"]
    assert sorted(titles("/anywhere")) == sorted([*titles("/iraq"), *titles("/syria")])
    [hit] = json_rows(stack, "subscriptions", "test", str(iraq["id"]))
    assert hit["title"] == titles("/iraq")[0]
    assert hit["entities"] == ["country:iq"]
