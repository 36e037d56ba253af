"""An article's field (title or text) as tokens: its words, and a token for each sentence end.

A field is normalized once and split once. Sentence ends (``. ! ? ؟`` and line breaks) are tokens
that no phrase contains, so phrases stay inside a sentence. Character offsets are worked out only
for the evidence shown.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import compress, islice
from typing import Literal

from shared.arabic import NOT_PLAIN, PLAIN_PUNCTUATION, Normalized, normalize_plainly

FieldName = Literal["title", "text"]
SENTENCE_ENDS = frozenset(".!?؟\n")
TOKEN_PATTERN = re.compile(r"\w+|[.!?؟\n]")
_MARKS = (".", "!", "?", "؟")
# Punctuation that only separates words: the plain punctuation but the sentence ends. Replacing each
# (a fast C scan) lets ``str.split`` find the same tokens as ``TOKEN_PATTERN`` in a plain text, several
# times faster.
_SEPARATORS = tuple(mark for mark in PLAIN_PUNCTUATION if mark not in _MARKS)
# Each sentence end is a token of its own, so the n-th sentence-end token is the n-th of these characters.
_SENTENCE_END = re.compile("[.!?؟\n]")


@dataclass(slots=True)
class FieldWords:
    """One field of an article, normalized and split into tokens (words and sentence ends)."""

    name: FieldName
    normalized: Normalized
    tokens: list[str]
    # Whether the normalized text holds only the characters split by ``str.split`` (:func:`split_tokens`):
    # then it has no whitespace but spaces and line breaks, and no unprintable character.
    plain: bool = False
    # Worked out on first use: a field without a term occurrence that has conditions needs none.
    _sentence_ends: list[int] | None = None
    # The sentence of each token asked about, by token: weighing an occurrence, and reading its
    # features, ask for the same token's sentence up to three times.
    _sentences: dict[int, tuple[int, int]] | None = None

    @classmethod
    def read(cls, name: FieldName, text: str) -> FieldWords:
        """Normalize and split ``text``."""
        normalized, plain = normalize_plainly(text)
        tokens, plain = split_plainly(normalized.text, plain=plain)
        return cls(name, normalized, tokens, plain=plain)

    @property
    def sentence_ends(self) -> list[int]:
        """Positions of the sentence-end tokens, ascending."""
        ends = self._sentence_ends
        if ends is None:
            tokens = self.tokens
            ends = self._sentence_ends = list(
                compress(range(len(tokens)), map(SENTENCE_ENDS.__contains__, tokens))
            )
        return ends

    def sentence_around(self, token: int) -> tuple[int, int]:
        """Token span ``[first, end)`` of the sentence holding ``token`` (sentence ends excluded)."""
        sentences = self._sentences
        if sentences is None:
            sentences = self._sentences = {}
        elif token in sentences:
            return sentences[token]
        ends = self._sentence_ends
        if ends is None:
            ends = self.sentence_ends
        following = bisect_right(ends, token)
        first = ends[following - 1] + 1 if following else 0
        end = ends[following] if following < len(ends) else len(self.tokens)
        span = sentences[token] = (first, end)
        return span

    def sentences_around(self, token: int) -> tuple[int, int]:
        """Token span ``[first, end)`` of the sentence holding ``token`` and the one before it (the
        sentence end between them included; empty sentences, between two ends, skipped)."""
        ends = self.sentence_ends
        following = bisect_right(ends, token)
        end = ends[following] if following < len(ends) else len(self.tokens)
        before = following - 1
        while before > 0 and ends[before - 1] == ends[before] - 1:
            before -= 1
        return (ends[before - 1] + 1 if before > 0 else 0), end

    def character_span(self, start: int, end: int) -> tuple[int, int]:
        """Normalized character span of tokens ``[start, end)`` (evidence only, so not kept)."""
        return self.match_spans(start, end)[0]

    def match_spans(
        self, start: int, end: int, *, previous: bool = False
    ) -> tuple[tuple[int, int], tuple[int, int]]:
        """Normalized character spans of tokens ``[start, end)`` and of the sentence holding the
        first, between its end marks (:meth:`sentence_span`), or from the start of the sentence
        before it when ``previous`` (:meth:`sentences_around`); evidence only, so not kept.

        Only characters that are in no token lie between tokens, so each token is found by
        searching for it from the end of the one before, from the sentence end before ``start``:
        the n-th sentence-end token is the n-th sentence-end character, found in C, and the next
        one ends the sentence.
        """
        text = self.normalized.text
        find = text.find
        ends = self.sentence_ends
        own = bisect_left(ends, start)
        before = bisect_left(ends, self.sentences_around(start)[0]) if previous else own
        marks = _SENTENCE_END.finditer(text)
        position = walked = 0
        if before:
            position = next(islice(marks, before - 1, None)).end()
            walked = ends[before - 1] + 1
        sentence_start = position
        for token in islice(self.tokens, walked, start):
            position = find(token, position) + len(token)
        first = position = find(self.tokens[start], position)
        for token in islice(self.tokens, start, end):
            position = find(token, position) + len(token)
        # The marks between the sentence before and the match's own are passed over.
        following = next(islice(marks, own - before, None), None)
        return (first, position), (sentence_start, len(text) if following is None else following.start())

    def sentence_span(self, position: int) -> tuple[int, int]:
        """Normalized character span of the sentence holding character ``position``, between its
        end marks."""
        text = self.normalized.text
        before = max(text.rfind(mark, 0, position) for mark in SENTENCE_ENDS) + 1
        after = min(
            (found for mark in SENTENCE_ENDS if (found := text.find(mark, position)) >= 0), default=len(text)
        )
        return before, after


def split_tokens(text: str) -> list[str]:
    """The tokens of (normalized) ``text``: ``TOKEN_PATTERN.findall(text)``, by ``str.split`` when
    the text is plain (:data:`shared.arabic.PLAIN_CLASS`: Arabic and ASCII letters, digits, spaces,
    line breaks and common punctuation; then words are the runs between punctuation and spaces)."""
    return split_plainly(text)[0]


def split_plainly(text: str, *, plain: bool = False) -> tuple[list[str], bool]:
    """:func:`split_tokens` of ``text``, and whether it was split by ``str.split`` (the text then
    holds no whitespace but spaces and line breaks, and no unprintable character). ``plain``: the
    text is known to be plain, so that is not looked for again (a scan of every field took 2.8% of
    the instructions of ``rasid classify``)."""
    if not plain and NOT_PLAIN.search(text):
        return TOKEN_PATTERN.findall(text), False
    spaced = text
    for separator in _SEPARATORS:
        if separator in spaced:
            spaced = spaced.replace(separator, " ")
    for mark in _MARKS:
        if mark in spaced:
            spaced = spaced.replace(mark, f" {mark} ")
    if "\n" not in spaced:
        return spaced.split(), True
    tokens: list[str] = []
    for line in spaced.split("\n"):
        tokens += line.split()
        tokens.append("\n")
    tokens.pop()
    return tokens, True
