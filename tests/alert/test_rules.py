"""Subscriptions of topics only, and topic lists, table-driven from tests/fixtures/alert."""

from __future__ import annotations

from typing import Any

import pytest

from alert_service.rules import ArticleFacts, WatchRule, matching_subscriptions, parse_topics
from tests.alert.helpers import load_fixture

RULE_CASES = load_fixture("rules.json")
TOPIC_CASES = load_fixture("topics.json")


@pytest.mark.parametrize("case", RULE_CASES, ids=[case["name"] for case in RULE_CASES])
def test_matching_subscriptions(case: dict[str, Any]) -> None:
    rules = {index: WatchRule.of_topics(topics) for index, topics in enumerate(case["rules"], 1)}
    facts = ArticleFacts(scores=dict.fromkeys(case["article"], 0.8))
    assert matching_subscriptions(rules, facts) == case["expected"]


@pytest.mark.parametrize("case", TOPIC_CASES["valid"], ids=lambda case: case["raw"])
def test_parse_topics_accepts_identifiers(case: dict[str, Any]) -> None:
    assert parse_topics(case["raw"]) == case["topics"]


@pytest.mark.parametrize("raw", TOPIC_CASES["invalid"])
def test_parse_topics_rejects(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_topics(raw)
