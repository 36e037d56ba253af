"""Splitting a word into clitics, stem and ending at match time finds exactly the words whose
written forms (:func:`surface_forms`, the expansion the index does not store) include it."""

from __future__ import annotations

from collections import defaultdict

import pytest

from classifier_service.classifier import Classifier
from classifier_service.loading import load_classifier
from classifier_service.matching import _SCANNED_SECONDS, _SHARED_POSITIONS, Matcher
from classifier_service.phrases import PhraseIndex
from shared.forms import EXACT, NAME, PLAIN, key_forms, stem_forms, stem_of, word_key


def surface_forms(word: str, *, exact: bool = False, name: bool = False) -> frozenset[str]:
    """Every written form of a folded phrase ``word`` that counts as the word itself, worked out
    from the word (not from its key)."""
    if exact:
        return frozenset({word})
    return stem_forms(stem_of(word), name=name)


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return load_classifier()


def test_every_written_form_resolves_to_exactly_its_words(classifier: Classifier) -> None:
    literal, plain, names, feminine, *_ = classifier.compiled.index
    matcher = Matcher(classifier.compiled.index)
    keys: dict[int, tuple[str, int]] = {}
    for form, ids in literal.items():
        for word_id in ids:
            keys.setdefault(word_id, (form, EXACT))
    keys.update({word_id: (stem, NAME) for stem, word_id in names.items()})
    keys.update({word_id: (stem, PLAIN) for stem, word_id in plain.items()})
    expected: defaultdict[str, set[int]] = defaultdict(set)
    for word_id, key in keys.items():
        if key[1] != EXACT:
            for form in key_forms(key):
                expected[form].add(word_id)
    for form, ids in literal.items():
        expected[form].update(ids)
    assert feminine  # ta marbuta stems are looked up without their ه
    for form, word_ids in expected.items():
        assert set(matcher.word_ids(form)) == word_ids, form


@pytest.mark.parametrize(
    ("word", "exact", "name"),
    [
        ("الهجوم", False, False),
        ("قوه", False, False),
        ("تركيا", False, True),
        ("في", False, True),
        ("داعش", True, False),
    ],
)
def test_word_keys_have_the_forms_of_the_word(word: str, exact: bool, name: bool) -> None:
    assert key_forms(word_key(word, exact=exact, name=name)) == surface_forms(word, exact=exact, name=name)


def test_a_phrase_is_found_through_its_clitics_and_endings() -> None:
    index = PhraseIndex()
    index.add("القوة الجوية", owner=0)
    index.add("قوة", owner=1)
    matcher = Matcher(index.compile(lambda owner: ((owner,), (), ())))
    terms, _, _ = matcher.find_sorted(["وقواتها", "الجويه", "و", "للقوه", "سقوه", "للالقوه"])
    assert terms == [(1, 0, 1), (0, 0, 2), (1, 3, 4)]


def test_a_long_continuation_is_looked_up_as_it_would_be_scanned(classifier: Classifier) -> None:
    matcher = Matcher(classifier.compiled.index)
    continuations = classifier.compiled.index[5]
    long = [number for number, (_, seconds) in enumerate(continuations) if len(seconds) > _SCANNED_SECONDS]
    assert long
    for continuation in long:
        seconds = continuations[continuation][1]
        second_ids = sorted({second for second, _ in seconds})
        asked = [(second,) for second in second_ids]
        asked += [tuple(second_ids[:3]), tuple(second_ids[-2:]), (second_ids[0], 1 << 30), (1 << 30,)]
        for word_ids in asked:
            scanned = [entry for entry in seconds if entry[0] in word_ids]
            assert matcher._seconds_among(continuation, word_ids) == scanned


def test_a_phrase_ends_at_the_last_word_and_one_past_it_is_not_found() -> None:
    index = PhraseIndex()
    index.add("القوة الجوية الروسية", owner=0)
    index.add("القوة الجوية", owner=1)
    index.add("قوة", owner=2)
    matcher = Matcher(index.compile(lambda owner: ((owner,), (), ())))
    # A phrase word that is no second word of the word before it (الروسيه after القوه) starts none.
    words = ["القوه", "الروسيه", "القوه", "الجويه", "الروسيه", "القوه", "الجويه"]
    terms, _, _ = matcher.find_sorted(words)
    assert terms == [(2, 0, 1), (2, 2, 3), (0, 2, 5), (1, 2, 4), (2, 5, 6), (1, 5, 7)]
    assert matcher.find_sorted(words[:1]) == ([(2, 0, 1)], {}, [])
    assert matcher.find_sorted([]) == ([], {}, [])


def test_group_occurrences_are_the_same_after_a_shorter_and_a_longer_field() -> None:
    index = PhraseIndex()
    index.add("قوة", owner=0)
    index.add("القوة الجوية", owner=1)
    matcher = Matcher(index.compile(lambda owner: ((), (owner,), ())))
    assert matcher.find_sorted(["القوه"]) == ([], {0: [(0, 1)]}, [])
    words = ["و", "القوه", "الجويه", "قوه"]
    assert matcher.find_sorted(words) == ([], {0: [(1, 2), (3, 4)], 1: [(1, 3)]}, [])
    assert matcher.find_sorted(words[1:]) == ([], {0: [(0, 1), (2, 3)], 1: [(0, 2)]}, [])


def test_a_field_longer_than_the_shared_positions_is_matched_and_leaves_them_as_they_were() -> None:
    index = PhraseIndex()
    index.add("قوة", owner=0)
    index.add("القوة الجوية", owner=1)
    matcher = Matcher(index.compile(lambda owner: ((owner,), (owner,), ())))
    filler = ["في"] * _SHARED_POSITIONS
    words = [*filler, "القوه", "الجويه", "قوه"]
    end = len(filler)
    terms, groups, _ = matcher.find_sorted(words)
    assert terms == [(0, end, end + 1), (1, end, end + 2), (0, end + 2, end + 3)]
    assert groups == {0: [(end, end + 1), (end + 2, end + 3)], 1: [(end, end + 2)]}
    # The long field's positions were its own: those shared stay as short as the fields before.
    assert len(matcher._positions) == len(matcher._spans) == 0
    assert matcher.find_sorted(["قوه"]) == ([(0, 0, 1)], {0: [(0, 1)]}, [])
    assert len(matcher._spans) == 1
