"""The shortcuts reading takes for most articles give what the plain definitions give, for any text.

``letter_counts`` counts bytes when a text holds only ASCII, the Arabic block and a few marks,
``normalize_text`` and ``check_document`` skip a scan when a text is printable but for its line feeds,
and folding finds the removed marks and the rare letters in one scan;
each is checked here against the definition it shortcuts, on random texts built from the characters
that decide which way is taken (and on the ones that send a text the long way).
"""

from __future__ import annotations

import random
import re
import sys
import unicodedata
from functools import partial

import pytest

from shared.arabic import _RARE_LETTER_MAP, _REMOVED_CLASS, Normalized, _normalize_stable, fold
from shared.decoding import letter_counts
from shared.documents import normalize_text

_NON_LETTERS = re.compile(r"[\W\d_]+")
_NOT_ARABIC_BLOCKS = re.compile("[^\u0600-\u06ff\u0750-\u077f\ufb50-\ufefc]+")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")

# The Arabic block, ASCII, the marks counted without a scan, and characters that are not: Arabic
# Supplement and presentation forms, Latin letters with accents, digits of other scripts, odd spaces,
# controls, a lone surrogate and a letter outside the Basic Multilingual Plane.
_POOL = (
    [chr(code) for code in range(0x0600, 0x0700)]
    + list(" \n\tabcxyzXYZ0189_.,:;!?-\u00a0\u00ab\u00bb\u2013\u2014\u2018\u2019\u201c\u201d\u2022\u2026")
    + list("\u200e\u200f\u200b\u0750\u077f\ufb50\ufefc\u00e9\u00c0\u0966\u00b2\u2002\u3000\r\x0b\x1c\x85")
    + list("\x00\x07\x7f\x9f\ufeff\ud800\U0001d400\u0130")
)


def _texts(seed: int, count: int, *, longest: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(_POOL, k=rng.randint(0, longest))) for _ in range(count)]


def _letter_counts_by_definition(text: str) -> tuple[int, int]:
    letters = _NON_LETTERS.sub("", text)
    return len(letters), len(_NOT_ARABIC_BLOCKS.sub("", letters))


def _normalized_by_definition(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = _SPACES.sub(" ", text).replace(" \n", "\n").replace("\n ", "\n")
    return _BLANK_LINES.sub("\n\n", text).strip()


@pytest.mark.parametrize("seed", range(4))
def test_letter_counts_are_the_counts_of_letters_and_arabic_letters(seed: int) -> None:
    for text in _texts(seed, 5_000, longest=40):
        assert letter_counts(text) == _letter_counts_by_definition(text), repr(text)


def test_letter_counts_of_arabic_with_marks_digits_and_latin_names() -> None:
    text = "قالَ المتحدثُ باسم الـجيش (IDF) إنّ ٣ صواريخ و12 قذيفة سقطت — «لا إصابات»…\n"
    assert letter_counts(text) == _letter_counts_by_definition(text)
    assert letter_counts("") == (0, 0)
    assert letter_counts("Gaza غزة") == (7, 3)


@pytest.mark.parametrize("seed", range(4))
def test_normalized_text_is_the_definition(seed: int) -> None:
    for text in _texts(seed, 5_000, longest=40):
        assert normalize_text(text) == _normalized_by_definition(text), repr(text)


def test_every_whitespace_character_but_the_space_and_every_control_is_unprintable() -> None:
    """What lets a text printable but for its line feeds skip collapsing spaces and counting controls."""
    for code in range(sys.maxunicode + 1):
        character = chr(code)
        if (character.isspace() and character != " ") or re.fullmatch("[\x00-\x1f\x7f-\x9f]", character):
            assert not character.isprintable(), f"U+{code:04X}"


# Letters, the removed marks and controls, and the rare letters and digits, side by side.
_FOLDED_POOL = [
    *"ابتهة أى ",
    *(chr(code) for code in range(0x10000) if re.fullmatch(f"[{_REMOVED_CLASS}]", chr(code))),
    *_RARE_LETTER_MAP,
]


def _stable_by_definition(text: str) -> Normalized:
    """One block per run of removed characters, aligned pieces between; every letter folded."""
    runs = [match.span() for match in re.finditer(f"[{_REMOVED_CLASS}]+", text)]
    if not runs:
        return Normalized(text, fold(text), (0,), (0,), (True,))
    piece_starts, original_starts, aligned = [0], [0], [True]
    removed = 0
    for start, end in runs:
        piece_starts += (start - removed, start - removed)
        original_starts += (start, end)
        aligned += (False, True)
        removed += end - start
    return Normalized(text, fold(text), tuple(piece_starts), tuple(original_starts), tuple(aligned))


@pytest.mark.parametrize("seed", range(4))
def test_one_scan_finds_the_removed_runs_and_the_rare_letters(seed: int) -> None:
    """Removed runs and rare letters are found in one scan, a rare letter starting a match of its own;
    the folded text is told plain (each character of the pool is plain, removed or a rare letter)."""
    rng = random.Random(seed)
    texts = ("".join(rng.choices(_FOLDED_POOL, k=rng.randint(0, 30))) for _ in range(5_000))
    # The fast way is taken by texts that NFKC leaves alone (the marks that compose are left out).
    for text in filter(partial(unicodedata.is_normalized, "NFKC"), texts):
        assert _normalize_stable(text, text) == (_stable_by_definition(text), True), repr(text)
