"""Finding the phrases of a compiled index in the words of an article, in one pass over the words.

A word of an article is split at match time into each proclitic it may start with and each ending
it may end with (a few candidates, as both lists are short, :mod:`shared.forms`), and
the stem left is looked up. What a word resolves to is remembered, so a frequent word is split once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from itertools import compress
from operator import itemgetter
from typing import TypeVar

from classifier_service.phrases import CompiledIndex, Following, routed
from shared.forms import (
    FEMININE_ENDINGS,
    NAME_ENDINGS,
    NOUN_ENDINGS,
    PROCLITICS,
    SHORT_WORD,
    proclitic_fits,
)

V = TypeVar("V")
# A match is ``(owner, start, end)``: who owns the phrase, and its word span ``[start, end)``.
# Plain tuples, because an article yields about a hundred of them and this is the hot loop.
Match = tuple[int, int, int]
# An occurrence of a context or exclusion group is ``(start, end)``, in words.
Occurrence = tuple[int, int]
# Each ending: whether nouns, names and feminine bases (stems without their ه) take it.
_ENDING_KINDS = {
    ending: (ending in NOUN_ENDINGS, ending in NAME_ENDINGS, ending in FEMININE_ENDINGS)
    for ending in (*NOUN_ENDINGS, *NAME_ENDINGS, *FEMININE_ENDINGS)
}
# Stems looked up by splitting have three letters or more; feminine bases, one fewer.
_SHORTEST_STEM = SHORT_WORD
_LONGEST_PROCLITIC = max(map(len, PROCLITICS))
# Letters of a stem's start that are checked before a word is split.
_START = 5
# The beginnings of a word looked up by :meth:`Matcher._may_split`, by length.
_BEGINNINGS = tuple(slice(0, length) for length in range(_SHORTEST_STEM, _LONGEST_PROCLITIC + _START + 1))
# Those beginnings of a word, as a tuple: an itemgetter slices in C, where mapping the word's
# ``__getitem__`` over the slices called it through a method wrapper, a tuple of arguments a slice
# (a new word that is no phrase word: 13,800 instructions to resolve, 10,700 so).
_beginnings_of = itemgetter(*_BEGINNINGS)
_LONGEST_ENDING = max(map(len, (*NOUN_ENDINGS, *NAME_ENDINGS, *FEMININE_ENDINGS)))
# Articles share most of their words, so what a word resolves to is remembered. The memory is
# bounded in two generations: when the current one is full it becomes the previous one (the older
# is forgotten), and a word found in the previous one is carried over. Frequent words survive a
# turnover, so a vocabulary a little larger than the memo does not resolve every word again.
MEMO_SIZE = 1 << 16
# The listed words that are no phrase word and start in the current generation of the memory, the
# most frequent first: the labeled articles meet 9,382 of the first 10,000 (and 22,097 of all
# 39,261), whose carrying over cost 3,400 instructions each.
_MET_WORDS = 10_000
# The most positions (and one-word spans) shared by every field: a field of up to this many words
# (every field of the 30,443 articles of the 2018 corpus: 3,913 words at most) reads them without making
# them; a longer one makes its own, so a field of a million words (the limit) leaves no 100 MB behind.
_SHARED_POSITIONS = 1 << 13
# A continuation with more second words than this is looked up by second word, not scanned, when a
# word's phrases are first worked out: two of the packaged taxonomy's have 212 and 109 (a word and
# the name of each country), and were most of what 11,845 first look-ups scanned (216,000 of 301,000).
_SCANNED_SECONDS = 32


class _Memo(dict[str, V]):
    """Values of ``resolve`` by key, worked out on first use (from C, by ``__getitem__``)."""

    __slots__ = ("_previous", "_resolve")

    def __init__(self, resolve: Callable[[str], V], previous: dict[str, V] | None = None) -> None:
        super().__init__()
        self._resolve = resolve
        # Values known before the first use may stand as the previous generation, carried over
        # as they are met.
        self._previous: dict[str, V] = {} if previous is None else previous

    def __missing__(self, key: str) -> V:
        if len(self) >= MEMO_SIZE:
            self._previous = dict(self)
            self.clear()
        previous = self._previous
        value = self[key] = previous[key] if key in previous else self._resolve(key)
        return value


# Where a word's longer phrases are looked up: the continuations that have any, the phrases
# already worked out for the form (the word ids) of a second word, and the ids of every second word
# of those continuations.
FollowingSource = tuple[tuple[int, ...], dict[int, list[Following]], frozenset[int]]
# The one-word owners of one kind a word starts, None for none: the hot loop tells None apart
# without asking a tuple its length (3% of its instructions).
OwnerIds = tuple[int, ...] | None
# What a word of an article starts: its one-word owners (terms, groups, entities), and where its
# longer phrases are.
Entry = tuple[OwnerIds, OwnerIds, OwnerIds, FollowingSource | None]
# What a word of an article is, worked out once per word: what it starts (an :data:`Entry`, all
# None where it starts nothing), the ids of the phrase words it is a form of
# (never empty: a word that is none is None itself), and a number for those ids, the same for every
# word of the same ids (a key hashed without a tuple). One flat tuple, so the hot loop reads a word
# by one unpacking.
Word = tuple[OwnerIds, OwnerIds, OwnerIds, FollowingSource | None, tuple[int, ...], int]
# What a word that starts nothing starts.
_NOTHING: Entry = (None, None, None, None)
# Found phrases, sorted: term and entity matches ``(owner, start, end)``, and the ``(start, end)``
# occurrences of each group.
Found = tuple[list[Match], defaultdict[int, list[Occurrence]], list[Match]]
# Words resolved before any article (:mod:`~classifier_service.vocabulary`): the words, joined by
# line breaks and encoded in UTF-16 (decoded at every start: the list costs a start 61M instructions
# so, 68M in UTF-8), the phrase words first, and the phrase word ids of each of those; the words
# after them are no phrase word. Last, worked out with them, the index's :func:`split_starts`, joined
# and encoded the same way (empty: none worked out): a matcher's start reads them in 34M
# instructions, where making them took 49M.
ResolvedVocabulary = tuple[bytes, tuple[tuple[int, ...], ...], bytes]
VOCABULARY_ENCODING = "utf-16-le"
NO_VOCABULARY: ResolvedVocabulary = (b"", (), b"")


def split_starts(compiled: CompiledIndex) -> frozenset[str]:
    """The beginnings a word that may be split into a known stem has: each proclitic followed by
    the first letters of a stem it may be written before (a shorter stem whole). A word none of
    whose beginnings is one resolves to its literal forms alone, without trying its splits."""
    _, plain, names, feminine, *_ = compiled
    starts = {stem[:_START] for table in (plain, names, feminine) for stem in table}
    # A proclitic that does not fit a stem's first letter is never cut off before it (the split
    # looks up the fitting starts first), so it makes no beginning: 37,065 of 40,375.
    return frozenset(
        proclitic + start for proclitic in PROCLITICS for start in starts if proclitic_fits(proclitic, start)
    )


class Matcher:
    """Finds the phrases of a compiled index in the words of an article."""

    def __init__(self, compiled: CompiledIndex, vocabulary: ResolvedVocabulary = NO_VOCABULARY) -> None:
        (
            self._literal,
            self._plain,
            self._names,
            self._feminine,
            self._continuations_of,
            self._continuations,
            self._phrases,
            self._routes,
        ) = compiled
        self._merged: dict[tuple[int, ...], Entry] = {}
        # Where each second word is in a long continuation's list, by continuation, made on first use.
        self._second_positions: dict[int, dict[int, list[int]]] = {}
        # What a word is, by the set of word ids it is a form of: the words of one set are one
        # ``Word``, numbered in the order the sets were first met (what ``Word`` carries last). The
        # 7,719 listed phrase words of the labeled articles are 2,157 sets, so most words find theirs
        # made, without working out what they start.
        self._words_by_ids: dict[tuple[int, ...], Word] = {}
        # Each position, and its one-word span ``(position, position + 1)``, made once and shared by
        # every article (up to :data:`_SHARED_POSITIONS`): the positions of its phrase words, and
        # the occurrence of a one-word group phrase there. An int past 256 and a tuple made at each
        # were 3% and 4% of :meth:`find_sorted`'s instructions.
        self._positions: list[int] = []
        self._spans: list[Occurrence] = []
        # The most words a phrase has: a one-word phrase, or the first two words and the rest.
        self.longest = max((2 + len(phrase[0]) for phrase in self._phrases), default=1)
        # One look-up per length of a word's beginning tells whether it may be split, not one per
        # proclitic and stem length.
        starts = vocabulary[2]
        self._split_starts = (
            frozenset(starts.decode(VOCABULARY_ENCODING).split("\n")) if starts else split_starts(compiled)
        )
        # Each proclitic followed by each letter a stem may start with after it: one look-up of a
        # word's beginning tells whether it may be that proclitic and a stem. A word whose stem would
        # start with a letter no stem starts with has no stem to look up after it.
        first_letters = {stem[0] for table in (self._plain, self._names, self._feminine) for stem in table}
        self._fitting_starts = frozenset(
            proclitic + letter
            for proclitic in PROCLITICS
            if proclitic
            for letter in first_letters
            if proclitic_fits(proclitic, letter)
        )
        # One memory of words, not one for their ids and one for their entries: the words of an
        # article are looked up once, and a phrase's later words are read from the same look-ups.
        # The vocabulary's words that are no phrase word (None, as :meth:`_word_of` would find)
        # stand as the memory's previous generation: one a run meets is carried over, and the
        # current generation holds only the words met, as it would without them. In the current
        # generation, 50,000 words would double its table and slow every later look-up (8% in
        # find_sorted once the 1,150 labeled articles are remembered) for 1% fewer instructions
        # (load and the 1,150 articles: 4,683M without the list, 4,163M, 4,125M in the current
        # generation). The most frequent of them (:data:`_MET_WORDS`) are met by almost any run and
        # start in the current generation, not carried over one by one. The ids of the others are
        # kept; what they start is worked out on first sight.
        self._vocabulary: dict[str, tuple[int, ...]] = {}
        met: list[str] = []
        unmatched: dict[str, Word | None] = {}
        if vocabulary[0]:
            words, word_ids, _ = vocabulary
            listed = words.decode(VOCABULARY_ENCODING).split("\n")
            self._vocabulary = dict(zip(listed, word_ids, strict=False))
            met = listed[len(word_ids) : len(word_ids) + _MET_WORDS]
            unmatched = dict.fromkeys(listed[len(word_ids) + _MET_WORDS :])
        self._words: _Memo[Word | None] = _Memo(self._word_of, unmatched)
        self._words.update(dict.fromkeys(met))

    def word_ids(self, token: str) -> tuple[int, ...]:
        """The ids of the phrase words ``token`` (a folded word) is a form of, ascending."""
        word = self._words[token]
        return () if word is None else word[4]

    def _word_of(self, token: str) -> Word | None:
        word_ids = self._vocabulary.get(token)
        if word_ids is None:
            # Most words of an article are none of a phrase's, and cannot be split into one: they
            # are told apart by the look-ups of their beginnings, made in C (:meth:`_may_split`).
            literal = self._literal.get(token, ())
            if self._split_starts.isdisjoint(_beginnings_of(token)):
                word_ids = literal
            else:
                word_ids = self._split_ids(token, literal)
            if not word_ids:
                return None
        word = self._words_by_ids.get(word_ids)
        if word is None:
            words = self._words_by_ids
            word = words[word_ids] = (*(self._entry_of(word_ids) or _NOTHING), word_ids, len(words))
        return word

    def word_ids_of(self, token: str) -> tuple[int, ...]:
        """The ids of the phrase words ``token`` is a form of, worked out (not remembered)."""
        literal = self._literal.get(token, ())
        if not self._may_split(token):
            return literal
        return self._split_ids(token, literal)

    def _split_ids(self, token: str, literal: tuple[int, ...]) -> tuple[int, ...]:
        """The ids of ``token`` (a word that :meth:`_may_split`) as itself, ``literal``, and as a
        proclitic, a stem and an ending."""
        found = list(literal)
        size = len(token)
        # The endings the word may have and the proclitics it may start with: a few of each.
        endings = [
            (size - length, kinds)
            for length in range(min(_LONGEST_ENDING, size - _SHORTEST_STEM) + 1)
            if (kinds := _ENDING_KINDS.get(token[size - length :])) is not None
        ]
        if not endings:
            return tuple(found)
        plain, names, feminine, fitting = self._plain, self._names, self._feminine, self._fitting_starts
        for cut in range(min(_LONGEST_PROCLITIC, size - _SHORTEST_STEM) + 1):
            if cut and token[: cut + 1] not in fitting:
                continue
            for stop, (noun, name, feminine_ending) in endings:
                if stop - cut < _SHORTEST_STEM:
                    break
                stem = token[cut:stop]
                if noun and stem in plain:
                    found.append(plain[stem])
                if name and stem in names:
                    found.append(names[stem])
                if feminine_ending and stem in feminine:
                    found.append(feminine[stem])
        return tuple(sorted(set(found))) if len(found) > 1 else tuple(found)

    def _may_split(self, token: str) -> bool:
        """Whether a stem of ``token``, after any proclitic, could start like a known stem: whether
        a beginning of ``token`` is a proclitic followed by such a start (a stem shorter than the
        start compared being compared whole)."""
        # A beginning longer than the word is the word itself, looked up again.
        return not self._split_starts.isdisjoint(_beginnings_of(token))

    def _entry_of(self, word_ids: tuple[int, ...]) -> Entry | None:
        continuations_of = self._continuations_of
        if len(word_ids) == 1:
            continuations: list[int] | tuple[int, ...] = continuations_of[word_ids[0]]
        else:
            continuations = sorted(set().union(*map(continuations_of.__getitem__, word_ids)))
        if not continuations:
            return None
        key = tuple(continuations)
        entry = self._merged.get(key)
        if entry is None:
            entry = self._merged[key] = self._merge(key)
        return entry

    def _merge(self, continuations: tuple[int, ...]) -> Entry:
        """One entry doing the work of several continuations, each owner kept once."""
        # A continuation holds each of its owners once: the first is taken whole.
        owners = list(self._continuations[continuations[0]][0])
        for continuation in continuations[1:]:
            owners.extend(owner for owner in self._continuations[continuation][0] if owner not in owners)
        terms, groups, entities = routed(owners, self._routes.__getitem__)
        with_following = tuple(c for c in continuations if self._continuations[c][1])
        following: FollowingSource | None = None
        if with_following:
            seconds = frozenset(second for c in with_following for second, _ in self._continuations[c][1])
            following = (with_following, {}, seconds)
        return terms or None, groups or None, entities or None, following

    def _following(self, source: FollowingSource, word: Word) -> list[Following]:
        """The phrases of ``source`` whose second word is one of the words ``word`` is a form of,
        each once, in index order."""
        phrases = source[1].get(word[5])
        if phrases is None and source[2].isdisjoint(word[4]):
            # 10,879 of the 11,845 pairs of a first and a second word met in the labeled articles
            # start no phrase, most of them because the second word is no second word of the first.
            phrases = source[1][word[5]] = []
        elif phrases is None:
            word_ids = word[4]
            seen: set[int] = set()
            phrases = source[1][word[5]] = []
            for continuation in source[0]:
                seconds: Sequence[tuple[int, tuple[int, ...]]] = self._continuations[continuation][1]
                if len(seconds) > _SCANNED_SECONDS:
                    seconds = self._seconds_among(continuation, word_ids)
                for second, ids in seconds:
                    if second not in word_ids:
                        continue
                    for phrase in ids:
                        if phrase not in seen:
                            seen.add(phrase)
                            phrases.append(self._phrases[phrase])
        return phrases

    def _seconds_among(
        self, continuation: int, word_ids: tuple[int, ...]
    ) -> list[tuple[int, tuple[int, ...]]]:
        """The second words of ``continuation`` (with their phrases) that are one of ``word_ids``,
        in index order, looked up by second word."""
        seconds = self._continuations[continuation][1]
        positions = self._second_positions.get(continuation)
        if positions is None:
            positions = self._second_positions[continuation] = {}
            for position, (second, _) in enumerate(seconds):
                positions.setdefault(second, []).append(position)
        found = sorted(position for word_id in word_ids for position in positions.get(word_id, ()))
        return [seconds[position] for position in found]

    def find_sorted(self, tokens: list[str]) -> Found:
        """Every phrase occurrence in ``tokens`` (folded words), sorted into terms, groups and
        entities as it is found: one pass, no list of raw matches to sort afterwards. The hot loop
        of the classifier, so it is written out flat: an empty part of an entry (None) is skipped
        by a test, not by starting a loop over it."""
        terms: list[Match] = []
        groups: defaultdict[int, list[Occurrence]] = defaultdict(list)
        entities: list[Match] = []
        # Each token looked up once; most are no phrase word (None), and so end no phrase either.
        words = list(map(self._words.__getitem__, tokens))
        # The last token is followed by no phrase word.
        words.append(None)
        positions, spans = self._positions_for(len(tokens))
        # The positions may go on past the words; the words end (with None) first.
        for position in compress(positions, words):
            owner_terms, owner_groups, owner_entities, following, _, _ = words[position]  # type: ignore[misc]
            if owner_terms is not None:
                for owner in owner_terms:
                    terms.append((owner, position, position + 1))
            if owner_groups is not None:
                occurrence = spans[position]
                for group in owner_groups:
                    groups[group].append(occurrence)
            if owner_entities is not None:
                for owner in owner_entities:
                    entities.append((owner, position, position + 1))
            if following is None:
                continue
            second = words[position + 1]
            if second is None:
                continue
            phrases = following[1].get(second[5])
            if phrases is None:
                phrases = self._following(following, second)
            if phrases:
                self._extend((terms, groups, entities), phrases, words, position)
        return terms, groups, entities

    def _positions_for(self, count: int) -> tuple[Sequence[int], list[Occurrence]]:
        """The positions of a field of ``count`` words and their one-word spans: the shared ones,
        made longer if need be, up to :data:`_SHARED_POSITIONS`; a longer field's made for it alone."""
        if count > len(self._spans):
            if count > _SHARED_POSITIONS:
                return range(count), [(position, position + 1) for position in range(count)]
            new = range(len(self._positions), count)
            self._positions.extend(new)
            self._spans.extend((position, position + 1) for position in new)
        return self._positions, self._spans

    @staticmethod
    def _extend(found: Found, phrases: list[Following], words: list[Word | None], position: int) -> None:
        """Add the ``phrases`` whose other words follow the first two at ``position``."""
        terms, groups, entities = found
        end = position + 1
        count = len(words)
        for rest, phrase_terms, phrase_groups, phrase_entities in phrases:
            stop = end + 1 + len(rest)
            if rest and (stop > count or not _followed_by(words, end + 1, rest)):
                continue
            for owner in phrase_terms:
                terms.append((owner, position, stop))
            for group in phrase_groups:
                groups[group].append((position, stop))
            for owner in phrase_entities:
                entities.append((owner, position, stop))


def _followed_by(words: list[Word | None], start: int, rest: tuple[int, ...]) -> bool:
    """Whether the words from ``start`` on are forms of the phrase words ``rest``, in order."""
    for offset, word_id in enumerate(rest):
        word = words[start + offset]
        if word is None or word_id not in word[4]:
            return False
    return True
