"""Arabic normalization: each character class folds as documented, and offsets map back."""

from __future__ import annotations

import itertools
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.arabic import (
    _MAYBE_UNSTABLE,
    _RARE,
    _RARE_LETTER_MAP,
    _REMOVED,
    _REMOVED_CHARACTERS,
    _REMOVED_CLASS,
    _REMOVED_MAYBE_CHANGED,
    NOT_PLAIN,
    _fold_common_letters,
    _fold_letters,
    _normalize_stable,
    _removed_runs,
    fold,
    normalize,
    normalize_plainly,
    sentences,
    words,
)

FIXTURES = Path(__file__).parent / "fixtures" / "arabic"


def _cases(name: str) -> list[Any]:
    cases: list[dict[str, str]] = yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))
    return [pytest.param(case, id=case["name"]) for case in cases]


@pytest.mark.parametrize("case", _cases("folding.yaml"))
def test_folding(case: dict[str, str]) -> None:
    assert fold(case["original"]) == case["folded"]
    assert normalize(case["original"]).text == case["folded"]


@pytest.mark.parametrize("case", _cases("offsets.yaml"))
def test_offsets_map_back_to_the_original(case: dict[str, str]) -> None:
    normalized = normalize(case["original"])
    start = normalized.text.index(case["word"])
    original_start, original_end = normalized.to_original(start, start + len(case["word"]))
    assert case["original"][original_start:original_end] == case["expected"]


@pytest.mark.parametrize("case", _cases("folding.yaml"))
def test_every_folded_character_maps_inside_the_original(case: dict[str, str]) -> None:
    normalized = normalize(case["original"])
    for index in range(len(normalized.text)):
        start, end = normalized.to_original(index, index + 1)
        assert 0 <= start < end <= len(case["original"])
        assert fold(case["original"][start:end])  # the span holds what produced the character


def test_a_span_outside_the_text_is_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        normalize("قصف").to_original(0, 9)


def test_empty_span_and_empty_text() -> None:
    assert normalize("").text == ""
    assert normalize("قصف").to_original(1, 1) == (1, 1)


def test_words_carry_offsets_into_the_normalized_text() -> None:
    text = normalize("قال: «انسحبت القوات» من المدينة.").text
    found = words(text)
    assert [word for word, _, _ in found] == ["قال", "انسحبت", "القوات", "من", "المدينه"]
    assert all(text[start:end] == word for word, start, end in found)


def test_sentences_split_on_stops_and_line_breaks() -> None:
    text = "قصفت الطائرات المدينة. وانسحب المسلحون؟\nالسطر الثالث"
    assert [text[start:end].strip() for start, end in sentences(text)] == [
        "قصفت الطائرات المدينة",
        "وانسحب المسلحون",
        "السطر الثالث",
    ]


@pytest.mark.parametrize(
    "text",
    ["", "بلا علامات", "القُوَّاتُ", "ـــــ", "a\u200b\u200f\ufeffb", "\u064b\u064c x \u0670\u06d6", "مـُـدن"],
)
def test_removed_runs_are_the_runs_of_the_removed_class(text: str) -> None:
    runs = re.compile(f"[{_REMOVED_CLASS}]+")
    found = [match.span() for match in _REMOVED.finditer(text)]
    assert found == [match.span() for match in runs.finditer(text)]


def test_the_removed_characters_are_those_of_the_removed_class() -> None:
    removed = {chr(code) for code in range(sys.maxunicode + 1) if _REMOVED.match(chr(code))}
    assert removed == _REMOVED_CHARACTERS


def test_plain_characters_fold_by_the_common_letter_changes_alone() -> None:
    plain = [chr(code) for code in range(sys.maxunicode + 1) if not NOT_PLAIN.match(chr(code))]
    assert "ا" in plain and "،" in plain and "\u064b" not in plain and "\u00a0" not in plain
    for character in plain:
        assert unicodedata.normalize("NFKC", character) == character
        assert not _REMOVED.search(character) and not _RARE.search(character)


@pytest.mark.parametrize("text", ["", "قال الوزير، إن القوات «انسحبت» – 50%؟\nنعم", "أإآى ة"])
def test_a_plain_text_is_normalized_as_any_other(text: str) -> None:
    assert not NOT_PLAIN.search(text)
    assert normalize_plainly(text) == _normalize_stable(text, text) == (normalize(text), True)


@pytest.mark.parametrize(
    "text",
    [
        "قال الوزير إن القوات انسحبت ثم عادَت",
        "قال الوزير\u00a0إن القوات ـ انسحبت",
        "سطر أول.\nسطر ثان فيه ی و ک و ٣ وَ\u200fعلامة",
        "\u064bفي أوله",
    ],
)
def test_a_text_plain_up_to_a_point_is_folded_from_there_as_from_its_start(text: str) -> None:
    assert NOT_PLAIN.search(text)
    spaced = text.replace("\u00a0", " ")
    assert normalize_plainly(text) == _normalize_stable(text, spaced)
    assert normalize(text).text == fold(text)


# Generated texts: Arabic letters with their marks and presentation forms, Persian letters, digits of
# three scripts, every kind of space and line break, joiners and bidi marks, Latin, controls, emoji.
_ODD_CHARACTERS = (
    "ابتثجحخدذرسشصضطظعغفقكلمنهويءأإآٱىةؤئ"
    "\u0610\u0615\u064b\u064e\u0651\u0652\u0653\u0654\u0655\u065f\u0670\u06d6\u06ed\u0640"
    "\ufe8d\ufef5\ufefb\ufdf2\ufb8e\ufbfc"
    "یېےکڪہھەۀۃپچگ0٠۰9٩۹"
    " \n\r\t\v\f\x85\x1c\u00a0\u2028\u2029\u3000\u202f\u200b\u200c\u200d\u200e\u200f\ufeff\u061c\u202b\u2067"
    "aZé\u0301ñ.!?؟،؛٪«»–—‘’“”…\x00\x7f\U0001f600\ufe0f"
)
_PLAIN_CHARACTERS = "ابتثجحخدذرسشصضطظعغفقكلمنهويءأإآٱىةؤئ \n aZ09.!?:-\"'،؛؟٪«»–—‘’“”"


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=_PLAIN_CHARACTERS, max_size=60))
def test_the_plain_fast_path_gives_what_the_general_path_gives(text: str) -> None:
    assert normalize_plainly(text) == _normalize_stable(text, text)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=_ODD_CHARACTERS, max_size=60))
def test_normalized_text_is_the_folded_text_and_maps_inside_the_original(text: str) -> None:
    normalized = normalize(text)
    assert normalized.text == fold(text)
    for index in range(len(normalized.text)):
        start, end = normalized.to_original(index, index + 1)
        assert 0 <= start < end <= len(text)


def _assert_told_plain_rightly(text: str) -> None:
    """A folded text told plain holds only plain characters; one that NFKC leaves alone (no-break
    spaces aside) is told plain exactly when each of its characters is plain, removed or rare."""
    normalized, plain = normalize_plainly(text)
    assert normalized == normalize(text)
    if plain:
        assert not NOT_PLAIN.search(normalized.text)
    spaced = text.replace("\u00a0", " ")
    if unicodedata.is_normalized("NFKC", spaced):
        folding = _REMOVED_CHARACTERS | set(_RARE_LETTER_MAP)
        folds_plain = all(not NOT_PLAIN.match(character) or character in folding for character in spaced)
        assert plain == folds_plain


@pytest.mark.parametrize("case", _cases("folding.yaml"))
def test_a_folded_text_is_told_plain_rightly(case: dict[str, str]) -> None:
    _assert_told_plain_rightly(case["original"])


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet=_ODD_CHARACTERS + _PLAIN_CHARACTERS + "'*+[]\\_", max_size=60))
def test_a_generated_text_is_told_plain_rightly(text: str) -> None:
    _assert_told_plain_rightly(text)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=_ODD_CHARACTERS, max_size=60))
def test_rare_letters_replaced_one_by_one_are_the_letters_translated(text: str) -> None:
    translated = _fold_common_letters(text).translate(str.maketrans(_RARE_LETTER_MAP))
    assert _fold_letters(text) == translated


# Characters NFKC may leave alone, by ``_MAYBE_UNSTABLE``: the marks among them, and the letters that
# NFKC takes apart and puts back together (a letter and a hamza or madda mark).
_KEPT_BY_NFKC = [chr(code) for code in range(sys.maxunicode + 1) if not re.match(_MAYBE_UNSTABLE, chr(code))]
_KEPT_MARKS = [character for character in _KEPT_BY_NFKC if unicodedata.combining(character)]
_KEPT_COMPOSED = [character for character in _KEPT_BY_NFKC if unicodedata.decomposition(character)]


def test_nfkc_of_characters_it_may_leave_alone_only_reorders_removed_marks() -> None:
    assert _KEPT_MARKS and set(_KEPT_MARKS) <= _REMOVED_CHARACTERS
    assert set(_KEPT_COMPOSED) == set("آأؤإئۀۂۓ")
    for first in _KEPT_BY_NFKC:
        assert unicodedata.normalize("NFKC", first) == first
        for second in _KEPT_BY_NFKC:
            pair = first + second
            swapped = second + first if first in _KEPT_MARKS and second in _KEPT_MARKS else pair
            assert unicodedata.normalize("NFKC", pair) in (pair, swapped), repr(pair)


@pytest.mark.parametrize("letter", _KEPT_COMPOSED)
def test_a_letter_nfkc_takes_apart_is_put_back_before_its_marks(letter: str) -> None:
    for first, second in itertools.product(_KEPT_MARKS, repeat=2):
        marks = sorted(first + second, key=unicodedata.combining)
        assert unicodedata.normalize("NFKC", letter + first + second) == letter + "".join(marks)


# Marks out of order after letters, most of the time, and any of the characters.
_KEPT_ALPHABET = st.sampled_from([*_KEPT_MARKS, *_KEPT_COMPOSED, *"ابةى ـ\n.a"]) | st.sampled_from(
    _KEPT_BY_NFKC
)


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet=_KEPT_ALPHABET, max_size=30))
def test_a_text_of_characters_nfkc_may_leave_alone_folds_as_it_stands(text: str) -> None:
    assert _REMOVED.sub("", unicodedata.normalize("NFKC", text)) == _REMOVED.sub("", text)
    assert normalize(text).text == fold(text)


def test_the_removed_characters_nfkc_may_change_are_those_of_the_unstable_class() -> None:
    assert {character for character in _REMOVED_CHARACTERS if re.match(_MAYBE_UNSTABLE, character)} == set(
        _REMOVED_MAYBE_CHANGED
    )
    plain = [chr(code) for code in range(0x10000) if not NOT_PLAIN.match(chr(code))]
    assert not [
        character for character in [*plain, *_RARE_LETTER_MAP] if re.match(_MAYBE_UNSTABLE, character)
    ]


def _assert_left_alone_only_when_nfkc_leaves_it(text: str) -> None:
    first = NOT_PLAIN.search(text)
    if first is not None and _removed_runs(text, first.start()).left_alone:
        assert unicodedata.is_normalized("NFKC", text), repr(text)


@settings(max_examples=1000, deadline=None)
@given(text=st.text(alphabet=_KEPT_ALPHABET, max_size=30))
def test_a_text_of_marks_is_told_left_alone_by_nfkc_only_when_it_is(text: str) -> None:
    _assert_left_alone_only_when_nfkc_leaves_it(text)


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet=_ODD_CHARACTERS + _PLAIN_CHARACTERS, max_size=60))
def test_any_text_is_told_left_alone_by_nfkc_only_when_it_is(text: str) -> None:
    _assert_left_alone_only_when_nfkc_leaves_it(text)


@pytest.mark.parametrize(
    "text", ["قال", "القُوَّاتُ", "مـُـدن", "إِنَّ", "أَُ", "x\u200f\u064b\u0651y", "ب\u0651\u064e", "ا\u0654"]
)
def test_marks_in_canonical_order_and_not_composing_are_told_left_alone(text: str) -> None:
    assert _removed_runs(text, 0).left_alone == unicodedata.is_normalized("NFKC", text)
