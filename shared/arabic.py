"""Arabic text normalization shared by every service and every watch rule.

``fold`` gives the normalized form used for matching and article identity (``content_id`` hashes an
article's folded words); ``normalize`` gives the same text together with a map from normalized offsets
back to the original, so a match found in folded text can be shown to a reader as written. ``words``
and ``sentences`` split normalized text.

Folding: Unicode NFKC; diacritics (tashkeel, Quranic marks) and tatweel removed; zero-width and
bidirectional control characters removed; hamza-carrying alifs and wasla to bare alif; alif maqsura
to ya; ta marbuta to ha; Persian and Urdu forms of kaf, ya and ha to the Arabic letters; Arabic-Indic
and Persian digits to ASCII digits. Hamza on waw and on ya (ؤ ئ) are kept: they are standard Arabic
letters that tell words apart (مسؤول، سائق), and writers do not swap them for و and ي as they drop
the hamza of an alif.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import NamedTuple

_REMOVED_CLASS = (
    "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640"  # diacritics, Quranic marks, tatweel
    "\u200b-\u200f\u061c\u202a-\u202e\u2066-\u2069\ufeff"  # zero-width, ALM, LRM/RLM, bidi embeddings
)


def _class_characters(ranges: str) -> frozenset[str]:
    """The characters of a regex class body written as single characters and ``a-b`` ranges."""
    characters: set[str] = set()
    index = 0
    while index < len(ranges):
        if ranges[index + 1 : index + 2] == "-" and index + 2 < len(ranges):
            characters.update(map(chr, range(ord(ranges[index]), ord(ranges[index + 2]) + 1)))
            index += 3
        else:
            characters.add(ranges[index])
            index += 1
    return frozenset(characters)


# To tell, character by character, a removed one from a rare letter or another found by the same scan.
_REMOVED_CHARACTERS = _class_characters(_REMOVED_CLASS)
# The removed characters NFKC may change (marks that compose with the letter before them, and the
# byte order mark): the others it leaves alone, but for the order of marks.
_REMOVED_MAYBE_CHANGED = frozenset("\u0653\u0654\u0655\ufeff")
# A run of removed characters, written as one then any more: a pattern that starts with a plain class
# is searched by skipping to that class's characters, twice as fast as trying a repeat at each one.
_REMOVED = re.compile(f"[{_REMOVED_CLASS}][{_REMOVED_CLASS}]*")
_DIACRITIC_RUN = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]+")

# Frequent letter changes are done with str.replace (a fast C scan each); the rare ones too, only
# those a text holds: str.translate looks each character of a text beyond ASCII up in a dict (42 ns a
# character, 14 times as long as a replace of each rare letter for the 11 labeled fields with one).
_COMMON_LETTERS = (("أ", "ا"), ("إ", "ا"), ("آ", "ا"), ("ٱ", "ا"), ("ى", "ي"), ("ة", "ه"))
_RARE_LETTER_MAP = {
    "ی": "ي",  # U+06CC Farsi yeh
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
_RARE_LETTER_MAP.update({chr(0x0660 + digit): str(digit) for digit in range(10)})
_RARE_LETTER_MAP.update({chr(0x06F0 + digit): str(digit) for digit in range(10)})
_RARE = re.compile(f"[{''.join(_RARE_LETTER_MAP)}]")

_WORD = re.compile(r"\w+")
# Patterns of the rare ways (text NFKC changes) and of functions that classifying does not call are
# kept as text and compiled on first use (re's own cache): compiling them took every start 4M
# instructions, the negated classes over all of Unicode most of it.
_RUN = r"\s+|\S+"
# Characters outside this class may change under NFKC (presentation forms, ligatures, NBSP, "…",
# hamza and madda marks that compose with the letter before them). Inside it, NFKC is the identity,
# and the NFKC of a text of these characters alone differs from it only in the order of its marks
# (a shadda typed before a fatha), each of them removed by folding.
_MAYBE_UNSTABLE = (
    "[^\t\n\r -~\u00ab\u00bb\u0600-\u0652\u0656-\u0674\u0679-\u06ff"
    "\u200b-\u200f\u2010\u2012-\u2015\u2018-\u201f\u202a-\u202e\u2066-\u2069]"
)
_SENTENCE = r"[^.!?؟\n]+"
# The punctuation of Arabic news: the sentence ends, and marks that only separate words (the signs,
# dashes and quotes among them are in one text in ten, which would otherwise take the slow ways).
# Each is looked for in every text the classifier splits, so rarer punctuation is left out.
PLAIN_PUNCTUATION = '.!?؟،؛,:"()/-#%٪«»–—‘’“”'
# Characters that NFKC leaves alone, that are not removed and that no rare letter change folds, and
# that ``str.split`` splits into the classifier's tokens once the punctuation above is spaced: Arabic
# and ASCII letters, digits, the underscore, spaces, line breaks and that punctuation. Most fields
# hold no other: they are folded by the common letter changes alone after this one scan, and split
# without a second.
PLAIN_CLASS = "\u0621-\u063a\u0641-\u064a0-9A-Za-z_ \n" + re.escape(PLAIN_PUNCTUATION)
NOT_PLAIN = re.compile(f"[^{PLAIN_CLASS}]")
# A character that is not plain and the removed characters right after it: one scan from the first
# finds what the fast way removes, whether a rare letter is there and whether another character stays
# (the removed and rare sets are apart, and removing characters brings no rare letter in), where a
# scan for each took 1.3% of what classifying an article costs, and a scan of the folded text for
# the split 2.8%.
_NOT_PLAIN_RUN = re.compile(f"[^{PLAIN_CLASS}][{_REMOVED_CLASS}]*")


def fold(text: str) -> str:
    """Normalized form used for matching and identity. Equals ``normalize(text).text``."""
    text = unicodedata.normalize("NFKC", text)
    return _fold_letters(_REMOVED.sub("", text))


def _fold_letters(text: str, plain_until: int = 0) -> str:
    """One-to-one letter and digit changes (lengths are kept); ``text[:plain_until]`` is known to
    hold only plain characters, so no rare letter."""
    return _fold_letters_found(text, rare=set(_RARE.findall(text, plain_until)))


def _fold_letters_found(text: str, *, rare: Iterable[str]) -> str:
    """:func:`_fold_letters` of a text known to hold the rare letters ``rare`` and no other."""
    text = _fold_common_letters(text)
    for letter in rare:
        text = text.replace(letter, _RARE_LETTER_MAP[letter])
    return text


def _fold_common_letters(text: str) -> str:
    for letter, replacement in _COMMON_LETTERS:
        text = text.replace(letter, replacement)
    return text


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
        return (
            self.original_starts[following] if following < len(self.original_starts) else len(self.original)
        )

    def _extend_over_marks(self, original_end: int) -> int:
        marks = _DIACRITIC_RUN.match(self.original, original_end)
        return marks.end() if marks else original_end


def normalize(text: str) -> Normalized:
    """Fold ``text`` and keep the map from folded offsets to original offsets."""
    return normalize_plainly(text)[0]


def normalize_plainly(text: str) -> tuple[Normalized, bool]:
    """:func:`normalize` of ``text``, and whether its folded text is known to hold only plain
    characters (:data:`PLAIN_CLASS`): found while folding every text that NFKC leaves alone (or
    changes only by its no-break spaces), so a caller splitting it need not look again."""
    first = NOT_PLAIN.search(text)
    if first is None:
        return Normalized(text, _fold_common_letters(text), (0,), (0,), (True,)), True
    # Nothing before the first character that is not plain is removed or changed by a rare
    # letter: the fast path looks for those from there.
    plain_until = first.start()
    # No-break spaces are the usual reason news text is not NFKC; NFKC maps each to one space, so
    # replacing them first keeps every offset and the fast path, and NFKC is checked once (a text
    # with one is never NFKC itself).
    spaced = text.replace("\u00a0", " ")
    found = _removed_runs(spaced, plain_until)
    # The scan that finds the removed runs tells, for most texts, that NFKC leaves them alone, where
    # asking NFKC of the whole text took 0.7% of what classifying an article costs.
    if found.left_alone or unicodedata.is_normalized("NFKC", spaced):
        return _stable_from_runs(text, spaced, found), found.plain
    if re.search(_MAYBE_UNSTABLE, text) is None:
        # Marks out of order, most texts NFKC changes: they fold as they stand, with no NFKC of the
        # whole text to check them against (45M instructions for 15 of the 2,300 labeled fields).
        return _normalize_unstable_runs(text), False
    folded = fold(text)
    normalized = _normalize_unstable_runs(text)
    if normalized.text != folded:
        normalized = _normalize_by_runs(text)
    if normalized.text != folded:
        # NFKC composed across characters we folded apart (rare scripts): whole-run blocks.
        normalized = _normalize_by_chunks(text, _whitespace_chunks(text))
    if normalized.text != folded:
        normalized = _normalize_by_chunks(text, [(0, len(text))])
    return normalized, False


def _normalize_stable(original: str, text: str, *, plain_until: int = 0) -> tuple[Normalized, bool]:
    """Fast path for ``text`` (``original`` with offsets unchanged) that NFKC leaves alone:
    one block per removed run, aligned pieces between; and whether the folded text is plain.
    ``text[:plain_until]`` holds only plain characters."""
    found = _removed_runs(text, plain_until)
    return _stable_from_runs(original, text, found), found.plain


class _Found(NamedTuple):
    """What one scan of a text finds from its first character that is not plain."""

    removed: list[tuple[int, int]]  # the runs of removed characters
    rare: set[str]  # the rare letters
    plain: bool  # every character kept is plain once folded (rare letters fold to plain ones)
    left_alone: bool  # NFKC is known to leave the text alone (False: not known)


def _stable_from_runs(original: str, text: str, found: _Found) -> Normalized:
    """:func:`_normalize_stable` of ``text``, whose removed runs and rare letters are ``found``."""
    removed, rare = found.removed, found.rare
    if not removed:
        return Normalized(original, _fold_letters_found(text, rare=rare), (0,), (0,), (True,))
    piece_starts = [0]
    original_starts = [0]
    aligned = [True]
    kept: list[str] = []
    previous_end = 0
    removed_so_far = 0
    for start, end in removed:
        kept.append(text[previous_end:start])
        position = start - removed_so_far
        piece_starts += (position, position)
        original_starts += (start, end)
        aligned += (False, True)
        removed_so_far += end - start
        previous_end = end
    kept.append(text[previous_end:])
    folded = _fold_letters_found("".join(kept), rare=rare)
    return Normalized(original, folded, tuple(piece_starts), tuple(original_starts), tuple(aligned))


def _removed_runs(text: str, start: int) -> _Found:
    """The runs of removed characters of ``text`` from ``start`` (``text[:start]`` holds only plain
    characters), its rare letters, and whether it is plain once folded and left alone by NFKC.

    NFKC leaves plain characters and rare letters alone (those it takes apart, as أ, it puts back
    together), so it leaves the text alone when it holds no other character and leaves each removed
    run alone: :func:`_left_alone_by_nfkc`.
    """
    removed: list[tuple[int, int]] = []
    rare: set[str] = set()
    plain = left_alone = True
    for match in _NOT_PLAIN_RUN.finditer(text, start):
        run_start, run_end = match.span()
        character = text[run_start]
        if character not in _REMOVED_CHARACTERS:
            if character in _RARE_LETTER_MAP:
                rare.add(character)
            else:
                plain = left_alone = False
            run_start += 1
            if run_start == run_end:
                continue
        if left_alone:
            left_alone = _left_alone_by_nfkc(text[run_start:run_end])
        removed.append((run_start, run_end))
    return _Found(removed, rare, plain, left_alone)


def _left_alone_by_nfkc(run: str) -> bool:
    """Whether NFKC leaves a run of removed characters alone, between plain characters or rare
    letters: none of them may change and its marks are in canonical order (no mark of a higher
    combining class right before one of a lower, but for class 0)."""
    if len(run) == 1:
        return run not in _REMOVED_MAYBE_CHANGED
    if not _REMOVED_MAYBE_CHANGED.isdisjoint(run):
        return False
    classes = map(unicodedata.combining, run)
    return all(not 0 < later < earlier for earlier, later in pairwise(classes))


class _PieceMap:
    """Builds a :class:`Normalized` piece by piece, left to right."""

    def __init__(self, original: str) -> None:
        self.original = original
        self.parts: list[str] = []
        self.length = 0
        self.piece_starts: list[int] = []
        self.original_starts: list[int] = []
        self.aligned: list[bool] = []

    def add_stable(self, start: int, end: int) -> _PieceMap:
        """Add ``original[start:end]``, which NFKC leaves alone: removals and one-to-one letters."""
        position = start
        for removed in _REMOVED.finditer(self.original, start, end):
            self._add_piece(self.original[position : removed.start()], position, aligned=True)
            self._add_piece("", removed.start(), aligned=False)
            position = removed.end()
        self._add_piece(self.original[position:end], position, aligned=True)
        return self

    def add_block(self, start: int, end: int) -> None:
        """Add ``original[start:end]`` folded as one block (its characters map to the whole span)."""
        chunk = self.original[start:end]
        folded = fold(chunk)
        one_to_one = len(folded) == len(chunk) and unicodedata.is_normalized("NFKC", chunk)
        if one_to_one:
            self._add_piece(chunk, start, aligned=True)
        else:
            self._add_piece(folded, start, aligned=False, folded=True)

    def _add_piece(self, chunk: str, start: int, *, aligned: bool, folded: bool = False) -> None:
        if aligned and not chunk:
            return
        if aligned and self.aligned and self.aligned[-1]:
            # Extends the previous aligned piece when contiguous in both texts.
            previous_end = self.original_starts[-1] + (self.length - self.piece_starts[-1])
            if previous_end == start:
                self.parts.append(_fold_letters(chunk))
                self.length += len(chunk)
                return
        self.piece_starts.append(self.length)
        self.original_starts.append(start)
        self.aligned.append(aligned)
        text = chunk if folded else _fold_letters(chunk)
        self.parts.append(text)
        self.length += len(text)

    def result(self) -> Normalized:
        """The finished map."""
        if not self.piece_starts:
            return Normalized(self.original, "", (0,), (0,), (True,))
        return Normalized(
            self.original,
            "".join(self.parts),
            tuple(self.piece_starts),
            tuple(self.original_starts),
            tuple(self.aligned),
        )


def _normalize_unstable_runs(text: str) -> Normalized:
    """Only the whitespace-delimited runs holding a character NFKC may change are folded by mark
    group; the stretches between them take the fast way. Checked by the caller against ``fold``
    where there is such a run (without one, the text folds as NFKC leaves it: see ``_MAYBE_UNSTABLE``)."""
    pieces = _PieceMap(text)
    position = 0
    for unstable in re.finditer(_MAYBE_UNSTABLE, text):
        if unstable.start() < position:
            continue
        run_start, run_end = _run_around(text, unstable.start())
        pieces.add_stable(position, run_start)
        for chunk_start, chunk_end in _combining_chunks(text, run_start, run_end):
            pieces.add_block(chunk_start, chunk_end)
        position = run_end
    pieces.add_stable(position, len(text))
    return pieces.result()


def _run_around(text: str, index: int) -> tuple[int, int]:
    """The whitespace-delimited run containing ``text[index]`` (just that character if it is space)."""
    if text[index].isspace():
        return index, index + 1
    start = index
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    end = index + 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def _normalize_by_runs(text: str) -> Normalized:
    """Runs that NFKC leaves alone take the fast way; the others are folded mark-group by group."""
    pieces = _PieceMap(text)
    for run in re.finditer(_RUN, text):
        start, end = run.span()
        if unicodedata.is_normalized("NFKC", run.group()):
            pieces.add_stable(start, end)
            continue
        for chunk_start, chunk_end in _combining_chunks(text, start, end):
            pieces.add_block(chunk_start, chunk_end)
    return pieces.result()


def _normalize_by_chunks(text: str, chunks: list[tuple[int, int]]) -> Normalized:
    """Fallback: fold each chunk on its own as a block."""
    pieces = _PieceMap(text)
    for start, end in chunks:
        pieces.add_block(start, end)
    return pieces.result()


def _combining_chunks(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of one base character and the combining marks that follow it, within a run."""
    chunks: list[tuple[int, int]] = []
    chunk_start = start
    for index in range(start + 1, end):
        if not unicodedata.combining(text[index]):
            chunks.append((chunk_start, index))
            chunk_start = index
    if end > start:
        chunks.append((chunk_start, end))
    return chunks


def _whitespace_chunks(text: str) -> list[tuple[int, int]]:
    """Spans of whitespace-separated tokens and of the whitespace between them."""
    return [match.span() for match in re.finditer(_RUN, text)]


def words(text: str) -> list[tuple[str, int, int]]:
    """The words of (normalized) ``text`` with their offsets: letters and digits, no punctuation."""
    return [(match.group(), match.start(), match.end()) for match in _WORD.finditer(text)]


def word_texts(text: str) -> list[str]:
    """The words of (normalized) ``text``, as :func:`words` splits them, without offsets."""
    return _WORD.findall(text)


def sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of ``text``: runs of characters between ``. ! ? ؟`` and line breaks."""
    return [match.span() for match in re.finditer(_SENTENCE, text) if match.group().strip()]


def content_id(title: str, text: str) -> str:
    """An article's id: a hash of its normalized words, so one text has one id whatever its
    encoding, file name, spacing or diacritics."""
    return content_id_of_folded(fold(title), fold(text))


def content_id_of_folded(title: str, text: str, *, printable: bool = False) -> str:
    """:func:`content_id` of an article whose title and text are already folded (folding works
    character by character, so the two folded apart are the whole folded). ``printable``: both are
    known to hold no character but printable ones and line breaks (no other whitespace), so that is
    not looked for again."""
    title, text = _single_spaced(title, printable=printable), _single_spaced(text, printable=printable)
    words = f"{title} {text}" if title and text else title or text
    return hashlib.sha256(words.encode("utf-8")).hexdigest()[:32]


def _single_spaced(text: str, *, printable: bool = False) -> str:
    """``" ".join(text.split())``, made by replacing line breaks where the text has no other
    whitespace (every whitespace character but the space is unprintable): most articles, for a few
    scans in C instead of a ``str`` per word. Runs of spaces (one article in six has some) are
    halved by each replace, so a few scans join them too."""
    spaced = text.replace("\n", " ") if "\n" in text else text
    if not printable and not spaced.isprintable():
        return " ".join(text.split())
    while "  " in spaced:
        spaced = spaced.replace("  ", " ")
    return spaced.strip(" ")
