"""An index of phrases by their words, compiled into plain data for the matcher and the cache.

Phrases belong to owners (a taxonomy term, a context or exclusion group, a gazetteer entry). The
written forms of their words are not stored: each phrase word is kept as its key (its stem and how
it takes clitics and endings, :mod:`shared.forms`), and the matcher splits the words of
an article to find those keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from shared.arabic import fold
from shared.forms import EXACT, NAME, SHORT_WORD, WordKey, key_forms, stem_of, word_key

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
        phrases = [(rest, *routed([owner], route)) for (_, owner, rest) in self._phrase_ids]
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


def routed(owners: list[int] | tuple[int, ...], route: Route) -> Owners:
    """What ``owners`` stand for together: their terms, their groups (each once), their entities."""
    terms: list[int] = []
    groups: list[int] = []
    entities: list[int] = []
    for owner in owners:
        owner_terms, owner_groups, owner_entities = route(owner)
        terms.extend(owner_terms)
        groups.extend(group for group in owner_groups if group not in groups)
        entities.extend(owner_entities)
    return tuple(terms), tuple(groups), tuple(entities)
