"""The packaged taxonomy (rules alone) on sentences written for the tests: clitics, senses, evidence,
seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from classifier_service.classifier import Classifier
from classifier_service.loading import load_classifier
from shared.messages import Classification

REPOSITORY = Path(__file__).resolve().parents[2]
FIXTURES = REPOSITORY / "tests" / "fixtures" / "classifier"
SEEDS = REPOSITORY / "seeds"


def _cases(name: str) -> list[Any]:
    cases: list[dict[str, Any]] = yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))
    return [pytest.param(case, id=case["name"]) for case in cases]


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    """The rules alone: these tables are the taxonomy's (the learned re-scoring is tested on its own)."""
    return Classifier(load_classifier().compiled)


@pytest.mark.parametrize("case", _cases("clitics.yaml"))
def test_each_clitic_and_ending_form_matches(classifier: Classifier, case: dict[str, Any]) -> None:
    result = classifier.classify(title="", text=case["text"])
    assert case["topic"] in result.tags, result.scores


@pytest.mark.parametrize("case", [*_cases("senses.yaml"), *_cases("news.yaml")])
def test_senses_and_false_friends(classifier: Classifier, case: dict[str, Any]) -> None:
    result = classifier.classify(title="", text=case["text"])
    assert list(result.tags) == case["tags"], result.evidence


@pytest.mark.parametrize("case", _cases("error_classes.yaml"))
def test_classes_of_error(classifier: Classifier, case: dict[str, Any]) -> None:
    """Each class of error stays fixed, and a tag names the term and sentence that carry it."""
    result = classifier.classify(title="", text=case["text"])
    assert list(result.tags) == case["tags"], result.evidence
    for evidence in result.evidence:
        assert evidence.sentence.strip() == case["text"]
        assert evidence.matched in case["text"]
    for topic, term in case.get("evidence", {}).items():
        assert [e.term for e in result.evidence if e.topic == topic] == [term], result.evidence


def test_evidence_offsets_point_at_the_original_text(classifier: Classifier) -> None:
    title = "تقرير"
    text = "قال المتحدث.\nوقد شَنَّتْ الطائراتُ غاراتٍ جَوِّيَّةً على مواقعِ المسلحين في المدينة."
    result = classifier.classify(title=title, text=text)
    (evidence,) = [item for item in result.evidence if item.topic == "strikes"]
    assert evidence.field == "text"
    assert text[evidence.start : evidence.end] == evidence.matched
    assert evidence.matched.startswith("غاراتٍ")
    assert evidence.sentence == "وقد شَنَّتْ الطائراتُ غاراتٍ جَوِّيَّةً على مواقعِ المسلحين في المدينة"


def test_evidence_in_the_title_with_a_ligature_before_it(classifier: Classifier) -> None:
    title = "ﻻ تراجع: القوات تنسحب من المدينة"
    result = classifier.classify(title=title, text="")
    (evidence,) = result.evidence
    assert evidence.field == "title"
    assert title[evidence.start : evidence.end] == "تنسحب"


def test_scores_are_probabilities_and_tags_follow_the_threshold(classifier: Classifier) -> None:
    result = classifier.classify(title="", text="استهدف هجوم موقعا للجيش")
    assert set(result.scores) == set(classifier.topics)
    assert all(0.0 <= score <= 1.0 for score in result.scores.values())
    threshold = classifier.compiled.thresholds["strikes"]
    assert ("strikes" in result.tags) == (result.scores["strikes"] >= threshold)


def test_entities_have_stable_ids_and_counts(classifier: Classifier) -> None:
    text = (
        "قصفت الطائرات التركية مواقع لتنظيم داعش قرب الموصل، وقال مسؤول عراقي إن عناصر "
        "الدولة الإسلامية فروا. وأكد حلف الناتو وحزب الله والحشد الشعبي مواقفهم في تركيا."
    )
    entities = {entity.id: entity for entity in classifier.classify(title="", text=text).entities}
    assert entities["country:tr"].mentions == 2  # التركية and تركيا
    assert entities["group:isis"].mentions == 2  # داعش and الدولة الإسلامية, counted once each
    assert entities["place:mosul"].kind == "place"
    assert {"alliance:nato", "group:hezbollah", "group:pmf", "country:iq"} <= set(entities)


@pytest.mark.parametrize(
    ("seed", "topic"),
    [
        ("000_ba543e6c3f13ccc4.txt", "withdrawal"),  # the coalition's mission in Iraq ends
        ("001_a96cf1145acc075f.txt", "withdrawal"),  # US troops leave, the combat role ends
        ("003_ebcacb89700a50ef.txt", "training"),  # NATO's training and advisory mission
        ("004_5329c45406d8fce6.txt", "withdrawal"),  # the coalition to leave Iraqi territory
    ],
)
def test_seed_articles(classifier: Classifier, seed: str, topic: str) -> None:
    from classifier_service.articles import article_from_file

    article = article_from_file(seed, (SEEDS / seed).read_bytes())
    result = classifier.classify(title=article.title, text=article.text)
    assert topic in result.tags
    for evidence in result.evidence:
        source = article.title if evidence.field == "title" else article.text
        assert source[evidence.start : evidence.end] == evidence.matched


def test_seed_about_cooperation_only_is_not_withdrawal(classifier: Classifier) -> None:
    from classifier_service.articles import article_from_file

    seed = "002_61a5190aac8f717e.txt"
    article = article_from_file(seed, (SEEDS / seed).read_bytes())
    assert "withdrawal" not in classifier.classify(title=article.title, text=article.text).tags


def _seed_result(classifier: Classifier, seed: str) -> Classification:
    from classifier_service.articles import article_from_file

    article = article_from_file(seed, (SEEDS / seed).read_bytes())
    return classifier.classify(title=article.title, text=article.text)


def test_counter_ied_training_is_not_a_strike_but_struck_targets_are(classifier: Classifier) -> None:
    # "counter-IED" in a list of training subjects is training; "struck 1,400 targets" is a strike.
    result = _seed_result(classifier, "000_ba543e6c3f13ccc4.txt")
    (evidence,) = [item for item in result.evidence if item.topic == "strikes"]
    assert "العبوات" not in evidence.matched
    assert "1400" in evidence.sentence


def test_vague_security_blows_are_not_strikes(classifier: Classifier) -> None:
    # Seed 003 speaks of "الضربات الأمنية" (security blows) only; its withdrawal is ISIS forced to pull out.
    result = _seed_result(classifier, "003_ebcacb89700a50ef.txt")
    assert "strikes" not in result.tags
    assert "withdrawal" in result.tags
