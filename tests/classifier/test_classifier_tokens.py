"""The fast tokenizer finds exactly the tokens of the token pattern, whatever the text holds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier_service.tokens import TOKEN_PATTERN, FieldWords, split_plainly, split_tokens
from shared.arabic import NOT_PLAIN

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "classifier"

TEXTS = [
    "",
    "   ",
    "قال الوزير، إن الهجوم وقع. ثم انسحب!",
    "سطر أول\nسطر ثان\n\nسطر (ثالث) - 3.5 مليون؟",
    'قال: "لا"؛ وأضاف/ربما,لا',
    "snake_case و #وسم و 50% و «اقتباس» — شرطة",
    "نسبة ٪12 – “قال” ‘نعم’ * +",
    "tab\there\r\nand\u2028sep\u0301",
    "...!!؟؟\n\n",
    "پیام گلستان ـ كلمة\\أخرى [1] A-z_9",
    "ءؤئ غف ي ٠١ ۳ x\u00a0y",
]


@pytest.mark.parametrize("text", TEXTS)
def test_split_tokens_equals_the_token_pattern(text: str) -> None:
    assert split_tokens(text) == TOKEN_PATTERN.findall(text)


@pytest.mark.parametrize("text", [text for text in TEXTS if TOKEN_PATTERN.findall(text)])
def test_character_span_equals_the_token_pattern(text: str) -> None:
    words = FieldWords.read("text", text)
    spans = [match.span() for match in TOKEN_PATTERN.finditer(words.normalized.text)]
    for start in range(len(spans)):
        for end in range(start + 1, len(spans) + 1):
            assert words.character_span(start, end) == (spans[start][0], spans[end - 1][1])


@pytest.mark.parametrize("text", [text for text in TEXTS if TOKEN_PATTERN.findall(text)])
def test_match_spans_are_the_character_span_and_its_sentence(text: str) -> None:
    words = FieldWords.read("text", text)
    size = len(words.tokens)
    for start in range(size):
        for end in range(start + 1, size + 1):
            span = words.character_span(start, end)
            assert words.match_spans(start, end) == (span, words.sentence_span(span[0]))


# Letters and digits of the fast tokenizer's class and outside it, its separators and sentence marks,
# other punctuation, spaces and line breaks of every kind, marks that fold away.
_TOKEN_CHARACTERS = 'ابةىأ aZ_09٠۰پé\u0301\u064b ،"-:()/؛,.!?؟\n\r\t\u00a0\u2028«»%#٪–—‘’“”*+[\\'


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=_TOKEN_CHARACTERS, max_size=40))
def test_generated_texts_split_and_map_as_the_token_pattern(text: str) -> None:
    assert split_tokens(text) == TOKEN_PATTERN.findall(text)
    words = FieldWords.read("text", text)
    spans = [match.span() for match in TOKEN_PATTERN.finditer(words.normalized.text)]
    for start in range(len(spans)):
        for end in range(start + 1, min(start + 4, len(spans)) + 1):
            span = (spans[start][0], spans[end - 1][1])
            assert words.match_spans(start, end) == (span, words.sentence_span(span[0]))


@pytest.mark.parametrize("text", TEXTS)
def test_a_field_read_is_plain_when_split_by_str_split(text: str) -> None:
    words = FieldWords.read("text", text)
    assert words.tokens == TOKEN_PATTERN.findall(words.normalized.text)
    assert words.plain == ("\t" not in text and "\u2028" not in text and "پ" not in text and "*" not in text)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=_TOKEN_CHARACTERS, max_size=40))
def test_a_plain_field_holds_only_printable_characters_and_line_breaks(text: str) -> None:
    words = FieldWords.read("text", text)
    assert words.tokens == TOKEN_PATTERN.findall(words.normalized.text)
    assert words.plain == (not NOT_PLAIN.search(words.normalized.text))
    if words.plain:
        assert words.normalized.text.replace("\n", " ").isprintable()


def test_every_plain_character_is_split_as_the_token_pattern_splits_it() -> None:
    plain = [chr(code) for code in range(sys.maxunicode + 1) if not NOT_PLAIN.match(chr(code))]
    for character in plain:
        text = f"ab{character}cd {character}{character}\n{character}"
        assert split_plainly(text) == (TOKEN_PATTERN.findall(text), True)


def _labeled_fields() -> list[str]:
    """The titles and texts of the labeled articles (news, some with marks and no-break spaces)."""
    fields: list[str] = []
    for name in ("sample.jsonl", "heldout_feeds.jsonl"):
        with (FIXTURES / name).open(encoding="utf-8") as lines:
            rows = [json.loads(line) for line in lines if line.strip()]
        fields += [row[field] for row in rows for field in ("title", "text")]
    return fields


def test_labeled_fields_split_as_the_token_pattern_and_are_plain_when_their_characters_are() -> None:
    for text in _labeled_fields():
        words = FieldWords.read("text", text)
        assert words.tokens == TOKEN_PATTERN.findall(words.normalized.text)
        assert words.plain == (not NOT_PLAIN.search(words.normalized.text))
