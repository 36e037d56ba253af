"""Finding phrases in folded Arabic text, each word with its clitics, in one pass over the words.

Every word of every phrase is expanded once, at load time, into the surface forms it takes in
running text: proclitics (و ف ب ك ل س and the article ال, with ل + ال written لل) and endings
(sound plurals and duals, their construct forms, nisba adjectives, attached pronouns, common verb
endings, and ta marbuta written ت before an ending or replaced by ات in the plural). A dict from
surface form to the phrases that start with it makes matching one lookup per word of the article.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import compress

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


@dataclass(frozen=True, slots=True)
class Phrase:
    """A phrase of two words or more, found after its first two words: the forms of the others."""

    text: str
    owner: int
    rest: tuple[frozenset[str], ...]


@dataclass(slots=True)
class Continuation:
    """What a first word leads to: one-word phrases ending there, longer ones by their second word."""

    owners: list[int] = field(default_factory=list)
    following: dict[str, list[Phrase]] = field(default_factory=dict)
    # Build time only: phrases by their second word, ``(word, exact, name)``, before its forms exist.
    by_second: dict[tuple[str, bool, bool], list[Phrase]] = field(default_factory=dict)


def _join(phrases: list[Phrase], more: list[Phrase]) -> list[Phrase]:
    """``phrases`` and the phrases of ``more`` not in it, as a new list (both may be shared)."""
    return phrases + [phrase for phrase in more if phrase not in phrases]


# A match is ``(owner, start, end)``: who owns the phrase, and its word span ``[start, end)``.
# Plain tuples, because an article yields about a hundred of them and this is the hot loop.
Match = tuple[int, int, int]


@dataclass
class PhraseIndex:
    """Phrases of many owners (terms, lexicons, gazetteer entries), keyed by first-word surface.

    A surface form that several first words share (تدريب + ات is تدريبات) gets one merged
    :class:`Continuation`, so an owner is found once per occurrence, however many of its phrases
    the form belongs to. Forms with the same first words share one merged continuation.
    """

    by_first_form: dict[str, Continuation] = field(default_factory=dict)
    _continuations: dict[tuple[str, bool, bool], Continuation] = field(default_factory=dict)
    _form_cache: dict[tuple[str, bool, bool], frozenset[str]] = field(default_factory=dict)
    # One string object per surface form, whether it is a first or a following word.
    _strings: dict[str, str] = field(default_factory=dict)

    def add(self, phrase: str, *, owner: int, exact: bool = False, name: bool = False) -> None:
        """Index ``phrase`` (any spelling; it is folded here) for ``owner``. Call :meth:`build` after."""
        words = fold(phrase).split()
        if not words:
            raise ValueError(f"phrase {phrase!r} has no words")
        first = words[0] if exact else stem_of(words[0])
        continuation = self._continuations.setdefault((first, exact, name), Continuation())
        if len(words) == 1:
            if owner not in continuation.owners:
                continuation.owners.append(owner)
            return
        rest = tuple(self._forms(word, exact=exact, name=name) for word in words[2:])
        entry = Phrase(" ".join(words), owner, rest)
        entries = continuation.by_second.setdefault((words[1], exact, name), [])
        if entry not in entries:
            entries.append(entry)

    def build(self) -> None:
        """Map every surface form of every first word to its continuation; drop build-time caches."""
        by_first = self.by_first_form
        strings = self._strings
        clashes: dict[str, list[Continuation]] = {}
        for (first, exact, name), continuation in self._continuations.items():
            self._expand_second_words(continuation)
            forms = frozenset({first}) if exact else stem_forms(first, name=name)
            for form in forms:
                present = by_first.setdefault(strings.setdefault(form, form), continuation)
                if present is not continuation:
                    clashes.setdefault(form, [present]).append(continuation)
        merged: dict[tuple[int, ...], Continuation] = {}
        for form, continuations in clashes.items():
            key = tuple(map(id, continuations))
            if key not in merged:
                merged[key] = _merged(continuations)
            by_first[form] = merged[key]
        self._continuations.clear()
        self._form_cache.clear()
        strings.clear()

    def _expand_second_words(self, continuation: Continuation) -> None:
        """Key the continuation's phrases by every form of their second word; the forms of one
        word share one list."""
        following = continuation.following
        for (word, exact, name), phrases in continuation.by_second.items():
            for form in self._forms(word, exact=exact, name=name):
                present = following.setdefault(form, phrases)
                if present is not phrases:
                    following[form] = _join(present, phrases)
        continuation.by_second.clear()

    def find(self, tokens: list[str]) -> list[Match]:
        """All phrase occurrences in ``tokens`` (folded words), overlapping ones included."""
        matches: list[Match] = []
        append = matches.append
        found = list(map(self.by_first_form.get, tokens))
        last = len(tokens) - 1
        # compress() walks only the words that start a phrase: the lookups above ran in C.
        for index in compress(range(len(tokens)), found):
            continuation: Continuation = found[index]  # type: ignore[assignment]
            for owner in continuation.owners:
                append((owner, index, index + 1))
            if continuation.following and index < last:
                phrases = continuation.following.get(tokens[index + 1])
                if phrases:
                    self._extend(matches, phrases, tokens, index)
        return matches

    @staticmethod
    def _extend(matches: list[Match], phrases: list[Phrase], tokens: list[str], index: int) -> None:
        for phrase in phrases:
            if not phrase.rest or PhraseIndex._rest_matches(phrase, tokens, index + 2):
                matches.append((phrase.owner, index, index + 2 + len(phrase.rest)))

    @staticmethod
    def _rest_matches(phrase: Phrase, tokens: list[str], start: int) -> bool:
        if start + len(phrase.rest) > len(tokens):
            return False
        return all(tokens[start + offset] in forms for offset, forms in enumerate(phrase.rest))

    def _forms(self, word: str, *, exact: bool, name: bool) -> frozenset[str]:
        key = (word, exact, name)
        cached = self._form_cache.get(key)
        if cached is None:
            strings = self._strings
            forms = surface_forms(word, exact=exact, name=name)
            cached = self._form_cache[key] = frozenset(strings.setdefault(form, form) for form in forms)
        return cached


# The compiled index: plain dicts, tuples, lists and frozensets (so it can be marshalled to a cache),
# with every owner already sorted into what it is. ``Owners`` is ``(terms, groups, entities)``: the
# term ids, context/exclusion group ids and gazetteer entry positions a phrase stands for.
Owners = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]
# A phrase found after its first two words: the forms of its other words, and its owners.
Following = tuple[tuple[frozenset[str], ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]
# What a first-word form leads to: its one-word owners, and longer phrases by their second word.
Entry = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], dict[str, list[Following]] | None]
CompiledIndex = dict[str, Entry]
Route = Callable[[int], Owners]


def compile_index(index: PhraseIndex, route: Route) -> CompiledIndex:
    """``index`` (built) as plain data, each owner routed once to terms, groups or entities."""
    entries: dict[int, Entry] = {}
    phrase_lists: dict[int, list[Following]] = {}
    compiled: CompiledIndex = {}
    for form, continuation in index.by_first_form.items():
        entry = entries.get(id(continuation))
        if entry is None:
            entry = entries[id(continuation)] = _entry(continuation, route, phrase_lists)
        compiled[form] = entry
    return compiled


def _entry(continuation: Continuation, route: Route, phrase_lists: dict[int, list[Following]]) -> Entry:
    terms, groups, entities = _routed(continuation.owners, route)
    following: dict[str, list[Following]] = {}
    for form, phrases in continuation.following.items():
        routed = phrase_lists.get(id(phrases))
        if routed is None:
            routed = phrase_lists[id(phrases)] = [
                (phrase.rest, *_routed([phrase.owner], route)) for phrase in phrases
            ]
        following[form] = routed
    return terms, groups, entities, following or None


def _routed(owners: list[int], route: Route) -> Owners:
    terms: list[int] = []
    groups: list[int] = []
    entities: list[int] = []
    for owner in owners:
        owner_terms, owner_groups, owner_entities = route(owner)
        terms.extend(owner_terms)
        groups.extend(group for group in owner_groups if group not in groups)
        entities.extend(owner_entities)
    return tuple(terms), tuple(groups), tuple(entities)


# Found phrases, sorted: term and entity matches ``(owner, start, end)``, and the ``(start, end)``
# occurrences of each group.
Found = tuple[list[Match], defaultdict[int, list[tuple[int, int]]], list[Match]]


def find_sorted(index: CompiledIndex, tokens: list[str]) -> Found:
    """Every phrase occurrence in ``tokens`` (folded words), sorted into terms, groups and entities
    as it is found: one pass, no list of raw matches to sort afterwards. The hot loop of the
    classifier, so it is written out flat."""
    terms: list[Match] = []
    groups: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
    entities: list[Match] = []
    found = list(map(index.get, tokens))
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
        phrases = following.get(tokens[end])
        if not phrases:
            continue
        for rest, phrase_terms, phrase_groups, phrase_entities in phrases:
            stop = end + 1 + len(rest)
            if rest and (
                stop > count
                or not all(tokens[end + 1 + offset] in forms for offset, forms in enumerate(rest))
            ):
                continue
            for owner in phrase_terms:
                terms.append((owner, position, stop))
            for group in phrase_groups:
                groups[group].append((position, stop))
            for owner in phrase_entities:
                entities.append((owner, position, stop))
    return terms, groups, entities


def _merged(continuations: list[Continuation]) -> Continuation:
    """One continuation doing the work of several, each owner and phrase kept once."""
    if len(continuations) == 1:
        return continuations[0]
    with_following = [continuation for continuation in continuations if continuation.following]
    merged = Continuation()
    if len(with_following) == 1:
        merged.following = with_following[0].following
    for continuation in continuations:
        merged.owners.extend(owner for owner in continuation.owners if owner not in merged.owners)
        if merged.following is continuation.following:
            continue
        for form, phrases in continuation.following.items():
            present = merged.following.setdefault(form, phrases)
            if present is not phrases:
                merged.following[form] = _join(present, phrases)
    return merged
