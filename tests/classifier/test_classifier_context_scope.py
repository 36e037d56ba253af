"""A term whose context may be in the sentence before its own (``context_scope: previous_sentence``):
the verb carries its subject as a pronoun, the subject is named a sentence earlier. Its exclusions
reach back as far, nothing reaches two sentences back, and its evidence shows both sentences when the
sentence before is what made it count."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier_service.classifier import Classifier
from classifier_service.loading import compile_files
from shared.gazetteer import PACKAGED_GAZETTEER

TAXONOMY = """
version: "test"
window: 6
lexicons:
  fighters: [المسلحين, مسلحي, الميليشيات]
topics:
  withdrawal:
    exclude: [من الاتفاق]
    terms:
      - term: انسحبوا
        variants: [فروا]
        exact: true
        weight: 0.6
        window: 0
        context: [fighters]
        also: [اشتباكات, طرد]
        exclude: [المدنيين]
        context_scope: {scope}
"""


def _classifier(tmp_path: Path, scope: str) -> Classifier:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(TAXONOMY.replace("{scope}", scope), encoding="utf-8")
    return Classifier(compile_files(path, PACKAGED_GAZETTEER.resolve()))


@pytest.fixture
def reaching(tmp_path: Path) -> Classifier:
    return _classifier(tmp_path, "previous_sentence")


def test_context_in_the_sentence_before_counts_and_its_evidence_shows_both(reaching: Classifier) -> None:
    both = "قال الأهالي إن اشتباكات عنيفة دارت مع المسلحين في البلدة. وقد انسحبوا باتجاه الصحراء"
    text = f"وصل الصحفيون. {both}. وعاد الهدوء"
    (evidence,) = reaching.classify(title="", text=text).evidence
    assert evidence.term == "انسحبوا"
    assert text[evidence.start : evidence.end] == "انسحبوا"
    assert evidence.sentence == both


def test_the_evidence_is_the_own_sentence_when_that_holds_the_context(reaching: Classifier) -> None:
    text = "وصل الصحفيون إلى البلدة. وبعد اشتباكات مع المسلحين انسحبوا باتجاه الصحراء"
    (evidence,) = reaching.classify(title="", text=text).evidence
    assert evidence.sentence == "وبعد اشتباكات مع المسلحين انسحبوا باتجاه الصحراء"


def test_the_context_may_be_split_between_the_two_sentences(reaching: Classifier) -> None:
    text = "تمكنت القوات من طرد الميليشيات.\n\nوقد فروا جنوبا"
    result = reaching.classify(title="", text=text)
    assert result.tags == ("withdrawal",)
    assert result.evidence[0].sentence == "تمكنت القوات من طرد الميليشيات.\n\nوقد فروا جنوبا"


def test_nothing_reaches_two_sentences_back(reaching: Classifier) -> None:
    text = "اندلعت اشتباكات مع المسلحين. ثم وصل الصحفيون. وقد انسحبوا باتجاه الصحراء"
    assert reaching.classify(title="", text=text).tags == ()


def test_exclusions_reach_back_as_far_as_the_context(reaching: Classifier) -> None:
    for text in (
        "اندلعت اشتباكات مع المسلحين وسط المدنيين. وقد فروا باتجاه الصحراء",
        "اندلعت اشتباكات مع المسلحين بعد انسحابهم من الاتفاق. وقد انسحبوا من البلدة",
    ):
        assert reaching.classify(title="", text=text).tags == (), text


def test_a_term_of_its_own_sentence_does_not_look_back(tmp_path: Path) -> None:
    own = _classifier(tmp_path, "sentence")
    assert own.classify(title="", text="اندلعت اشتباكات مع المسلحين. وقد انسحبوا باتجاه الصحراء").tags == ()
    text = "وصل الصحفيون. وبعد اشتباكات مع المسلحين انسحبوا"
    assert own.classify(title="", text=text).evidence[0].sentence == "وبعد اشتباكات مع المسلحين انسحبوا"
