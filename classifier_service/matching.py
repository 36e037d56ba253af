"""Finding phrases in folded Arabic text, each word with its clitics, in one pass over the words.

A phrase word stands for the surface forms it takes in running text (:func:`surface_forms`):
proclitics (و ف ب ك ل س and the article ال, with ل + ال written لل) and endings (sound plurals and
duals, their construct forms, nisba adjectives, attached pronouns, common verb endings, and ta
marbuta written ت before an ending or replaced by ات in the plural). The forms are not stored:
a word of an article is split at match time into each proclitic it may start with and each ending
it may end with (a few candidates, as both lists are short), and the stem left is looked up. What
a word resolves to is remembered, so a frequent word is split once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import compress
from typing import TypeVar

from shared.arabic import fold

PROCLITICS: tuple[str, ...] = (
    "",
    "و",
    "ف",
    "ب",
    "ك",
    "ل",
    "س",
    "ال",
    "وال",
    "فال",
    "بال",
    "كال",
    "لل",
    "ولل",
    "وبال",
    "وب",
    "ول",
    "وس",
    "فب",
)
PRONOUNS: tuple[str, ...] = ("ه", "ها", "هم", "هما", "هن", "ك", "كم", "نا", "ي")
NOUN_ENDINGS: tuple[str, ...] = (
    "",
    "ا",  # accusative tanween: هجوما، صاروخا
    "ات",
    "ون",
    "ين",
    "ان",
    "و",  # construct plural: مقاتلو المعارضة
    "يه",  # nisba feminine: تدريبية، صاروخية
    *PRONOUNS,
    "اته",
    "اتها",
    "اتهم",
)
FEMININE_ENDINGS: tuple[str, ...] = (
    "ه",
    "ات",
    "تان",
    "تين",
    "تا",
    *(f"ت{pronoun}" for pronoun in PRONOUNS),
    "اته",
    "اتها",
    "اتهم",
)
NAME_ENDINGS: tuple[str, ...] = ("", "ه", "ون", "ين", "ات", "ان")
ARTICLE = "ال"
SHORTEST_STEM_AFTER_ARTICLE = 3
SHORT_WORD = 2
V = TypeVar("V")


def stem_of(word: str) -> str:
    """A phrase word without its article, so that every proclitic combination can be put back."""
    if word.startswith(ARTICLE) and len(word) - len(ARTICLE) >= SHORTEST_STEM_AFTER_ARTICLE:
        return word[len(ARTICLE) :]
    return word


def surface_forms(word: str, *, exact: bool = False, name: bool = False) -> frozenset[str]:
    """Every written form of a folded ``word`` that should count as the word itself.

    Words of one or two letters take only و and ف (they would collide with other words otherwise);
    the future prefix س goes only on verb-like forms (starting ي ت ن ا).
    """
    if exact:
        return frozenset({word})
    return stem_forms(stem_of(word), name=name)


def stem_forms(stem: str, *, name: bool = False) -> frozenset[str]:
    """The written forms of a stem (a word without its article)."""
    if len(stem) <= SHORT_WORD:
        return frozenset({stem, "و" + stem, "ف" + stem})
    return frozenset(
        proclitic + form
        for form in _suffixed_forms(stem, name=name)
        for proclitic in PROCLITICS
        if _fits(proclitic, form)
    )


def _fits(proclitic: str, form: str) -> bool:
    if proclitic.endswith("لل") and form.startswith("ل"):
        return False
    return not (proclitic.endswith("س") and not form.startswith(("ي", "ت", "ن", "ا")))


def _suffixed_forms(stem: str, *, name: bool) -> set[str]:
    if name:
        return {stem + ending for ending in NAME_ENDINGS}
    forms = {stem + ending for ending in NOUN_ENDINGS}
    if stem.endswith("ه") and len(stem) > 2:
        # ta marbuta, folded to ه: قوه → قوتها، قوات، قوتين
        base = stem[:-1]
        forms.update(base + ending for ending in FEMININE_ENDINGS)
    return forms


# How a phrase word takes its forms: clitics and noun endings, clitics and name endings, or none.
PLAIN, NAME, EXACT = 0, 1, 2
# A phrase word as the index knows it: its stem (the word itself when exact) and how it takes forms.
WordKey = tuple[str, int]
_PROCLITIC_SET = frozenset(PROCLITICS)
# Each ending: whether nouns, names and feminine bases (stems without their ه) take it.
_ENDING_KINDS = {
    ending: (ending in NOUN_ENDINGS, ending in NAME_ENDINGS, ending in FEMININE_ENDINGS)
    for ending in (*NOUN_ENDINGS, *NAME_ENDINGS, *FEMININE_ENDINGS)
}
# Stems looked up by splitting have three letters or more; feminine bases, one fewer.
_SHORTEST_STEM = SHORT_WORD
_LONGEST_PROCLITIC = max(map(len, PROCLITICS))
_LONGEST_ENDING = max(map(len, (*NOUN_ENDINGS, *NAME_ENDINGS, *FEMININE_ENDINGS)))
# Articles share most of their words, so what a word resolves to is remembered; the memory is
# bounded by forgetting everything when it is full (cheap, and rare once the frequent words are in).
MEMO_SIZE = 1 << 15


def word_key(word: str, *, exact: bool = False, name: bool = False) -> WordKey:
    """What a folded phrase word stands for. Words of one or two letters take the same forms
    as names and as nouns, so they get one key."""
    if exact:
        return word, EXACT
    stem = stem_of(word)
    return stem, (NAME if name and len(stem) > SHORT_WORD else PLAIN)


def key_forms(key: WordKey) -> frozenset[str]:
    """The surface forms of a word key (as :func:`surface_forms`)."""
    stem, mode = key
    return frozenset({stem}) if mode == EXACT else stem_forms(stem, name=mode == NAME)


# A match is ``(owner, start, end)``: who owns the phrase, and its word span ``[start, end)``.
# Plain tuples, because an article yields about a hundred of them and this is the hot loop.
Match = tuple[int, int, int]
# Every owner already sorted into what it is. ``Owners`` is ``(terms, groups, entities)``: the
# term ids, context/exclusion group ids and gazetteer entry positions a phrase stands for.
Owners = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]
# A phrase found after its first two words: the word ids of its other words, and its owners.
Following = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]
Route = Callable[[int], Owners]
# The compiled index, plain data so it can be marshalled to a cache:
# ``(literal, plain, names, feminine, continuations_of, continuations, phrases, routes)``:
# word ids by written form (exact words, forms of short words), by stem (nouns, names), by stem
# without its final ta marbuta; the continuations (first words) of each word id; each
# continuation as ``(owners, ((second word id, phrase ids), ...))``; the phrases; and the
# routed owners of every owner of a continuation.
CompiledIndex = tuple[
    dict[str, tuple[int, ...]],
    dict[str, int],
    dict[str, int],
    dict[str, int],
    list[tuple[int, ...]],
    list[tuple[tuple[int, ...], tuple[tuple[int, tuple[int, ...]], ...]]],
    list[Following],
    dict[int, Owners],
]


@dataclass
class PhraseIndex:
    """Phrases of many owners (terms, lexicons, gazetteer entries), by their words.

    A continuation is what a first word leads to: the owners of the one-word phrases that are that
    word, and the longer phrases by their second word. Continuations are kept in the order their
    first words were added; a word of an article that is a form of several first words stands for
    all their continuations, in that order, each owner and phrase once.
    """

    _word_ids: dict[WordKey, int] = field(default_factory=dict)
    _continuation_ids: dict[tuple[str, bool, bool], int] = field(default_factory=dict)
    _first_words: list[int] = field(default_factory=list)
    _owners: list[list[int]] = field(default_factory=list)
    # Per continuation: phrase ids by second word ``(word, exact, name)``, in the order first added.
    _by_second: list[dict[tuple[str, bool, bool], list[int]]] = field(default_factory=list)
    _second_word_ids: dict[tuple[str, bool, bool], int] = field(default_factory=dict)
    # A phrase is ``(text, owner, ids of the words after the second)``; equal phrases are one.
    _phrase_ids: dict[tuple[str, int, tuple[int, ...]], int] = field(default_factory=dict)

    def add(self, phrase: str, *, owner: int, exact: bool = False, name: bool = False) -> None:
        """Index ``phrase`` (any spelling; it is folded here) for ``owner``."""
        words = fold(phrase).split()
        if not words:
            raise ValueError(f"phrase {phrase!r} has no words")
        first = words[0] if exact else stem_of(words[0])
        continuation = self._continuation((first, exact, name), self._word_id(words[0], exact, name))
        if len(words) == 1:
            if owner not in self._owners[continuation]:
                self._owners[continuation].append(owner)
            return
        rest = tuple(self._word_id(word, exact, name) for word in words[2:])
        phrase_id = self._phrase_ids.setdefault((" ".join(words), owner, rest), len(self._phrase_ids))
        second = (words[1], exact, name)
        self._second_word_ids[second] = self._word_id(words[1], exact, name)
        phrases = self._by_second[continuation].setdefault(second, [])
        if phrase_id not in phrases:
            phrases.append(phrase_id)

    def compile(self, route: Route) -> CompiledIndex:
        """The index as plain data, each owner routed once to terms, groups or entities."""
        literal: dict[str, list[int]] = {}
        plain: dict[str, int] = {}
        names: dict[str, int] = {}
        feminine: dict[str, int] = {}
        for (stem, mode), word_id in self._word_ids.items():
            if mode == EXACT or len(stem) <= SHORT_WORD:
                for form in key_forms((stem, mode)):
                    literal.setdefault(form, []).append(word_id)
            elif mode == NAME:
                names[stem] = word_id
            else:
                plain[stem] = word_id
                if stem.endswith("ه"):
                    feminine[stem[:-1]] = word_id
        continuations_of: list[list[int]] = [[] for _ in self._word_ids]
        for continuation, word_id in enumerate(self._first_words):
            continuations_of[word_id].append(continuation)
        continuations = [
            (
                tuple(owners),
                tuple((self._second_word_ids[second], tuple(ids)) for second, ids in by_second.items()),
            )
            for owners, by_second in zip(self._owners, self._by_second, strict=True)
        ]
        phrases = [(rest, *_routed([owner], route)) for (_, owner, rest) in self._phrase_ids]
        routes = {owner: route(owner) for owners in self._owners for owner in owners}
        return (
            {form: tuple(ids) for form, ids in literal.items()},
            plain,
            names,
            feminine,
            [tuple(ids) for ids in continuations_of],
            continuations,
            phrases,
            routes,
        )

    def _word_id(self, word: str, exact: bool, name: bool) -> int:
        return self._word_ids.setdefault(word_key(word, exact=exact, name=name), len(self._word_ids))

    def _continuation(self, key: tuple[str, bool, bool], word_id: int) -> int:
        continuation = self._continuation_ids.get(key)
        if continuation is None:
            continuation = self._continuation_ids[key] = len(self._first_words)
            self._first_words.append(word_id)
            self._owners.append([])
            self._by_second.append({})
        return continuation


def _routed(owners: list[int] | tuple[int, ...], route: Route) -> Owners:
    terms: list[int] = []
    groups: list[int] = []
    entities: list[int] = []
    for owner in owners:
        owner_terms, owner_groups, owner_entities = route(owner)
        terms.extend(owner_terms)
        groups.extend(group for group in owner_groups if group not in groups)
        entities.extend(owner_entities)
    return tuple(terms), tuple(groups), tuple(entities)


class _Memo(dict[str, V]):
    """Values of ``resolve`` by key, worked out on first use (from C, by ``__getitem__``)."""

    __slots__ = ("_resolve",)

    def __init__(self, resolve: Callable[[str], V]) -> None:
        super().__init__()
        self._resolve = resolve

    def __missing__(self, key: str) -> V:
        if len(self) >= MEMO_SIZE:
            self.clear()
        value = self[key] = self._resolve(key)
        return value


# Where a word's longer phrases are looked up: the continuations that have any, and the phrases
# already worked out for the word ids of a second word.
FollowingSource = tuple[tuple[int, ...], dict[tuple[int, ...], list[Following]]]
# What a word of an article starts: its one-word owners, and where its longer phrases are.
Entry = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], FollowingSource | None]
# Found phrases, sorted: term and entity matches ``(owner, start, end)``, and the ``(start, end)``
# occurrences of each group.
Found = tuple[list[Match], defaultdict[int, list[tuple[int, int]]], list[Match]]


class Matcher:
    """Finds the phrases of a compiled index in the words of an article."""

    def __init__(self, compiled: CompiledIndex) -> None:
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
        self._word_ids: _Memo[tuple[int, ...]] = _Memo(self._word_ids_of)
        self._entries: _Memo[Entry | None] = _Memo(self._entry_of)

    def word_ids(self, token: str) -> tuple[int, ...]:
        """The ids of the phrase words ``token`` (a folded word) is a form of, ascending."""
        return self._word_ids[token]

    def _word_ids_of(self, token: str) -> tuple[int, ...]:
        found = list(self._literal.get(token, ()))
        size = len(token)
        # The endings the word may have and the proclitics it may start with: a few of each.
        endings = [
            (size - length, kinds)
            for length in range(min(_LONGEST_ENDING, size - _SHORTEST_STEM) + 1)
            if (kinds := _ENDING_KINDS.get(token[size - length :])) is not None
        ]
        if not endings:
            return tuple(found)
        plain, names, feminine = self._plain, self._names, self._feminine
        for cut in range(min(_LONGEST_PROCLITIC, size - _SHORTEST_STEM) + 1):
            proclitic = token[:cut]
            if proclitic not in _PROCLITIC_SET or (cut and not _fits(proclitic, token[cut:])):
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

    def _entry_of(self, token: str) -> Entry | None:
        word_ids = self._word_ids[token]
        if not word_ids:
            return None
        continuations_of = self._continuations_of
        if len(word_ids) == 1:
            continuations: list[int] | tuple[int, ...] = continuations_of[word_ids[0]]
        else:
            continuations = sorted({c for word in word_ids for c in continuations_of[word]})
        if not continuations:
            return None
        key = tuple(continuations)
        entry = self._merged.get(key)
        if entry is None:
            entry = self._merged[key] = self._merge(key)
        return entry

    def _merge(self, continuations: tuple[int, ...]) -> Entry:
        """One entry doing the work of several continuations, each owner kept once."""
        owners: list[int] = []
        for continuation in continuations:
            owners.extend(owner for owner in self._continuations[continuation][0] if owner not in owners)
        terms, groups, entities = _routed(owners, self._routes.__getitem__)
        with_following = tuple(c for c in continuations if self._continuations[c][1])
        return terms, groups, entities, ((with_following, {}) if with_following else None)

    def _following(self, source: FollowingSource, token: str) -> list[Following]:
        """The phrases of ``source`` whose second word ``token`` is, each once, in index order."""
        word_ids = self._word_ids[token]
        phrases = source[1].get(word_ids)
        if phrases is None:
            seen: set[int] = set()
            phrases = source[1][word_ids] = []
            for continuation in source[0]:
                for second, ids in self._continuations[continuation][1]:
                    if second not in word_ids:
                        continue
                    for phrase in ids:
                        if phrase not in seen:
                            seen.add(phrase)
                            phrases.append(self._phrases[phrase])
        return phrases

    def find_sorted(self, tokens: list[str]) -> Found:
        """Every phrase occurrence in ``tokens`` (folded words), sorted into terms, groups and
        entities as it is found: one pass, no list of raw matches to sort afterwards. The hot loop
        of the classifier, so it is written out flat."""
        terms: list[Match] = []
        groups: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
        entities: list[Match] = []
        found = list(map(self._entries.__getitem__, tokens))
        word_ids = self._word_ids
        count = len(tokens)
        for position in compress(range(count), found):
            owner_terms, owner_groups, owner_entities, following = found[position]  # type: ignore[misc]
            end = position + 1
            for owner in owner_terms:
                terms.append((owner, position, end))
            if owner_groups:
                occurrence = (position, end)
                for group in owner_groups:
                    groups[group].append(occurrence)
            for owner in owner_entities:
                entities.append((owner, position, end))
            if following is None or end == count:
                continue
            phrases = following[1].get(word_ids[tokens[end]])
            if phrases is None:
                phrases = self._following(following, tokens[end])
            if not phrases:
                continue
            self._extend((terms, groups, entities), phrases, tokens, position)
        return terms, groups, entities

    def _extend(self, found: Found, phrases: list[Following], tokens: list[str], position: int) -> None:
        """Add the ``phrases`` whose other words follow the first two at ``position``."""
        terms, groups, entities = found
        word_ids = self._word_ids
        end = position + 1
        count = len(tokens)
        for rest, phrase_terms, phrase_groups, phrase_entities in phrases:
            stop = end + 1 + len(rest)
            if rest and (
                stop > count
                or not all(word in word_ids[tokens[end + 1 + offset]] for offset, word in enumerate(rest))
            ):
                continue
            for owner in phrase_terms:
                terms.append((owner, position, stop))
            for group in phrase_groups:
                groups[group].append((position, stop))
            for owner in phrase_entities:
                entities.append((owner, position, stop))
