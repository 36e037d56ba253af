"""What is remembered while one article is weighed (each term's conditions present in a field, each
token's sentence) and the light stemming of context words answer as worked out afresh."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from classifier_service import features
from classifier_service.articles import article_from_file
from classifier_service.features import _PREFIXES, _SUFFIXES, light_stem
from classifier_service.loading import load_classifier
from classifier_service.scoring import FieldMatches, verdict
from classifier_service.tokens import FieldWords

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def light_stem_by_definition(word: str) -> str:
    """The first proclitic of the ordered list leaving three letters, then the first ending so."""
    for prefix in _PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 3:
            word = word[len(prefix) :]
            break
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def test_light_stem_takes_the_affixes_the_ordered_lists_give() -> None:
    stems = ("ا", "اب", "ابت", "كتاب", "هما", "والي", "لله")
    for stem in stems:
        for prefix in ("", *_PREFIXES):
            for suffix in ("", *_SUFFIXES):
                word = prefix + stem + suffix
                assert light_stem(word) == light_stem_by_definition(word), word


def test_context_words_are_named_by_their_stems_when_the_memory_is_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(features, "_NAMES_SIZE", 2)
    words = ["والحرب", "الحرب", "بالصواريخ", "والحرب", "صواريخهم", "ا"]
    for prefix, names in features._NAMES.items():
        assert [names[word] for word in words] == [prefix + light_stem(word) for word in words]
        assert len(names) <= 2 and len(features._STEMS) <= 2


def fresh(found: FieldMatches) -> FieldMatches:
    """The same matches, with nothing remembered yet."""
    words = FieldWords(found.words.name, found.words.normalized, found.words.tokens)
    return FieldMatches(words, found.terms, found.groups, found.entities, found.longest)


def test_verdicts_and_sentences_are_those_worked_out_afresh() -> None:
    classifier = load_classifier()
    checked = 0
    for seed in sorted(SEEDS.glob("*.txt")):
        article = article_from_file(seed.name, seed.read_bytes())
        for found in classifier.hits(classifier.read(title=article.title, text=article.text)).fields:
            for match in found.terms:
                term = classifier.compiled.terms[match[0]]
                # Asked twice of the same field (the second answer remembered), once of a fresh one.
                assert verdict(term, match, found) == verdict(term, match, fresh(found))
                assert found.words.sentence_around(match[1]) == fresh(found).words.sentence_around(match[1])
                checked += 1
    assert checked > 20


def test_another_term_under_the_same_id_is_not_answered_from_memory() -> None:
    classifier = load_classifier()
    seed = sorted(SEEDS.glob("*.txt"))[0]
    article = article_from_file(seed.name, seed.read_bytes())
    fields = classifier.hits(classifier.read(title=article.title, text=article.text)).fields
    found, match = next((found, match) for found in fields for match in found.terms)
    term = classifier.compiled.terms[match[0]]
    assert verdict(term, match, found) != "no_context"
    # The same term needing a context no field holds is stopped for want of it.
    needy = replace(term, context=frozenset({-1}), exclude=frozenset(), topic_exclude=frozenset())
    assert verdict(needy, match, found) == "no_context"
