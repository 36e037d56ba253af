"""Watch rules through the commands and the store: subscribing with a rule or with flags, showing it
back, alerts only for the articles a rule matches, and backtests that create no alert."""

from __future__ import annotations

from sqlalchemy import func, select

from alert_service.models import Alert
from shared.db import session_scope
from shared.messages import ArticleClassified, Entity
from tests.alert.helpers import MessageFactory, store
from tests.commands import json_rows, run

IRAQ_STRIKE = "شنت طائرات مسيرة هجوما على قاعدة عين الأسد غربي العراق فجر اليوم."
SYRIA_STRIKE = "قصفت مقاتلات مواقع للمسلحين قرب حلب شمالي سوريا مساء أمس."


def _article(
    make_message: MessageFactory, article_id: str, *, text: str, entities: list[tuple[str, str]]
) -> ArticleClassified:
    """The fixture's strike article with another id, text (its title too: two events, two stories) and
    entities."""
    message = make_message(article_id, tags=["strikes"])
    named = tuple(Entity(id=entity_id, kind="place" if entity_id.startswith("place") else "country",
                         name=name, mentions=1) for entity_id, name in entities)  # fmt: skip
    article = message.article.model_copy(update={"title": text, "text": text})
    classification = message.classification.model_copy(update={"entities": named})
    return message.model_copy(update={"article": article, "classification": classification})


def _iraq_and_syria(make_message: MessageFactory) -> tuple[ArticleClassified, ArticleClassified]:
    iraq = _article(make_message, "1" * 32, text=IRAQ_STRIKE,
                    entities=[("place:ain-al-asad", "عين الأسد"), ("country:iq", "العراق")])  # fmt: skip
    syria = _article(make_message, "2" * 32, text=SYRIA_STRIKE,
                     entities=[("place:aleppo", "حلب"), ("country:sy", "سوريا")])  # fmt: skip
    return iraq, syria


def test_a_rule_is_stored_and_shown_back_in_canonical_form(database_url: str) -> None:
    rule = "topic:strikes>=0.8 entity:Iraq -keyword:مناورات"
    [created] = json_rows(database_url, "subscribe", "email", "analyst@example.org", "--rule", rule)
    assert created["rule"] == "topic:strikes>=0.8 entity:country:iq -keyword:مناورات"
    shown = run(database_url, "subscriptions", "show", str(created["id"]))
    assert shown.exit_code == 0, shown.output
    assert "rule: topic:strikes>=0.8 entity:country:iq -keyword:مناورات\n" in shown.output
    [as_json] = json_rows(database_url, "subscriptions", "show", str(created["id"]))
    assert as_json["rule_json"] == {
        "version": 1,
        "topics": [{"topic": "strikes", "min_score": 0.8}],
        "entities": ["country:iq"],
        "exclude_keywords": ["مناورات"],
    }
    again = run(database_url, "subscribe", "email", "b@example.org", "--rule", created["rule"], "--json")
    assert again.exit_code == 0, again.output
    assert f'"rule": "{created["rule"]}"' in again.output


def test_flags_make_the_same_rule_as_the_text(database_url: str) -> None:
    flags = ["--topic", "strikes>=0.8", "--entity", "العراق", "--exclude", "keyword:مناورات"]
    [by_flags] = json_rows(database_url, "subscribe", "email", "a@example.org", *flags)
    assert by_flags["rule"] == "topic:strikes>=0.8 entity:country:iq -keyword:مناورات"
    mixed = ["--rule", 'keyword:"قاعدة عين الأسد"', "--topics", "strikes", "--source", "folder"]
    [by_both] = json_rows(database_url, "subscribe", "email", "a@example.org", *mixed)
    assert by_both["rule"] == 'topic:strikes keyword:"قاعدة عين الأسد" source:folder'


def test_an_unknown_entity_is_refused_with_suggestions(database_url: str) -> None:
    result = run(database_url, "subscribe", "email", "a@example.org", "--rule", "entity:Mosol")
    assert result.exit_code == 2
    assert "no actor or place is called 'Mosol'" in result.output
    assert "place:mosul Mosul" in result.output
    assert json_rows(database_url, "subscriptions", "list") == []


def test_a_subscription_needs_a_rule(database_url: str) -> None:
    result = run(database_url, "subscribe", "email", "a@example.org")
    assert result.exit_code == 2
    assert "give a rule" in result.output


def test_strikes_in_iraq_alerts_for_the_iraq_article_only(
    database_url: str, make_message: MessageFactory
) -> None:
    [iraq_only] = json_rows(
        database_url, "subscribe", "email", "a@example.org", "--rule", "topic:strikes entity:Iraq"
    )
    [strikes] = json_rows(database_url, "subscribe", "email", "b@example.org", "--topics", "strikes")
    iraq, syria = _iraq_and_syria(make_message)
    assert len(store(database_url, iraq)) == 2
    assert len(store(database_url, syria)) == 1
    alerts = json_rows(database_url, "alerts", "list")
    by_subscription = sorted((row["subscription_id"], row["article_id"]) for row in alerts)
    expected = [(iraq_only["id"], "1" * 32), (strikes["id"], "1" * 32), (strikes["id"], "2" * 32)]
    assert by_subscription == sorted(expected)


def test_rules_test_prints_what_would_have_been_sent_and_creates_no_alert(
    database_url: str, make_message: MessageFactory
) -> None:
    for message in _iraq_and_syria(make_message):
        store(database_url, message)
    rule = 'topic:strikes keyword:"قاعدة عين الأسد"'
    [hit] = json_rows(database_url, "rules", "test", rule, "--since", "3650d")
    assert (hit["article_id"], hit["group"], hit["day"]) == ("1" * 32, 1, "2026-11-20")
    assert (hit["topics"], hit["keywords"]) == (["strikes"], ["قاعدة عين الأسد"])
    assert hit["evidence"]
    human = run(database_url, "rules", "test", rule, "--since", "3650d")
    assert human.exit_code == 0, human.output
    assert "2 article(s) stored since" in human.output and "1 alert(s) would have been sent" in human.output
    assert "  2026-11-20       1        1\n" in human.output
    assert "why: topic strikes, keyword قاعدة عين الأسد" in human.output
    # A keyword's evidence is its sentence as written (hamza, alif), whatever spelling the rule used.
    [by_keyword] = json_rows(database_url, "rules", "test", 'keyword:"قاعده عين الاسد"', "--since", "3650d")
    assert by_keyword["evidence"] == IRAQ_STRIKE.removesuffix(".")
    nothing = json_rows(database_url, "rules", "test", "entity:Yemen", "--since", "3650d")
    assert nothing == []
    with session_scope(database_url) as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 0


def test_subscriptions_test_runs_the_stored_rule(database_url: str, make_message: MessageFactory) -> None:
    for message in _iraq_and_syria(make_message):
        store(database_url, message)
    [created] = json_rows(database_url, "subscribe", "email", "a@example.org", "--rule", "entity:Syria")
    hits = json_rows(database_url, "subscriptions", "test", str(created["id"]), "--since", "3650d")
    assert [(hit["article_id"], hit["entities"]) for hit in hits] == [("2" * 32, ["country:sy"])]
    recent = json_rows(database_url, "subscriptions", "test", str(created["id"]), "--since", "1h")
    assert recent == []
    bad = run(database_url, "subscriptions", "test", str(created["id"]), "--since", "a month")
    assert bad.exit_code == 2 and "not a duration" in bad.output


def test_sources_by_feed_id_host_and_folder(database_url: str, make_message: MessageFactory) -> None:
    rules = {
        "source:feed:7": True,
        "source:feed:8": False,
        "source:example.org": True,
        "source:folder": False,
    }
    ids = {
        rule: json_rows(database_url, "subscribe", "email", "a@example.org", "--rule", rule)[0]["id"]
        for rule in rules
    }
    message = make_message("7" * 32)
    from_feed = message.model_copy(update={"article": message.article.model_copy(update={"feed_id": 7})})
    store(database_url, from_feed)
    alerted = {row["subscription_id"] for row in json_rows(database_url, "alerts", "list")}
    assert {rule for rule, subscription_id in ids.items() if subscription_id in alerted} == {
        rule for rule, expected in rules.items() if expected
    }
    [hit] = json_rows(database_url, "subscriptions", "test", str(ids["source:feed:7"]), "--since", "3650d")
    assert hit["article_id"] == "7" * 32, "the feed id is stored with the article"
