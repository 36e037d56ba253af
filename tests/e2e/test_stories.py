"""One alert per story with real workers: three files from three outlets reporting one strike are
grouped into one story, each subscriber is alerted once, and the alert's record lists the three
outlets. Two alert workers store at once on PostgreSQL; ``rasid run`` does the same on SQLite."""

from __future__ import annotations

import time

import pytest

from tests.e2e.stack import ROOT, Stack, compose_commands
from tests.e2e.test_pipeline import (  # noqa: F401 - fixtures
    QUIET_SECONDS,
    compose_services,
    drop,
    embedded_services,
    json_rows,
    peers,
    redis_broker,
)
from tests.peers import HttpPeer, SmtpSink, wait_for

pytestmark = pytest.mark.e2e

REPORTS = sorted((ROOT / "tests" / "fixtures" / "stories").glob("*.txt"))


def _subscribe(stack: Stack, *args: str) -> str:
    [created] = json_rows(stack, "subscribe", *args, "--topics", "strikes")
    return str(created["id"])


def run_story_scenario(stack: Stack, sink: SmtpSink, receiver: HttpPeer) -> None:
    hook = _subscribe(stack, "webhook", receiver.url("/hook"))
    mail = _subscribe(stack, "email", "analyst@example.org")
    for report in REPORTS:
        drop(stack, report.name, report.read_bytes())

    def stored() -> bool:
        return len(json_rows(stack, "articles", "list")) == len(REPORTS)

    wait_for(stored, timeout=120, what="the three reports stored", interval=0.5)
    wait_for(lambda: receiver.received("/hook") and sink.received(), timeout=120, what="the alerts")
    time.sleep(QUIET_SECONDS)
    assert len(receiver.received("/hook")) == 1, "one webhook for the story"
    assert len(sink.received()) == 1, "one email for the story"

    alerts = json_rows(stack, "alerts", "list")
    assert sorted(str(alert["subscription_id"]) for alert in alerts) == sorted([hook, mail])
    assert len({alert["story_id"] for alert in alerts}) == 1
    outlets = {report.name for report in REPORTS}
    for alert in alerts:
        [record] = json_rows(stack, "alerts", "show", str(alert["id"]))
        first = {article["title"] for article in json_rows(stack, "articles", "list")}
        assert len(record["story_articles"]) == 2
        assert {item["title"] for item in record["story_articles"]} < first
        assert set(record["also_reported_by"]) | {_source_of(stack, record["article_id"])} == outlets
        shown = stack.rasid("alerts", "show", str(alert["id"])).stdout
        assert "also reported by" in shown
        assert all(name in shown for name in outlets)


def _source_of(stack: Stack, article_id: str) -> str:
    [article] = [row for row in json_rows(stack, "articles", "list") if row["id"] == article_id]
    return str(article["source"])


def test_three_outlets_one_event_one_alert_with_two_store_workers(
    compose_services: Stack,  # noqa: F811 - the fixture
    peers: tuple[SmtpSink, HttpPeer],  # noqa: F811
) -> None:
    compose_services.start("alert-worker-2", compose_commands()["alert-worker"])
    run_story_scenario(compose_services, *peers)
    assert all(compose_services.alive().values()), compose_services.alive()


def test_three_outlets_one_event_one_alert_under_rasid_run(
    embedded_services: Stack,  # noqa: F811 - the fixture
    peers: tuple[SmtpSink, HttpPeer],  # noqa: F811
) -> None:
    run_story_scenario(embedded_services, *peers)
