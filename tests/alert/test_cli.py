"""The alert service's commands, run with click's CliRunner against a migrated database; lists are
read through ``--json``, never by scraping the table."""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path

import pytest

from tests.alert.helpers import MessageFactory, add_subscription, store
from tests.commands import json_rows, run


def test_subscribe_webhook_prints_the_id_and_a_standard_webhooks_secret(database_url: str) -> None:
    [created] = json_rows(
        database_url, "subscribe", "webhook", "https://hooks.example.org/rasid", "--topics", "strikes"
    )
    assert isinstance(created["id"], int)
    assert (created["channel"], created["target"]) == ("webhook", "https://hooks.example.org/rasid")
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) >= 24
    human = run(database_url, "subscribe", "webhook", "https://hooks.example.org/b", "--topics", "strikes")
    assert f"subscription {created['id'] + 1}: webhook https://hooks.example.org/b" in human.output
    assert "signing secret (shown once, keep it): whsec_" in human.output


def test_subscribe_email_and_list(database_url: str) -> None:
    [created] = json_rows(
        database_url, "subscribe", "email", "analyst@example.org", "--topics", "withdrawal,training"
    )
    assert created["secret"] is None
    [listed] = json_rows(database_url, "subscriptions", "list")
    assert listed["id"] == created["id"]
    assert (listed["channel"], listed["target"]) == ("email", "analyst@example.org")
    assert listed["topics"] == ["withdrawal", "training"]
    assert listed["active"] is True
    assert "secret" not in listed
    assert datetime.fromisoformat(listed["created_at"]).utcoffset() is not None
    human = run(database_url, "subscriptions", "list").output
    assert "analyst@example.org" in human and "rule: topic:withdrawal topic:training" in human


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["email", "not-an-address", "--topics", "strikes"], "not an email address"),
        (["email", "a b@example.org", "--topics", "strikes"], "not an email address"),
        (["webhook", "ftp://example.org/hook", "--topics", "strikes"], "http:// or https://"),
        (["webhook", "hooks.example.org", "--topics", "strikes"], "http:// or https://"),
        (["webhook", "https://hooks.example.org/", "--topics", "Air Strikes"], "not an identifier"),
        (["email", "analyst@example.org", "--topics", ","], "at least one topic"),
    ],
)
def test_subscribe_rejects_bad_input(database_url: str, args: list[str], message: str) -> None:
    result = run(database_url, "subscribe", *args)
    assert result.exit_code != 0
    assert message in result.output
    assert json_rows(database_url, "subscriptions", "list") == []


def test_remove_hides_the_subscription_and_cancels_its_alerts(
    database_url: str, make_message: MessageFactory
) -> None:
    subscription = add_subscription(database_url, "email", "analyst@example.org", ["strikes"])
    store(database_url, make_message())
    result = run(database_url, "subscriptions", "remove", str(subscription.id))
    assert result.exit_code == 0, result.output
    assert "1 pending alert(s) cancelled" in result.output
    assert json_rows(database_url, "subscriptions", "list") == []
    assert "no subscriptions" in run(database_url, "subscriptions", "list").output
    [removed] = json_rows(database_url, "subscriptions", "list", "--all")
    assert (removed["id"], removed["active"]) == (subscription.id, False)
    assert "(removed)" in run(database_url, "subscriptions", "list", "--all").output
    [cancelled] = json_rows(database_url, "alerts", "list")
    assert (cancelled["status"], cancelled["last_error"]) == ("failed", "subscription removed")
    again = run(database_url, "subscriptions", "remove", str(subscription.id))
    assert again.exit_code == 1
    assert "removed already" in again.output


def test_articles_list_shows_arabic_titles_with_topics(
    database_url: str, make_message: MessageFactory
) -> None:
    store(database_url, make_message("a" * 32))
    store(database_url, make_message("b" * 32, tags=["training"]))
    listed = {row["id"]: row for row in json_rows(database_url, "articles", "list")}
    assert listed.keys() == {"a" * 32, "b" * 32}
    article = listed["a" * 32]
    assert " ".join(article["title"].split()) == "غارات جوية على مواقع قرب الحدود <عاجل>"
    assert [(t["topic"], t["score"]) for t in article["topics"]] == [("strikes", 0.93), ("withdrawal", 0.61)]
    assert datetime.fromisoformat(article["stored_at"]).utcoffset() is not None
    assert {"source", "source_kind", "url", "published_at"} <= article.keys()
    training = json_rows(database_url, "articles", "list", "--topic", "training")
    assert [row["id"] for row in training] == ["b" * 32]
    assert len(json_rows(database_url, "articles", "list", "--limit", "1")) == 1


def test_articles_list_for_people_puts_each_title_on_its_own_line(
    database_url: str, make_message: MessageFactory
) -> None:
    store(database_url, make_message("a" * 32))
    result = run(database_url, "articles", "list")
    assert result.exit_code == 0, result.output
    assert "    غارات جوية على مواقع قرب الحدود <عاجل>\n" in result.output
    assert "    topics: strikes 0.93, withdrawal 0.61\n" in result.output


def test_json_keeps_arabic_readable(database_url: str, make_message: MessageFactory) -> None:
    store(database_url, make_message())
    output = run(database_url, "articles", "list", "--json").stdout
    assert "غارات جوية" in output and "\\u" not in output


def test_alerts_list(database_url: str, make_message: MessageFactory) -> None:
    subscription = add_subscription(database_url, "email", "analyst@example.org", ["strikes"])
    [alert_id] = store(database_url, make_message())
    [alert] = json_rows(database_url, "alerts", "list")
    assert alert["id"] == alert_id
    assert alert["subscription_id"] == subscription.id
    assert (alert["status"], alert["attempts"], alert["last_error"]) == ("pending", 0, None)
    assert datetime.fromisoformat(alert["next_attempt_at"]).utcoffset() is not None
    assert alert["delivered_at"] is None
    assert json_rows(database_url, "alerts", "list", "--status", "failed") == []
    assert "no alerts" in run(database_url, "alerts", "list", "--status", "failed").output
    assert "pending" in run(database_url, "alerts", "list").output


def test_a_database_without_the_tables_gets_a_clear_error(tmp_path: Path) -> None:
    result = run(f"sqlite:///{tmp_path / 'empty.db'}", "subscriptions", "list")
    assert result.exit_code == 1
    assert "the database schema is not current" in result.output
    assert "alert: missing" in result.output
    assert "run `rasid db upgrade`" in result.output


def test_a_bad_database_url_names_the_variable() -> None:
    result = run("mysql://nope", "articles", "list")
    assert result.exit_code == 1
    assert "RASID_DATABASE_URL" in result.output


def test_subscribe_refuses_an_unknown_topic_and_lists_the_known_ones(database_url: str) -> None:
    result = run(database_url, "subscribe", "email", "analyst@example.org", "--topics", "strikes,ceasefire")
    assert result.exit_code != 0
    assert "unknown topic: ceasefire" in result.output
    assert "known topics: strikes, training, withdrawal" in result.output
    assert json_rows(database_url, "subscriptions", "list") == []


def test_subscribe_knows_the_topics_of_the_configured_taxonomy(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from classifier_service.taxonomy import PACKAGED_TAXONOMY

    taxonomy = PACKAGED_TAXONOMY.read_text(encoding="utf-8").replace("\n  strikes:\n", "\n  ceasefire:\n")
    path = tmp_path / "taxonomy.yaml"
    path.write_text(taxonomy, encoding="utf-8")
    monkeypatch.setenv("RASID_TAXONOMY_PATH", str(path))
    [created] = json_rows(database_url, "subscribe", "email", "analyst@example.org", "--topics", "ceasefire")
    assert created["topics"] == ["ceasefire"]
    result = run(database_url, "subscribe", "email", "analyst@example.org", "--topics", "strikes")
    assert "unknown topic: strikes" in result.output


def test_subscribe_reports_an_unreadable_taxonomy(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RASID_TAXONOMY_PATH", str(tmp_path / "missing.yaml"))
    result = run(database_url, "subscribe", "email", "analyst@example.org", "--topics", "strikes")
    assert result.exit_code != 0
    assert "missing.yaml" in result.output
    assert "Traceback" not in result.output
