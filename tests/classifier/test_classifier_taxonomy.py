"""The taxonomy file: malformed files are refused with line and reason; new topics need no code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from classifier_service.errors import TaxonomyError
from classifier_service.loading import load_classifier
from classifier_service.taxonomy import PACKAGED_TAXONOMY, load_taxonomy

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "classifier"

CEASEFIRE_TOPIC = """
  ceasefire:
    description: A truce between armed parties.
    threshold: 0.6
    terms:
      - term: وقف إطلاق النار
        variants: [هدنة, وقف القتال]
        weight: 0.7
        exclude: [خرق, انتهاك]
"""


def _cases() -> list[Any]:
    cases: list[dict[str, Any]] = yaml.safe_load(
        (FIXTURES / "bad_taxonomies.yaml").read_text(encoding="utf-8")
    )
    return [pytest.param(case, id=case["name"]) for case in cases]


@pytest.mark.parametrize("case", _cases())
def test_a_malformed_taxonomy_names_line_and_reason(tmp_path: Path, case: dict[str, Any]) -> None:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(case["content"], encoding="utf-8")
    with pytest.raises(TaxonomyError) as raised:
        load_taxonomy(path)
    assert raised.value.line == case["line"], str(raised.value)
    assert case["reason"] in raised.value.reason
    assert str(raised.value).startswith(f"{path}:{case['line']}: ")


def test_the_packaged_taxonomy_is_valid() -> None:
    taxonomy = load_taxonomy(PACKAGED_TAXONOMY)
    assert set(taxonomy.topics) == {"withdrawal", "training", "strikes"}


def _with_ceasefire(tmp_path: Path) -> Path:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(PACKAGED_TAXONOMY.read_text(encoding="utf-8") + CEASEFIRE_TOPIC, encoding="utf-8")
    return path


def test_a_topic_added_in_the_file_works_without_code(tmp_path: Path) -> None:
    classifier = load_classifier(_with_ceasefire(tmp_path))
    assert classifier.topics == ("withdrawal", "training", "strikes", "ceasefire")
    agreed = classifier.classify(title="", text="أعلن الطرفان التوصل إلى هدنة تبدأ منتصف الليل")
    assert agreed.tags == ("ceasefire",)
    assert agreed.evidence[0].term == "وقف إطلاق النار"
    assert agreed.evidence[0].matched == "هدنة"
    broken = classifier.classify(title="", text="اتهم الجيش المسلحين بخرق الهدنة")
    assert "ceasefire" not in broken.tags


EXPULSION_TOPIC = """
  expulsion:
    terms:
      - term: طرد
        weight: 0.7
        window: 0
        context: [قرار, طالب]
        also: [القوات, المسلحين]
        also_window: 2
"""


def test_a_term_with_a_second_condition_needs_both(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(PACKAGED_TAXONOMY.read_text(encoding="utf-8") + EXPULSION_TOPIC, encoding="utf-8")
    classifier = load_classifier(path)
    both = classifier.classify(title="", text="طالب النواب في جلسة أمس بطرد القوات الأجنبية")
    assert "expulsion" in both.tags
    assert both.evidence[-1].term == "طرد"
    # The demand without forces near the verb, and forces near it without a demand.
    assert "expulsion" not in classifier.classify(title="", text="طالب النواب بطرد السفير").tags
    assert "expulsion" not in classifier.classify(title="", text="جرى طرد القوات الأجنبية").tags
    # The forces are named, but too far from the verb.
    far = "طالب النواب بطرد كل من دخل البلاد بلا إذن من القوات"
    assert "expulsion" not in classifier.classify(title="", text=far).tags


def test_the_version_changes_with_the_file(tmp_path: Path) -> None:
    packaged = load_classifier()
    custom = load_classifier(_with_ceasefire(tmp_path))
    version = load_taxonomy(PACKAGED_TAXONOMY).version
    assert packaged.version.startswith(f"{version}+")
    assert custom.version.startswith(f"{version}+")
    assert custom.version != packaged.version


def test_the_environment_variable_selects_the_taxonomy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from classifier_service.settings import classifier_settings

    path = _with_ceasefire(tmp_path)
    monkeypatch.setenv("RASID_TAXONOMY_PATH", str(path))
    classifier_settings.cache_clear()
    try:
        assert "ceasefire" in load_classifier().topics
    finally:
        classifier_settings.cache_clear()


def test_classifiers_are_cached_per_path(tmp_path: Path) -> None:
    path = _with_ceasefire(tmp_path)
    assert load_classifier(path) is load_classifier(path)
