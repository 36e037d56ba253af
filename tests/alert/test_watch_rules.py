"""Watch rules, table-driven from tests/fixtures/alert/watch_rules.json: the text form read and written
back, entity names resolved, keywords matched with clitics and endings, and articles matched."""

from __future__ import annotations

from typing import Any

import pytest

from alert_service.errors import RuleError
from alert_service.rule_text import RuleReader, format_rule
from alert_service.rules import ArticleFacts, WatchRule, article_words, evaluate, find_keyword
from shared.gazetteer import UnknownEntityError, entity_finder
from tests.alert.helpers import load_fixture

CASES = load_fixture("watch_rules.json")


@pytest.fixture(scope="module")
def reader() -> RuleReader:
    return RuleReader(entity_finder(), known_topics=CASES["known_topics"])


@pytest.mark.parametrize("case", CASES["round_trip"], ids=lambda case: case["canonical"])
def test_a_rule_is_read_stored_and_written_back(reader: RuleReader, case: dict[str, Any]) -> None:
    rule = reader.read(case["text"])
    assert rule.to_json() == case["stored"]
    assert format_rule(rule) == case["canonical"]
    assert reader.read(format_rule(rule)) == rule
    assert WatchRule.model_validate(rule.to_json()) == rule


@pytest.mark.parametrize("case", CASES["invalid"], ids=lambda case: case["text"] or "(empty)")
def test_a_bad_rule_is_refused_with_the_reason(reader: RuleReader, case: dict[str, Any]) -> None:
    with pytest.raises(RuleError, match=case["error"]):
        reader.read(case["text"])


@pytest.mark.parametrize("case", CASES["entities"], ids=lambda case: case["name"])
def test_an_entity_is_found_by_id_arabic_or_english_name(case: dict[str, Any]) -> None:
    assert entity_finder().find(case["name"]).id == case["id"]


@pytest.mark.parametrize("case", CASES["unknown_entities"], ids=lambda case: case["name"])
def test_an_unknown_entity_suggests_the_closest(reader: RuleReader, case: dict[str, Any]) -> None:
    with pytest.raises(UnknownEntityError) as raised:
        entity_finder().find(case["name"])
    assert case["suggestion"] in [entry.id for entry in raised.value.suggestions]
    with pytest.raises(RuleError, match=f"did you mean .*{case['suggestion']}"):
        reader.read(f'entity:"{case["name"]}"')


@pytest.mark.parametrize("case", CASES["keywords"], ids=lambda case: f"{case['keyword']} | {case['text']}")
def test_a_keyword_matches_its_written_forms(case: dict[str, Any]) -> None:
    found = find_keyword(article_words("", case["text"]), case["keyword"])
    assert (found is not None) == case["found"]


@pytest.mark.parametrize("case", CASES["matches"], ids=lambda case: case["name"])
def test_a_rule_matches_an_article(reader: RuleReader, case: dict[str, Any]) -> None:
    article = case["article"]
    facts = ArticleFacts.of_article(
        article.get("scores", {}),
        entity_ids=article.get("entities", []),
        title=article.get("title", ""),
        text=article.get("text", ""),
        source_kind=article.get("source_kind", "feed"),
        feed_id=article.get("feed_id"),
        url=article.get("url"),
        finder=entity_finder(),
    )
    assert (evaluate(reader.read(case["rule"]), facts) is not None) == case["expected"]


def test_a_stored_rule_of_another_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        WatchRule.model_validate({"version": 2, "topics": [{"topic": "strikes"}]})
