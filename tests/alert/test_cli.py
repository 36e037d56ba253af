"""The alert service's commands, run with click's CliRunner against a migrated database."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from shared.cli import cli as rasid
from tests.alert.helpers import MessageFactory, add_subscription, store


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(rasid, list(args), env={"RASID_DATABASE_URL": url})


def test_subscribe_webhook_prints_the_id_and_a_standard_webhooks_secret(database_url: str) -> None:
    result = run(
        database_url, "subscribe", "webhook", "https://hooks.example.org/rasid", "--topics", "strikes"
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"subscription \d+: webhook https://hooks.example.org/rasid", result.output)
    match = re.search(r"whsec_(\S+)", result.output)
    assert match is not None
    assert len(base64.b64decode(match.group(1))) >= 24


def test_subscribe_email_and_list(database_url: str) -> None:
    result = run(database_url, "subscribe", "email", "analyst@example.org", "--topics", "withdrawal,training")
    assert result.exit_code == 0, result.output
    assert "whsec_" not in result.output
    listing = run(database_url, "subscriptions", "list")
    assert listing.exit_code == 0
    assert "analyst@example.org" in listing.output
    assert "withdrawal,training" in listing.output


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
    assert "no subscriptions" in run(database_url, "subscriptions", "list").output


def test_remove_hides_the_subscription_and_cancels_its_alerts(
    database_url: str, make_message: MessageFactory
) -> None:
    subscription = add_subscription(database_url, "email", "analyst@example.org", ["strikes"])
    store(database_url, make_message())
    result = run(database_url, "subscriptions", "remove", str(subscription.id))
    assert result.exit_code == 0, result.output
    assert "1 pending alert(s) cancelled" in result.output
    assert "no subscriptions" in run(database_url, "subscriptions", "list").output
    assert "(removed)" in run(database_url, "subscriptions", "list", "--all").output
    again = run(database_url, "subscriptions", "remove", str(subscription.id))
    assert again.exit_code == 1
    assert "no active subscription" in again.output


def test_articles_list_shows_arabic_titles_with_topics(
    database_url: str, make_message: MessageFactory
) -> None:
    store(database_url, make_message("a" * 32))
    store(database_url, make_message("b" * 32, tags=["training"]))
    result = run(database_url, "articles", "list")
    assert result.exit_code == 0, result.output
    assert "غارات جوية على مواقع قرب الحدود <عاجل>" in result.output
    assert "strikes 0.93, withdrawal 0.61" in result.output
    only = run(database_url, "articles", "list", "--topic", "training")
    assert "b" * 16 in only.output
    assert "a" * 16 not in only.output
    assert run(database_url, "articles", "list", "--limit", "1").output.count("topics:") == 1


def test_alerts_list(database_url: str, make_message: MessageFactory) -> None:
    add_subscription(database_url, "email", "analyst@example.org", ["strikes"])
    [alert_id] = store(database_url, make_message())
    result = run(database_url, "alerts", "list")
    assert result.exit_code == 0, result.output
    assert re.search(rf"^\s+{alert_id}\s+\d+\s+\w+\s+pending\s+0$", result.output, re.MULTILINE)
    assert "no alerts" in run(database_url, "alerts", "list", "--status", "failed").output


def test_a_database_without_the_tables_gets_a_clear_error(tmp_path: Path) -> None:
    result = run(f"sqlite:///{tmp_path / 'empty.db'}", "subscriptions", "list")
    assert result.exit_code == 1
    assert "rasid db upgrade" in result.output


def test_a_bad_database_url_names_the_variable() -> None:
    result = run("mysql://nope", "articles", "list")
    assert result.exit_code == 1
    assert "RASID_DATABASE_URL" in result.output
