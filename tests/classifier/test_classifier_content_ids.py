"""An article's id from its folded fields is the hash of its words joined by single spaces, however
the fields are spaced: the fast way (line breaks replaced) and the plain way (``str.split``) agree."""

from __future__ import annotations

import hashlib
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.messages import content_id, content_id_of_folded

FIELDS = [
    ("", ""),
    ("   ", "\n"),
    ("عنوان", ""),
    ("", "نص فقط"),
    ("عنوان الخبر ", " نص\nالخبر"),
    ("سطر\n\nفارغ", "مسافتان  هنا\n \nو سطر"),
    ("tab\there", "no-break\u00a0space and\u2029paragraph\u3000ideographic"),
    ("\x1c\x1d", "\x85next line\u2028line sep\u202fnarrow"),
    ("\r\n", "carriage\rreturn\x0bvertical\x0cform feed"),
]


def _plain_id(title: str, text: str) -> str:
    return hashlib.sha256(" ".join(title.split() + text.split()).encode("utf-8")).hexdigest()[:32]


@pytest.mark.parametrize(("title", "text"), FIELDS)
def test_the_id_of_folded_fields_hashes_their_words_joined_by_single_spaces(title: str, text: str) -> None:
    assert content_id_of_folded(title, text) == _plain_id(title, text)


def test_every_whitespace_character_but_the_space_is_unprintable() -> None:
    whitespace = [chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace()]
    assert [character for character in whitespace if character.isprintable()] == [" "]


def test_spacing_and_line_breaks_do_not_change_the_id() -> None:
    assert content_id("عنوان", "الخبر\n\nكله") == content_id(" عنوان ", "الخبر  كله\n")


# Words and every kind of whitespace, unprintable characters that are not whitespace among them.
_SPACED = "عنوان ab\n\n  \n\r\t\v\f\x1c\x1f\x85\u00a0\u1680\u2000\u2028\u2029\u202f\u3000\u200b\ufeff\x00é"


@settings(max_examples=500, deadline=None)
@given(title=st.text(alphabet=_SPACED, max_size=20), text=st.text(alphabet=_SPACED, max_size=40))
def test_any_spacing_of_folded_fields_gives_the_id_of_their_words(title: str, text: str) -> None:
    assert content_id_of_folded(title, text) == _plain_id(title, text)


@pytest.mark.parametrize(
    ("title", "text"), [fields for fields in FIELDS if "".join(fields).replace("\n", " ").isprintable()]
)
def test_fields_known_printable_give_the_same_id(title: str, text: str) -> None:
    assert content_id_of_folded(title, text, printable=True) == _plain_id(title, text)
