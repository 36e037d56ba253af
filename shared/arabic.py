"""Arabic text normalization shared by every service and every watch rule.

``fold`` gives the normalized form used for matching and article identity; ``normalize`` gives the
same text together with a map from normalized offsets back to the original, so a match found in
folded text can be shown to a reader as written. ``words`` and ``sentences`` split normalized text.

Folding: Unicode NFKC; diacritics (tashkeel, Quranic marks) and tatweel removed; zero-width and
bidirectional control characters removed; hamza-carrying alifs and wasla to bare alif; alif maqsura
to ya; ta marbuta to ha; Persian and Urdu forms of kaf, ya and ha to the Arabic letters; Arabic-Indic
and Persian digits to ASCII digits. Hamza on waw and on ya (ؤ ئ) are kept: they are standard Arabic
letters that tell words apart (مسؤول، سائق), and writers do not swap them for و and ي as they drop
the hamza of an alif.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass

_REMOVED_CLASS = (
    "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640"  # diacritics, Quranic marks, tatweel
    "\u200b-\u200f\u061c\u202a-\u202e\u2066-\u2069\ufeff"  # zero-width, ALM, LRM/RLM, bidi embeddings
)
_REMOVED = re.compile(f"[{_REMOVED_CLASS}]+")
_DIACRITIC_RUN = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]+")

_LETTER_MAP = {
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "ى": "ي",
    "ة": "ه",
    "ی": "ي",  # U+06CC Farsi yeh
    "ي": "ي",
    "ې": "ي",  # U+06D0
    "ے": "ي",  # U+06D2 Urdu yeh barree
    "ک": "ك",  # U+06A9 keheh
    "ڪ": "ك",  # U+06AA swash kaf
    "ہ": "ه",  # U+06C1 heh goal
    "ھ": "ه",  # U+06BE heh doachashmee
    "ە": "ه",  # U+06D5 ae
    "ۀ": "ه",  # U+06C0 heh with yeh above (Persian ezafe on a final ha)
    "ۃ": "ه",  # U+06C3 teh marbuta goal
}
_LETTER_MAP.update({chr(0x0660 + digit): str(digit) for digit in range(10)})
_LETTER_MAP.update({chr(0x06F0 + digit): str(digit) for digit in range(10)})
_LETTERS = str.maketrans(_LETTER_MAP)

_WORD = re.compile(r"\w+")
_SENTENCE = re.compile(r"[^.!?؟\n]+")


def fold(text: str) -> str:
    """Normalized form used for matching and identity. Equals ``normalize(text).text``."""
    text = unicodedata.normalize("NFKC", text)
    return _REMOVED.sub("", text).translate(_LETTERS)


@dataclass(frozen=True, slots=True)
class Normalized:
    """Folded text with a map back to the original.

    The map is a list of pieces in order. A piece covers ``normalized[piece_starts[k]:...]`` and
    ``original[original_starts[k]:...]``; it is either aligned one to one (``aligned[k]``) or a block
    whose characters all come from the whole original span (a ligature, a composed letter, removed
    marks, which normalize to nothing).
    """

    original: str
    text: str
    piece_starts: tuple[int, ...]
    original_starts: tuple[int, ...]
    aligned: tuple[bool, ...]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original span ``[start, end)`` of the normalized span ``[start, end)``.

        Marks removed right after the span (a word's final vowel) are included in it.
        """
        if not 0 <= start <= end <= len(self.text):
            raise ValueError(f"span {start}:{end} is outside the normalized text of length {len(self.text)}")
        original_start = self._original_position(start, at_end=False)
        if end == start:
            return original_start, original_start
        original_end = self._original_position(end - 1, at_end=True)
        return original_start, self._extend_over_marks(original_end)

    def _original_position(self, position: int, *, at_end: bool) -> int:
        piece = self._piece_at(position)
        piece_start = self.original_starts[piece]
        if self.aligned[piece]:
            return piece_start + position - self.piece_starts[piece] + (1 if at_end else 0)
        if not at_end:
            return piece_start
        return self._original_piece_end(piece)

    def _piece_at(self, position: int) -> int:
        """The last piece starting at or before ``position`` that has normalized characters."""
        piece = bisect_right(self.piece_starts, position) - 1
        while piece > 0 and self._piece_length(piece) == 0:
            piece -= 1
        return piece

    def _piece_length(self, piece: int) -> int:
        following = piece + 1
        end = self.piece_starts[following] if following < len(self.piece_starts) else len(self.text)
        return end - self.piece_starts[piece]

    def _original_piece_end(self, piece: int) -> int:
        following = piece + 1
        return self.original_starts[following] if following < len(self.original_starts) else len(self.original)

    def _extend_over_marks(self, original_end: int) -> int:
        marks = _DIACRITIC_RUN.match(self.original, original_end)
        return marks.end() if marks else original_end


def normalize(text: str) -> Normalized:
    """Fold ``text`` and keep the map from folded offsets to original offsets."""
    if unicodedata.is_normalized("NFKC", text):
        return _normalize_without_nfkc_changes(text)
    normalized = _normalize_by_chunks(text, _combining_chunks(text))
    if normalized.text != fold(text):
        # NFKC composed across our chunk boundaries (rare scripts): fall back to whole words.
        normalized = _normalize_by_chunks(text, _whitespace_chunks(text))
    if normalized.text != fold(text):
        normalized = _normalize_by_chunks(text, [(0, len(text))])
    return normalized


def _normalize_without_nfkc_changes(text: str) -> Normalized:
    """Fast path: only removals (one block per removed run) and one-to-one letter changes."""
    piece_starts: list[int] = [0]
    original_starts: list[int] = [0]
    aligned: list[bool] = [True]
    removed_so_far = 0
    for removed in _REMOVED.finditer(text):
        start, end = removed.span()
        normalized_start = start - removed_so_far
        piece_starts += (normalized_start, normalized_start)
        original_starts += (start, end)
        aligned += (False, True)
        removed_so_far += end - start
    folded = _REMOVED.sub("", text).translate(_LETTERS) if removed_so_far else text.translate(_LETTERS)
    return Normalized(text, folded, tuple(piece_starts), tuple(original_starts), tuple(aligned))


def _normalize_by_chunks(text: str, chunks: list[tuple[int, int]]) -> Normalized:
    """Slow path: fold each chunk on its own; a chunk that changes length becomes a block."""
    parts: list[str] = []
    piece_starts: list[int] = []
    original_starts: list[int] = []
    aligned: list[bool] = []
    length = 0
    for start, end in chunks:
        chunk = text[start:end]
        folded = fold(chunk)
        one_to_one = len(folded) == len(chunk) and unicodedata.is_normalized("NFKC", chunk)
        if not (aligned and aligned[-1] and one_to_one):
            piece_starts.append(length)
            original_starts.append(start)
            aligned.append(one_to_one)
        parts.append(folded)
        length += len(folded)
    if not piece_starts:
        piece_starts, original_starts, aligned = [0], [0], [True]
    return Normalized(text, "".join(parts), tuple(piece_starts), tuple(original_starts), tuple(aligned))


def _combining_chunks(text: str) -> list[tuple[int, int]]:
    """Spans of one base character and the combining marks that follow it."""
    chunks: list[tuple[int, int]] = []
    start = 0
    for index in range(1, len(text)):
        if not unicodedata.combining(text[index]):
            chunks.append((start, index))
            start = index
    if text:
        chunks.append((start, len(text)))
    return chunks


def _whitespace_chunks(text: str) -> list[tuple[int, int]]:
    """Spans of whitespace-separated tokens and of the whitespace between them."""
    return [match.span() for match in re.finditer(r"\s+|\S+", text)]


def words(text: str) -> list[tuple[str, int, int]]:
    """The words of (normalized) ``text`` with their offsets: letters and digits, no punctuation."""
    return [(match.group(), match.start(), match.end()) for match in _WORD.finditer(text)]


def sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of ``text``: runs of characters between ``. ! ? ؟`` and line breaks."""
    return [match.span() for match in _SENTENCE.finditer(text) if match.group().strip()]
