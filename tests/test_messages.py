"""The vocabulary of the messages: topic names and entity kinds are declared once, in the contract,
and the classifier's data files and the alert service's subscriptions follow the same rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from alert_service.rules import parse_topics
from classifier_service.errors import GazetteerError, TaxonomyError
from classifier_service.taxonomy import PACKAGED_TAXONOMY, load_taxonomy
from shared.gazetteer import PACKAGED_GAZETTEER, GazetteerEntry, load_gazetteer
from shared.messages import (
    ENTITY_KINDS,
    Entity,
    Evidence,
    entity_kind_of,
    is_entity_id,
    is_topic_name,
)

TOPIC_NAMES = {
    "strikes": True,
    "troop_movements": True,
    "phase2": True,
    "Strikes": False,
    "2phase": False,
    "_strikes": False,
    "air strikes": False,
    "strikes\n": False,
    "غارات": False,
    "": False,
}

ENTITY_IDS = {
    "country:tr": True,
    "alliance:arab-coalition": True,
    "organization:un": True,
    "city:mosul": False,
    "country:": False,
    "country:Tr": False,
    "country:tr\n": False,
    "tr": False,
}


@pytest.mark.parametrize(("name", "valid"), TOPIC_NAMES.items())
def test_one_topic_name_rule_for_messages_subscriptions_and_taxonomy(
    name: str, valid: bool, tmp_path: Path
) -> None:
    assert is_topic_name(name) is valid
    evidence = {"topic": name, "term": "t", "matched": "m", "field": "text", "start": 0, "end": 1}
    if valid:
        Evidence(**evidence, sentence="s")
        assert parse_topics(name) == [name]
        return
    with pytest.raises(ValidationError):
        Evidence(**evidence, sentence="s")
    if name and name == name.strip():  # a subscription's list is trimmed around commas
        with pytest.raises(ValueError, match="not an identifier"):
            parse_topics(name)
    taxonomy = tmp_path / "taxonomy.yaml"
    topics = {name: {"terms": [{"term": "غارة", "weight": 0.5}]}}
    taxonomy.write_text(json.dumps({"version": "1", "topics": topics}), encoding="utf-8")
    with pytest.raises(TaxonomyError):
        load_taxonomy(taxonomy)


@pytest.mark.parametrize(("entity_id", "valid"), ENTITY_IDS.items())
def test_entity_ids_name_a_known_kind(entity_id: str, valid: bool) -> None:
    assert is_entity_id(entity_id) is valid
    if valid:
        entry = GazetteerEntry(id=entity_id, name="x", names=("اسم",))
        assert entry.kind == entity_kind_of(entity_id) == entity_id.split(":", 1)[0]
        Entity(id=entity_id, kind=entry.kind, name="x", mentions=1)
        return
    with pytest.raises(ValidationError, match="kind country, alliance, group, place or organization"):
        GazetteerEntry(id=entity_id, name="x", names=("اسم",))
    with pytest.raises(ValidationError):
        Entity(id=entity_id, kind="country", name="x", mentions=1)


def test_kinds_of_the_gazetteer_and_the_taxonomy_are_the_contract_kinds() -> None:
    used = {entry.kind for entry in load_gazetteer(PACKAGED_GAZETTEER).entries}
    assert used == set(ENTITY_KINDS)
    # The packaged taxonomy refers to kinds as @alliance, @group, ...: every one it uses is known.
    assert load_taxonomy(PACKAGED_TAXONOMY).topics
    with pytest.raises(ValueError, match="no known kind"):
        entity_kind_of("city:mosul")


def test_a_gazetteer_with_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gazetteer.yaml"
    entry = {"id": "city:mosul", "name": "الموصل", "names": ["الموصل"]}
    path.write_text(json.dumps({"version": "1", "entries": [entry]}), encoding="utf-8")
    with pytest.raises(GazetteerError, match="kind country"):
        load_gazetteer(path)
