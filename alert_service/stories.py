"""Story grouping: which articles, from any outlets, report the same specific event.

An arriving article joins the story of the most similar article seen within the window (72 h by
default) when the similarity clears a threshold, or starts a story of its own. The same functions
serve the running pipeline (:mod:`alert_service.story_store` keeps the members in the database) and
``rasid stories`` (:class:`StoryIndex` keeps them in memory), so both group alike.

An article is reduced to a :class:`Profile`: a TF-IDF vector of its title (weighted up) and its
first 300 words (what an outlet leads with names the event and who reacted to it), a vector of the
title alone, and the places it names. Terms are folded Arabic words (:func:`shared.arabic.fold`)
with the article and the conjunctions and prepositions that attach to a word taken off, so
``والعراق`` and ``العراق`` are one term, then reduced to a skeleton without their inner long
vowels (:func:`skeleton`), so the spellings outlets give one foreign name (نتنياهو, نتانياهو;
أميركي, أمريكي) and a noun's singular and broken plural are one term. IDF weights come from a table
built over a news corpus (``rasid stories --build-idf``); a term the table does not hold is taken to
be rare.

Two articles are compared by :func:`similarity`, a weighted sum of the cosine of their vectors and
the cosine of their titles, less a penalty when both name places of the configured gazetteer
(``RASID_GAZETTEER_PATH``) and none is shared (:class:`PlaceNames`: a drone strike in Mosul is not
one in Homs, whatever words they share). A story's score blends its closest member and its
centroid, less a penalty for the hours since the story began past the first day (one day's reports
of an event are alike however far apart in the day; a story that any later report could extend
would swallow weeks of one war's different strikes).

An article is compared with the stories that have a member sharing one of its key terms, at most
MOST_CANDIDATES of them (:func:`story_ids_sharing`): a stream's window never has that many, an
archive of tens of thousands of undated files dropped at once, all in one window, has thousands,
and those sharing the most and the rarest key terms are compared (an approximation measured in
:data:`MOST_CANDIDATES`'s comment).

The window is bounded by count as well (:func:`window_start`): of the members within it an article
is compared with the latest ``most_in_window`` (5,000), which a stream never reaches and an archive of
undated files does (each file is then compared with the 5,000 placed before it; the figures are in
:class:`alert_service.grouping.GroupingSettings`).

The settings were chosen on four labeled days of five outlets and checked by leaving each day out
(``python -m benchmarks.story_folds``: a grid of threshold, title weight, link share and place
penalty searched on three days, the fourth scored): held-out pairwise F1 0.81 to 0.98 a day, mean
0.92 (B-cubed F1 mean 0.95); the shipped settings score 0.96 on the four days. Measured and not
kept: a bonus for numbers both articles cite (a shared count such as 3 or 10 joined different
events), capping the IDF of rare words, a lower threshold for large stories, and discounting the
single heaviest shared term (a person's name) of a pair.
"""

from __future__ import annotations

import bisect
import gzip
import itertools
import math
import operator
import re
import sys
import threading
from array import array
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple, cast

import numpy as np
import numpy.typing as npt

from alert_service.grouping import GroupingSettings
from shared.arabic import fold, word_texts
from shared.gazetteer import PACKAGED_GAZETTEER, Gazetteer, gazetteer_of

# Prefixes taken off a word, longest first: conjunction or preposition + article, then the article,
# then a lone conjunction on a long word (a short one may begin with و or ف as a root letter).
_ARTICLE_PREFIXES = ("وبال", "وكال", "فبال", "وال", "بال", "كال", "فال", "لل", "ال")
_SHORT_PREFIXES = ("و", "ف", "ب", "ل")
_SUFFIXES = ("ها", "هم", "ات", "ون", "ين", "ه")
_LONG_VOWELS = re.compile("[اوي]")
IDF_RESOURCE = "story_idf.tsv.gz"
CENTROID_MEMBERS = 20
# How many of an article's heaviest terms find the articles it is compared with.
KEY_TERMS = 15
# The places of an article are those its title and its first words name.
_PLACE_WORDS = 40
# Arabic news words average about six characters with their space: a text's first N words are
# within its first N * _WORD_CHARACTERS characters, or nearly all of them.
_WORD_CHARACTERS = 8
_PLACE_CHARACTERS = _PLACE_WORDS * _WORD_CHARACTERS
# Words whose stem and term are kept, in two generations of up to this many each (_WordCache). The
# corpus's 30,000 articles hold about 200,000 distinct words, but the common ones make most of any
# article: of the words a pool child looks up in its share of a burst of 5,000 files (2,600 articles,
# benchmarks/worker_memory.py), 85.8% are found at 10,000, 89.9% at 20,000, 91.6% at 50,000. The
# words stemmed again cost a profile 354 us of CPU an article at 10,000, 333 at 20,000, 323 at 50,000
# (the best of four runs over those articles), where generations of 50,000 held 12 MB more of each
# pool child at the burst's end (170 MB, not 158), of 20,000 3 MB more.
_WORDS_KEPT = 10_000


def stem(word: str) -> str:
    """A folded word without its attached article, conjunction or preposition and common endings.

    Each list is tried only when the word begins (or ends) with one of it, a single call in C: a word
    the word cache does not hold is stemmed in 0.9 µs, not 1.7 (70,000 words of the corpus)."""
    if word.startswith(_ARTICLE_PREFIXES):
        for prefix in _ARTICLE_PREFIXES:
            if word.startswith(prefix) and len(word) - len(prefix) >= 3:
                word = word[len(prefix) :]
                break
        else:
            word = _without_short_prefix(word)
    elif word.startswith(_SHORT_PREFIXES):
        word = _without_short_prefix(word)
    if word.endswith(_SUFFIXES):
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                return word[: -len(suffix)]
    return word


def _without_short_prefix(word: str) -> str:
    """``word`` without a lone conjunction or preposition, when what is left is long enough."""
    for prefix in _SHORT_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 4:
            return word[len(prefix) :]
    return word


def skeleton(term: str) -> str:
    """A stem of four letters or more without the long vowels (ا و ي) after its first letter.

    Outlets spell a foreign name each their own way (نتنياهو and نتانياهو, أميركي and أمريكي,
    ميركل and ميركيل) and an Arabic noun's broken plural differs from its singular by its long
    vowels (موقع, مواقع): without them each is one term. Short stems and numbers are kept whole."""
    if len(term) < 4 or term.isdigit():
        return term
    return term[0] + _LONG_VOWELS.sub("", term[1:])


class _WordCache:
    """The stem and term of each word seen lately, in plain dicts: an article's words are looked up
    all at once in C (a dict lookup costs a fraction of a call to an ``lru_cache``), and only the words
    not yet known are stemmed. Kept in two generations of ``size`` words: when the newer is full it
    becomes the older, and the words met again are taken from it, so the common words stay."""

    def __init__(self, size: int = _WORDS_KEPT) -> None:
        self._size = size
        # A one-letter word (not a digit) has no stem or term: the empty string, dropped by the callers.
        self._stems: dict[str, str] = {}
        self._terms: dict[str, str] = {}
        self._older_stems: dict[str, str] = {}
        self._older_terms: dict[str, str] = {}

    def __len__(self) -> int:
        """How many words are kept, in both generations."""
        return len(self._terms) + len(self._older_terms)

    def stems(self, words: list[str]) -> list[str]:
        """The stem of each of ``words`` ("" for a one-letter word)."""
        self._learn(words)
        return list(map(self._stems.__getitem__, words))

    def terms(self, words: list[str]) -> list[str]:
        """The term of each of ``words`` ("" for a one-letter word)."""
        self._learn(words)
        return list(map(self._terms.__getitem__, words))

    def _learn(self, words: list[str]) -> None:
        new = set(words).difference(self._terms)
        if not new:
            return
        if len(self._terms) + len(new) > self._size:
            self._older_stems, self._older_terms = self._stems, self._terms
            self._stems, self._terms = {}, {}
            new = set(words)
        stems, terms, older_terms = self._stems, self._terms, self._older_terms
        for word in new:
            term = older_terms.get(word)
            if term is not None:
                stems[word], terms[word] = self._older_stems[word], term
            elif len(word) > 1 or word.isdigit():
                # One object a term: profiles, centroids and the IDF table then compare terms by
                # identity, without reading the characters of two copies.
                stems[word] = word_stem = sys.intern(stem(word))
                terms[word] = sys.intern(skeleton(word_stem))
            else:
                stems[word] = terms[word] = ""


_WORDS = _WordCache()


def stems(text: str) -> list[str]:
    """The stems of the folded words of ``text`` of two letters or more, numbers kept."""
    return list(filter(None, _WORDS.stems(word_texts(fold(text)))))


def terms(text: str) -> list[str]:
    """The terms of ``text``: the skeletons of its stems."""
    return list(filter(None, _WORDS.terms(word_texts(fold(text)))))


@dataclass(frozen=True)
class IdfTable:
    """Inverse document frequencies of terms over a corpus of ``documents`` articles."""

    documents: int
    frequencies: Mapping[str, int]
    # A term missing from the table occurred in fewer articles than this when it was built.
    min_frequency: int = 1

    def idf(self, term: str) -> float:
        """log(N / df), a missing term counted as half the table's smallest frequency."""
        return self._weights.get(term, self._rare)

    def weigh(self, counts: Mapping[str, float]) -> dict[str, float]:
        """(1 + log tf) * idf of each term of ``counts`` (term -> count in one article)."""
        idfs = map(self._weights.get, counts, itertools.repeat(self._rare))
        return dict(zip(counts, map(operator.mul, _term_frequencies(counts.values()), idfs), strict=True))

    @cached_property
    def _weights(self) -> dict[str, float]:
        documents = self.documents
        # One float for each frequency: 20,495 terms have 1,759 (0.45 MB in each alert process).
        weight_of = {count: math.log(documents / count) for count in set(self.frequencies.values())}
        return {sys.intern(term): weight_of[count] for term, count in self.frequencies.items()}

    @cached_property
    def _rare(self) -> float:
        return math.log(self.documents / (self.min_frequency / 2))

    def dump(self) -> bytes:
        """The table as gzip'd TSV: a header line, then ``term<TAB>frequency`` most frequent first."""
        lines = [f"#documents\t{self.documents}\t{self.min_frequency}"]
        ranked = sorted(self.frequencies.items(), key=lambda item: (-item[1], item[0]))
        lines += [f"{term}\t{frequency}" for term, frequency in ranked]
        return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0)

    @classmethod
    def load(cls, data: bytes) -> IdfTable:
        """A table from :meth:`dump`'s bytes."""
        lines = gzip.decompress(data).decode("utf-8").splitlines()
        _, documents, min_frequency = lines[0].split("\t")
        frequencies = {}
        # One int for each frequency, as for the weights (Python shares those up to 256 itself).
        numbers: dict[int, int] = {}
        for line in lines[1:]:
            term, frequency = line.split("\t")
            number = int(frequency)
            frequencies[term] = numbers.setdefault(number, number)
        return cls(int(documents), frequencies, int(min_frequency))

    @classmethod
    def build(cls, texts: Iterable[str], *, min_frequency: int) -> IdfTable:
        """Count in how many of ``texts`` each term occurs; keep terms in ``min_frequency`` or more."""
        counts: Counter[str] = Counter()
        documents = 0
        for text in texts:
            documents += 1
            counts.update(set(terms(text)))
        kept = {term: count for term, count in counts.items() if count >= min_frequency}
        return cls(documents, kept, min_frequency)


# 1 + log(count) of each count seen: an article's counts are a few small numbers, met again and again.
_LOG_COUNTS: dict[float, float] = {}


def _term_frequencies(counts: Collection[float]) -> Iterator[float]:
    """1 + log(count) of each of ``counts``, in order."""
    new = set(counts).difference(_LOG_COUNTS)
    if len(_LOG_COUNTS) + len(new) > 10_000:
        _LOG_COUNTS.clear()
    for count in new:
        _LOG_COUNTS[count] = 1 + math.log(count)
    return map(_LOG_COUNTS.__getitem__, counts)


@cache
def default_idf() -> IdfTable:
    """The IDF table shipped with the alert service (built by ``rasid stories idf``)."""
    data = resources.files("alert_service").joinpath(IDF_RESOURCE).read_bytes()
    return IdfTable.load(data)


@dataclass(frozen=True)
class PlaceNames:
    """The countries and places of a gazetteer, found in an article's stems: two articles that name
    places, none of them shared (or lying within one another), report different events."""

    by_first_term: Mapping[str, tuple[tuple[tuple[str, ...], str], ...]]
    within: Mapping[str, str]

    @classmethod
    def of_gazetteer(cls, gazetteer: Gazetteer) -> PlaceNames:
        """The names of the gazetteer's countries and places, as stems."""
        by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        within: dict[str, str] = {}
        for entry in gazetteer.entries:
            if entry.kind not in ("country", "place"):
                continue
            if entry.within:
                within[entry.id] = entry.within
            for name in {entry.name, *entry.names}:
                name_terms = tuple(stems(name))
                if name_terms:
                    by_first.setdefault(name_terms[0], []).append((name_terms, entry.id))
        return cls({term: tuple(names) for term, names in by_first.items()}, within)

    def find(self, article_terms: Sequence[str]) -> frozenset[str]:
        """The ids of the places named in ``article_terms`` (stems, :func:`stems`) and of the places
        they lie within."""
        found: set[str] = set()
        for index, term in enumerate(article_terms):
            for name_terms, entity_id in self.by_first_term.get(term, ()):
                if tuple(article_terms[index : index + len(name_terms)]) == name_terms:
                    found.add(entity_id)
        for entity_id in list(found):
            container = self.within.get(entity_id)
            while container is not None and container not in found:
                found.add(container)
                container = self.within.get(container)
        return frozenset(found)


@lru_cache(maxsize=16)
def places_of(path: Path | None = None) -> PlaceNames:
    """The place names of the gazetteer at ``path`` (the packaged one when None), read once per
    process."""
    # Cached by the path as given too: resolving it costs file system calls for every article.
    return _places_at((path or PACKAGED_GAZETTEER).resolve())


@cache
def _places_at(path: Path) -> PlaceNames:
    return PlaceNames.of_gazetteer(gazetteer_of(path))


@dataclass(frozen=True)
class StoryArticle:
    """What grouping reads of an article."""

    id: str
    source: str
    published: datetime
    title: str
    text: str


class Profile:
    """An article reduced to what grouping compares; JSON-safe through :meth:`to_json`. Not changed
    once made.

    A store worker's window holds tens of thousands of profiles, so each is held compactly: its
    terms as a tuple (the process's one copy of each term), its weights as whole ten-thousandths of
    16 bits each (the four decimals profiles are rounded to), read back as the very floats they were.
    A weight that is not such a fraction (no profile made here has one) keeps its float, and so do
    the other weights of its vector. A profile held takes about 2 KB, where dicts of its weights
    took 4.4 KB. :attr:`vector` and :attr:`title_vector` are the weights as dicts, made when asked.
    """

    __slots__ = (
        "_packed",
        "article_id",
        "key_terms",
        "places",
        "published",
        "source",
        "squares",
        "title_terms",
        "title_weights",
        "vector_terms",
        "vector_weights",
    )

    article_id: str
    source: str
    published: datetime
    places: frozenset[str]
    # The terms of the vector and of the title, in order; their weights are read by the functions
    # of _weights_of (stored as _compact wrote them).
    vector_terms: tuple[str, ...]
    title_terms: tuple[str, ...]
    vector_weights: array[Any]
    title_weights: array[Any]
    # The KEY_TERMS heaviest terms, heaviest first: two articles are compared only when they share one.
    key_terms: tuple[str, ...]
    _packed: bytes | _NotPacked | None
    # The vector's weights squared and summed: its length squared.
    squares: float

    def __init__(  # noqa: PLR0913 -- the constructor of the dataclass it was: each field, places keyword-only
        self,
        article_id: str,
        source: str,
        published: datetime,
        vector: Mapping[str, float],
        title_vector: Mapping[str, float],
        *,
        places: frozenset[str] = frozenset(),
    ) -> None:
        self._fill(article_id, source, published, places)
        self._weigh((list(vector), list(vector.values())), (list(title_vector), list(title_vector.values())))

    @classmethod
    def _of_weights(
        cls,
        article_id: str,
        *,
        source: str,
        published: datetime,
        weights: tuple[_Weights, _Weights],
        places: frozenset[str],
    ) -> Profile:
        """A profile of the vector's and the title's terms and weights, in order (lists, not dicts)."""
        made = cls.__new__(cls)
        made._fill(article_id, source, published, places)
        made._weigh(*weights)
        return made

    def _fill(self, article_id: str, source: str, published: datetime, places: frozenset[str]) -> None:
        # The process's one copy of each outlet's name: a window's profiles read back from the
        # database held one each (0.3 MB in each alert pool child).
        self.article_id, self.source, self.published = article_id, sys.intern(source), published
        self.places = places
        self._packed = _NOT_PACKED

    def _weigh(self, vector: _Weights, title: _Weights) -> None:
        self.vector_terms, self.title_terms = tuple(vector[0]), tuple(title[0])
        self.vector_weights, self.title_weights = _compact(vector[1]), _compact(title[1])
        self.key_terms = _key_terms(*vector)
        self.squares = math.fsum(map(operator.mul, vector[1], vector[1]))

    def copied(self, *, article_id: str, published: datetime) -> Profile:
        """The same weights and places as another article's, published at ``published``."""
        made = Profile.__new__(Profile)
        made._fill(article_id, self.source, published, self.places)
        made.vector_terms, made.title_terms = self.vector_terms, self.title_terms
        made.vector_weights, made.title_weights = self.vector_weights, self.title_weights
        made.key_terms, made.squares = self.key_terms, self.squares
        return made

    @property
    def vector(self) -> dict[str, float]:
        """The vector's weights by term, in order."""
        return dict(zip(self.vector_terms, _weights_of(self.vector_weights), strict=True))

    @property
    def title_vector(self) -> dict[str, float]:
        """The title's weights by term, in order."""
        return dict(zip(self.title_terms, _weights_of(self.title_weights), strict=True))

    @property
    def keys(self) -> frozenset[str]:
        """The :attr:`key_terms` as a set."""
        return frozenset(self.key_terms)

    @property
    def packed(self) -> bytes | None:
        """The vector and the title's as :func:`_packed` writes them, for :func:`_story_bounds`."""
        packed = self._packed
        if isinstance(packed, _NotPacked):
            packed = self._packed = _packed(self)
        return packed

    def pack(self) -> None:
        """Pack the weights now (:attr:`packed`), not when the profile is first compared."""
        self.packed  # noqa: B018 - kept once made

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Profile):
            return NotImplemented
        return self._compared() == other._compared()

    # Unhashable, as the dataclass of dicts it replaces was.
    __hash__ = None  # type: ignore[assignment]

    def _compared(self) -> tuple[object, ...]:
        return (self.article_id, self.source, self.published, self.vector, self.title_vector, self.places)

    def __repr__(self) -> str:
        return f"Profile({self.article_id!r}, {self.source!r}, {self.published.isoformat()!r})"

    def to_json(self) -> dict[str, object]:
        """The profile's comparable parts, as stored beside a story member."""
        return {
            "vector": self.vector,
            "title": self.title_vector,
            "places": sorted(self.places),
        }

    @classmethod
    def from_json(
        cls, article_id: str, *, source: str, published: datetime, data: Mapping[str, object]
    ) -> Profile:
        """A profile back from :meth:`to_json` and the member's columns."""
        vector, title, places = data.get("vector"), data.get("title"), data.get("places", [])
        if not (isinstance(vector, dict) and isinstance(title, dict) and isinstance(places, list)):
            raise ValueError(f"the stored profile of {article_id} is not one to_json wrote")
        return cls._of_weights(
            article_id,
            source=source,
            published=published,
            weights=(_weights_read(vector), _weights_read(title)),
            places=_one_copy(frozenset(map(str, places))),
        )


class _NotPacked:
    """What a profile holds until its weights are packed (None is a profile that cannot be)."""


_NOT_PACKED = _NotPacked()
# A vector's terms and their weights, in order.
_Weights = tuple[list[str], list[float]]
# Each weight of whole ten-thousandths, by its number of them: the float a profile's weight rounded
# to four decimals is (both the float nearest to the fraction).
_UNIT_WEIGHTS = [units / 10_000 for units in range(10_001)]
# How the weights of a vector are read back, by the type code of the array holding them.
_READERS: dict[str, Callable[[Any], float]] = {"H": _UNIT_WEIGHTS.__getitem__, "d": float}


def _compact(weights: list[float]) -> array[Any]:
    """``weights`` as whole ten-thousandths of 16 bits when each is one, else as floats."""
    try:
        units = array("H", map(round, map(operator.mul, weights, itertools.repeat(10_000))))
    except (ValueError, OverflowError):
        # A weight not a number, infinite, negative or too large for 16 bits.
        return array("d", weights)
    if max(units, default=0) <= 10_000 and list(map(_UNIT_WEIGHTS.__getitem__, units)) == weights:
        return units
    return array("d", weights)


def _weights_of(weights: array[Any]) -> Iterator[float]:
    """The weights :func:`_compact` held, in order."""
    return map(_READERS[weights.typecode], weights)


def _key_terms(terms: list[str], weights: list[float]) -> tuple[str, ...]:
    """The :data:`KEY_TERMS` heaviest of ``terms``, heaviest first (ties broken by the term)."""
    heavy: Iterable[tuple[str, float]] = zip(terms, weights, strict=True)
    if len(terms) > KEY_TERMS:
        # Only the terms as heavy as the KEY_TERMS-th are ranked.
        least = sorted(weights, reverse=True)[KEY_TERMS - 1]
        heavy = itertools.compress(heavy, map(operator.ge, weights, itertools.repeat(least)))
    ranked = sorted(heavy, key=_heaviest_first)
    return tuple(term for term, _ in ranked[:KEY_TERMS])


def _heaviest_first(item: tuple[str, float]) -> tuple[float, str]:
    return (-item[1], item[0])


def _weights_read(stored: Mapping[object, object]) -> _Weights:
    """Stored weights, in their order, with the process's one copy of each term."""
    return list(map(sys.intern, map(str, stored))), list(map(float, cast(Iterable[float], stored.values())))


# The places of profiles held: a few hundred sets serve them all (5,000 undated files of the corpus
# name 683 distinct sets). Kept up to _PLACE_SETS_KEPT: at 10,000, a burst of 30,000 undated files left
# 1.1 MiB of sets no profile held in each alert pool child.
_PLACE_SETS: dict[frozenset[str], frozenset[str]] = {}
_PLACE_SETS_KEPT = 1_000


def _one_copy(places: frozenset[str]) -> frozenset[str]:
    """The process's one copy of the set ``places``."""
    if len(_PLACE_SETS) >= _PLACE_SETS_KEPT:
        _PLACE_SETS.clear()
    return _PLACE_SETS.setdefault(places, places)


def _weighted(counts: Mapping[str, float], idf: IdfTable, *, keep: int) -> _Weights:
    top = sorted(idf.weigh(counts).items(), key=operator.itemgetter(1), reverse=True)[:keep]
    if not top:
        return [], []
    kept_terms, weights = zip(*top, strict=True)
    norm = math.sqrt(sum(map(operator.mul, weights, weights))) or 1.0
    rounded = list(map(round, map(operator.truediv, weights, itertools.repeat(norm)), itertools.repeat(4)))
    return list(kept_terms), rounded


def profile(article: StoryArticle, *, idf: IdfTable, settings: GroupingSettings) -> Profile:
    """The profile grouping compares for ``article``."""
    title_words = word_texts(fold(article.title))
    title_terms = list(filter(None, _WORDS.terms(title_words)))
    lead_terms = terms(article.text[: settings.lead_words * _WORD_CHARACTERS])[: settings.lead_words]
    counts: dict[str, float] = dict(Counter(lead_terms))
    for term in title_terms:
        counts[term] = counts.get(term, 0.0) + settings.title_weight
    # Places are found in the stems: a skeleton may be another word's (واسط, وسط).
    names = places_of(settings.gazetteer_path)
    opening = stems(article.text[:_PLACE_CHARACTERS])[:_PLACE_WORDS]
    vector = _weighted(counts, idf, keep=settings.vector_terms)
    title = _weighted(dict(Counter(title_terms)), idf, keep=settings.vector_terms)
    return Profile._of_weights(
        article.id,
        source=article.source,
        published=article.published,
        weights=(vector, title),
        places=_one_copy(names.find(list(filter(None, _WORDS.stems(title_words)))) | names.find(opening)),
    )


def _shared_dot(
    has: Callable[[str], bool], weight_of: Callable[[str], float], terms: Sequence[str], weights: array[Any]
) -> float:
    """The dot product of an arrival's weights (``has``, ``weight_of``) and a member's, summed exactly
    (as :func:`_dot`) over the terms both have."""
    present = list(map(has, terms))
    if not any(present):
        return 0.0
    mine = map(weight_of, itertools.compress(terms, present))
    theirs = map(_READERS[weights.typecode], itertools.compress(weights, present))
    return math.fsum(map(operator.mul, mine, theirs))


def _dot(left: Mapping[str, float], right: Mapping[str, float], shared: Collection[str]) -> float:
    # fsum: exact whatever the order of the shared terms, so every process decides alike. The maps
    # run in C: this is the innermost loop of grouping.
    return math.fsum(map(operator.mul, map(left.__getitem__, shared), map(right.__getitem__, shared)))


def similarity(left: Profile, right: Profile, *, settings: GroupingSettings) -> float:
    """How likely two articles report the same event, roughly 0 to 1."""
    return similarities(left, (right,), settings=settings)[0]


def similarities(new: Profile, others: Iterable[Profile], *, settings: GroupingSettings) -> list[float]:
    """The :func:`similarity` of ``new`` with each of ``others``, in order: what ``new`` looks up
    is looked up once for all of them (grouping compares an article with dozens of members)."""
    return _Arrival(new, settings).similarities(others)


class _Arrival:
    """An arriving article's side of its comparisons, looked up once for every story and member it
    is compared with (an article is compared with dozens of stories, most of one member)."""

    def __init__(self, new: Profile, settings: GroupingSettings) -> None:
        self.new, self.published, self.keys, self.key_terms = new, new.published, new.keys, new.key_terms
        # The arriving article's weights as dicts, made once: each member's terms are looked up in them.
        vector, title = new.vector, new.title_vector
        self.vector, self.window = vector, settings.window
        self.vector_terms, self.title_terms = vector.keys(), title.keys()
        self.weight_of, self.title_weight_of = vector.__getitem__, title.__getitem__
        self.has_term, self.title_has_term = vector.__contains__, title.__contains__
        self.places, self.place_penalty = new.places, settings.place_penalty
        self.body_share, self.title_share = 1 - settings.title_share, settings.title_share
        self.hourly_penalty, self.penalty_after_hours = settings.hourly_penalty, settings.penalty_after_hours
        self.link_share = settings.link_share

    def similarities(self, others: Iterable[Profile]) -> list[float]:
        """The similarity of the arriving article with each of ``others``, in order."""
        return list(map(self.similarity, others))

    def similarity(self, other: Profile) -> float:
        """The similarity of the arriving article with ``other``."""
        # _dot written out over the member's compact weights: this is the innermost loop of grouping.
        # Which of the member's terms the arrival has, then the weights of those on either side, in C.
        body = _shared_dot(self.has_term, self.weight_of, other.vector_terms, other.vector_weights)
        title_dot = _shared_dot(
            self.title_has_term, self.title_weight_of, other.title_terms, other.title_weights
        )
        score = self.body_share * body + self.title_share * title_dot
        places = self.places
        if places and other.places and places.isdisjoint(other.places):
            score -= self.place_penalty
        return score

    def closest(self, members: Sequence[Profile], bounds: Sequence[float] | None = None) -> float | None:
        """The highest similarity of the members that share a key term with the arriving article and
        are within its window (the first of equal ones, as ``max`` picks), or None when none does.

        ``bounds``: a number each member's similarity cannot exceed (:func:`_story_bounds`'s): the
        members are then compared in order of their bounds, until no other could be closer."""
        keys, published, window = self.keys, self.published, self.window
        order: Iterable[int] = range(len(members))
        if bounds is not None and len(members) > 1:
            order = sorted(order, key=bounds.__getitem__, reverse=True)
        best: float | None = None
        for position in order:
            if bounds is not None and best is not None and bounds[position] < best:
                # The members left are bounded lower still: none is closer.
                break
            member = members[position]
            # The key terms first: a set test in C is cheaper than the difference of two datetimes.
            if keys.isdisjoint(member.key_terms) or abs(member.published - published) > window:
                continue
            score = self.similarity(member)
            if best is None or score > best:
                best = score
        return best

    def time_penalty(self, since: datetime) -> float:
        """The penalty of a story begun at ``since``: for the hours between past the first day."""
        hours = abs((self.published - since).total_seconds()) / 3600
        return self.hourly_penalty * max(0.0, hours - self.penalty_after_hours)


@dataclass(frozen=True)
class StoryCandidate:
    """A story an arriving article may join: its members within the window, oldest first."""

    story_id: int
    members: tuple[Profile, ...]
    # Each key term of the story's members to the members having it, when whoever holds the story
    # keeps that (a store worker's window does, as members come and go): its members beyond the
    # window too, which closest() passes over. Without it a large story's candidate indexes its own.
    key_members: Mapping[str, Profile | tuple[Profile, ...]] | None = field(
        default=None, compare=False, repr=False
    )
    # The centroid of the story's latest members, when whoever holds the story keeps it as members
    # come and go (a store worker's window does, for its large stories): the candidate's own, as long
    # as the story is unchanged.
    live: LiveCentroid | None = field(default=None, compare=False, repr=False)

    @property
    def centroid(self) -> Centroid:
        """The sum of the vectors of the latest members (``CENTROID_MEMBERS``) and its length: a long
        story is what it has lately been about, and its cost stays bounded."""
        live = self.live
        if live is not None:
            return live.weights(), live.length
        return _CENTROIDS.centroid_of(self, self.members[-CENTROID_MEMBERS:])

    @property
    def centroid_length(self) -> float:
        """The length of :attr:`centroid`."""
        live = self.live
        return self._length if live is None else live.length

    @property
    def least_length(self) -> float:
        """No more than :attr:`centroid_length`: that when known, else the length the centroid would
        have if no two of its members shared a term (no weight being negative, it is no shorter)."""
        live = self.live
        if live is not None:
            return live.length
        # The length worked out already (_length, once worked out, is kept in the instance's dict).
        known = self.__dict__.get("_length")
        if known is not None:
            return cast(float, known)
        return math.sqrt(math.fsum(member.squares for member in self.members[-CENTROID_MEMBERS:])) or 1.0

    @cached_property
    def _length(self) -> float:
        """The length of the centroid: all a candidate keeps of it. A window keeps the candidates of
        thousands of stories, most of them bounded (by the length) and never scored whole: their
        centroids' terms and sums took 2.3 MiB of a window of 5,000 undated files. The centroid is
        summed again when scored after the process's cache of centroids forgot it."""
        return _CENTROIDS.summed(self, self.members[-CENTROID_MEMBERS:]).length

    @cached_property
    def packed(self) -> tuple[bytes, ...] | None:
        """The packed weights (:attr:`Profile.packed`) of the members the centroid sums, oldest first;
        None when one could not be packed. The members' own bytes, not joined: a window keeps the
        candidates of thousands of stories, and a joined copy took 4.7 MiB of one holding 30,000
        members (:func:`_story_bounds` joins every story's at once anyway)."""
        packed = tuple(member.packed for member in self.members[-CENTROID_MEMBERS:])
        return None if None in packed else cast(tuple[bytes, ...], packed)

    def sharing(self, key_terms: Iterable[str]) -> Sequence[Profile]:
        """The members that may share one of ``key_terms``, in order: all of a small story's, only
        those having one of a large story's (whose members would each be tested at every arrival).
        With :attr:`key_members`, a large story's are in no set order and may include members beyond
        the window: what closest() makes of them is the same (the highest score, summed exactly)."""
        if len(self.members) <= INDEXED_MEMBERS:
            return self.members
        if self.key_members is not None:
            by_key = self.key_members
            having: dict[int, Profile] = {}
            for term in key_terms:
                held = by_key.get(term)
                if isinstance(held, Profile):
                    having[id(held)] = held
                elif held is not None:
                    # In C: a common key term of a large story has hundreds of members.
                    having.update(zip(map(id, held), held, strict=True))
            return list(having.values())
        found: set[int] = set()
        positions = self._key_positions
        for term in key_terms:
            found.update(positions.get(term, ()))
        members = self.members
        return [members[position] for position in sorted(found)]

    @cached_property
    def _key_positions(self) -> dict[str, list[int]]:
        """Each key term of the members to the positions of the members having it."""
        positions: dict[str, list[int]] = {}
        for position, member in enumerate(self.members):
            for term in member.key_terms:
                positions.setdefault(term, []).append(position)
        return positions


# A story of more members than this finds those sharing a key term through an index of them.
INDEXED_MEMBERS = 16
# Each key term of a story's members to the member having it, or the members when several do: most
# terms of a large story are one member's, and a list for each took 3 of the 4.3 MiB such an index
# held in a window of 10,000 undated articles, now 1.9 MiB (18.3 MiB at 30,000, now 8.4 MiB).
KeyMembers = dict[str, Profile | tuple[Profile, ...]]


def index_key_terms(key_members: KeyMembers, member: Profile) -> None:
    """Count ``member`` among the members having each of its key terms."""
    for term in member.key_terms:
        having = key_members.get(term)
        if having is None:
            key_members[term] = member
        elif isinstance(having, Profile):
            key_members[term] = (having, member)
        else:
            key_members[term] = (*having, member)


def unindex_key_terms(key_members: KeyMembers, member: Profile) -> None:
    """Count ``member`` no longer among the members having each of its key terms."""
    for term in member.key_terms:
        having = key_members[term]
        if isinstance(having, Profile):
            del key_members[term]
            continue
        position = next(index for index, held in enumerate(having) if held is member)
        rest = having[:position] + having[position + 1 :]
        key_members[term] = rest[0] if len(rest) == 1 else rest


# A story's centroid: the summed vectors of its latest members, and the sum's length.
Centroid = tuple[dict[str, float], float]


class HeldCentroid(NamedTuple):
    """A centroid summed: its terms and their sums in one order, and its length.

    Profiles hold their weights as whole ten-thousandths (:func:`_compact`), and so are the sums of a
    story whose every member does (``whole``, type code ``q``): whole numbers, the same whatever the
    order they are summed in, so a centroid kept as members come and go (:class:`LiveCentroid`) is
    the one summed afresh, to the last bit. Each weight of the centroid is its sum as a fraction (the
    float nearest to it); its length the square root of the sums' squares summed, as a fraction. A
    story with a member whose weights are floats (none that Rasid makes) has them summed as floats,
    oldest member first (type code ``d``)."""

    terms: tuple[str, ...]
    sums: array[Any]
    length: float
    whole: bool


def summed(members: Sequence[Profile]) -> HeldCentroid:
    """The centroid of ``members`` (a story's latest, oldest first), summed afresh."""
    if not _all_whole(members):
        weights, length = _centroid(members)
        return HeldCentroid(tuple(weights), array("d", weights.values()), length, whole=False)
    sums: dict[str, int] = {}
    earlier = sums.get
    for member in members:
        vector = member.vector_terms
        added = map(operator.add, map(earlier, vector, itertools.repeat(0)), member.vector_weights)
        sums.update(zip(vector, added, strict=True))
    if 0 in sums.values():
        # A term whose weight rounded to nothing in every member having it adds nothing.
        sums = {term: total for term, total in sums.items() if total}
    totals = sums.values()
    length = _whole_length(sum(map(operator.mul, totals, totals)))
    return HeldCentroid(tuple(sums), array("q", totals), length, whole=True)


def _all_whole(members: Iterable[Profile]) -> bool:
    """Whether every one of ``members`` holds its weights as whole ten-thousandths."""
    return all(member.vector_weights.typecode == "H" for member in members)


def _whole_length(squares: int) -> float:
    """The length of a centroid whose sums of whole ten-thousandths have ``squares`` as their squares
    summed (1 for none, as a centroid of no weight is divided by it)."""
    return math.sqrt(squares) / _UNITS if squares else 1.0


class LiveCentroid:
    """The centroid of a story's latest members kept as they change, the members of whole
    ten-thousandths each (:class:`HeldCentroid`): a member come among the latest adds its weights, one
    gone takes them away, and the length follows from the squares changed. The same, to the last bit,
    as the centroid of those members summed afresh (:func:`summed`).

    A large story of a window full of an archive's undated files gains a member or loses its oldest
    at every few arrivals, and summing its 20 latest afresh each time was a quarter of placing an
    article in such a window."""

    __slots__ = ("_packed", "_squares", "_sums", "_weights")

    def __init__(self, members: Iterable[Profile]) -> None:
        self._sums: dict[str, int] = {}
        self._squares = 0
        self._weights: dict[str, float] | None = None
        self._packed: PackedCentroid | None = None
        for member in members:
            self.add(member)

    @property
    def length(self) -> float:
        """The centroid's length."""
        return _whole_length(self._squares)

    def weights(self) -> dict[str, float]:
        """The centroid's weights by term (made once until the members change)."""
        weights = self._weights
        if weights is None:
            sums = self._sums
            fractions = map(operator.truediv, sums.values(), itertools.repeat(_UNITS))
            weights = self._weights = dict(zip(sums, fractions, strict=True))
        return weights

    def packed(self) -> PackedCentroid:
        """The centroid's sums by the slots of their terms (as :func:`_packed` slots a vector's), for
        bounding the story (made once until the members change)."""
        packed = self._packed
        if packed is None:
            sums = self._sums
            count = len(sums)
            hashes = np.fromiter(map(hash, sums), dtype=np.int64, count=count)
            units = np.fromiter(sums.values(), dtype=np.uint32, count=count)
            packed = self._packed = (_vector_slots(hashes), units)
        return packed

    def add(self, member: Profile) -> None:
        """Count ``member`` (of whole ten-thousandths) among the latest members."""
        self._weights = self._packed = None
        sums, squares = self._sums, self._squares
        # A member's terms are distinct: each sum changes once a member.
        for term, units in zip(member.vector_terms, member.vector_weights, strict=True):
            if units:
                total = sums.get(term, 0)
                grown = sums[term] = total + units
                squares += grown * grown - total * total
        self._squares = squares

    def remove(self, member: Profile) -> None:
        """Count ``member``, counted before, no longer."""
        self._weights = self._packed = None
        sums, squares = self._sums, self._squares
        for term, units in zip(member.vector_terms, member.vector_weights, strict=True):
            if units:
                total = sums[term]
                left = total - units
                squares += left * left - total * total
                if left:
                    sums[term] = left
                else:
                    del sums[term]
        self._squares = squares


def live_centroid(members: Sequence[Profile]) -> LiveCentroid | None:
    """The centroid of ``members`` to keep as they change, or None when one is not of whole
    ten-thousandths."""
    return LiveCentroid(members) if _all_whole(members) else None


# The centroids a process keeps as dicts: those of the stories scored whole lately (an article is
# scored against a few stories, often the same ones as the article before).
_CENTROIDS_KEPT = 32


class CentroidCache:
    """The centroids summed lately, by whose they are (a story's candidate), the most recently used
    kept: summed when bounded, a story is often scored next; its weights as a dict once scored."""

    def __init__(self, size: int = _CENTROIDS_KEPT) -> None:
        self._size = size
        self._kept: OrderedDict[int, tuple[object, HeldCentroid, dict[str, float] | None]] = OrderedDict()

    def summed(self, owner: object, members: Sequence[Profile]) -> HeldCentroid:
        """The centroid of ``members`` (``owner``'s), summed unless kept."""
        entry = self._entry(owner)
        if entry is not None:
            return entry[1]
        held = summed(members)
        self._keep(owner, held, None)
        return held

    def centroid_of(self, owner: object, members: Sequence[Profile]) -> Centroid:
        """The weights of the centroid of ``members`` (``owner``'s) by term, and its length."""
        entry = self._entry(owner)
        held, weights = (summed(members), None) if entry is None else entry[1:]
        if weights is None:
            weights = held_weights(held)
            self._keep(owner, held, weights)
        return weights, held.length

    def _entry(self, owner: object) -> tuple[object, HeldCentroid, dict[str, float] | None] | None:
        entry = self._kept.get(id(owner))
        if entry is None or entry[0] is not owner:
            return None
        self._kept.move_to_end(id(owner))
        return entry

    def _keep(self, owner: object, held: HeldCentroid, weights: dict[str, float] | None) -> None:
        self._kept[id(owner)] = (owner, held, weights)
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)


def held_weights(held: HeldCentroid) -> dict[str, float]:
    """The weights of the centroid ``held``, by term."""
    sums: Iterable[float] = held.sums
    if held.whole:
        sums = map(operator.truediv, held.sums, itertools.repeat(_UNITS))
    return dict(zip(held.terms, sums, strict=True))


def _centroid(members: Iterable[Profile]) -> Centroid:
    """The weights of ``members`` summed as floats, oldest first, and their length."""
    total: dict[str, float] = {}
    earlier = total.get
    for member in members:
        # A member's terms are distinct: each is added to the total as it stood before the member.
        vector = member.vector_terms
        added = map(
            operator.add, map(earlier, vector, itertools.repeat(0.0)), _weights_of(member.vector_weights)
        )
        total.update(zip(vector, added, strict=True))
    weights = total.values()
    return total, math.sqrt(sum(map(operator.mul, weights, weights))) or 1.0


_CENTROIDS = CentroidCache()


def choose_story(
    new: Profile, candidates: Iterable[StoryCandidate], *, settings: GroupingSettings
) -> int | None:
    """The story ``new`` joins among the stories within the window, or None to start one.

    Only members that share one of ``new``'s key terms (and are within the window) are compared. A
    story's score blends the similarity of its closest such member with the cosine of ``new`` and
    the story's centroid (``link_share``): the closest alone chains different events about one
    person into one story, the centroid alone splits a long story whose reports drift. The best
    story wins when its score reaches the threshold; ties go to the earlier story.

    Many candidates are first bounded all at once (:func:`_story_bounds`) and scored in order of
    their bounds, until no other could reach the best: the choice is the one scoring every story
    whole makes, whatever the order of the candidates.
    """
    arrival = _Arrival(new, settings)
    stories = list(candidates)
    bounded = _story_bounds(arrival, stories) if len(stories) >= _BOUNDED_FROM else None
    ranked: Iterable[tuple[float, int]]
    if bounded is None:
        ranked = zip(itertools.repeat(math.inf), range(len(stories)))
    else:
        bounds = bounded.bounds
        most = bounds.tolist()
        ranked = ((most[position], position) for position in np.argsort(-bounds, kind="stable").tolist())
    threshold = settings.threshold
    best: tuple[float, int] | None = None
    for bound, position in ranked:
        # A story that cannot reach the best score so far is not scored whole (see _story_score).
        floor = threshold if best is None else max(threshold, best[0])
        if bound < floor:
            # The stories left are bounded lower still.
            break
        story = stories[position]
        near = None if bounded is None else bounded.near(position)
        score = _story_score(arrival, story, floor=floor, near=near)
        if score is None or score < threshold:
            continue
        if best is None or (score, -story.story_id) > (best[0], -best[1]):
            best = (score, story.story_id)
    return None if best is None else best[1]


# From this many candidates on, an article's stories are bounded all at once before any is scored;
# fewer are scored one by one, which costs less than the arrays.
_BOUNDED_FROM = 8
# A packed weight is 32 bits: the slot of its term above the weight in whole ten-thousandths
# (profiles round theirs to four decimals), rounded up. Slot 0 is no term's; the vector's terms are in
# slots 1 to 32767, the title's in the 32768 after them, by their hashes.
_UNIT_BITS = 16
_PART_SLOTS = 1 << 15
_ALL_SLOTS = 2 * _PART_SLOTS
_UNITS = 10_000
# Weights up to 6.5 (profiles' are at most 1): every sum of a profile's products is then a whole
# number below 2**53, which a float holds exactly.
_MOST_UNITS = (1 << _UNIT_BITS) - 1
# What the bounds add to cover the rounding of the scores they bound (each a few units of 1e-16).
_MARGIN = 1e-9


def _packed(profile: Profile) -> bytes | None:
    """A profile's weights packed: first an entry of slot 0 whose "weight" is the number of the
    vector's, then the vector's, then the title's. None when a weight is negative or too large to
    pack."""
    vector, title = profile.vector_terms, profile.title_terms
    count = len(vector) + len(title)
    read = itertools.chain(_weights_of(profile.vector_weights), _weights_of(profile.title_weights))
    weights = np.fromiter(read, dtype=np.float64, count=count)
    units = np.ceil(weights * _UNITS)
    # A NaN weight fails the first test too.
    if not bool(np.all(weights >= 0)) or (count and units.max() > _MOST_UNITS) or len(vector) > _MOST_UNITS:
        return None
    hashes = np.fromiter(map(hash, itertools.chain(vector, title)), dtype=np.int64, count=count)
    slots = np.empty(count, dtype=np.int64)
    slots[: len(vector)] = _vector_slots(hashes[: len(vector)])
    slots[len(vector) :] = (hashes[len(vector) :] & (_PART_SLOTS - 1)) + _PART_SLOTS
    entries = np.empty(count + 1, dtype=np.uint32)
    entries[0] = len(vector)
    entries[1:] = (slots << _UNIT_BITS) | units.astype(np.int64)
    return entries.tobytes()


def _vector_slots(hashes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The slots of the vector terms of these hashes."""
    return hashes % (_PART_SLOTS - 1) + 1


# A centroid's sums (whole ten-thousandths, CENTROID_MEMBERS weights of 16 bits: 21 bits at most) and
# the slots of their terms.
PackedCentroid = tuple[npt.NDArray[np.int64], npt.NDArray[np.uint32]]


class _ArrivalWeights(threading.local):
    """An arriving article's packed weights by slot (zero elsewhere), one table for each thread: whole
    numbers of 32 bits (a slot's weights summed, at most a vector's 65,535 terms of 16 bits), half the
    bytes of floats to read from at random."""

    def __init__(self) -> None:
        self.table = np.zeros(_ALL_SLOTS, dtype=np.uint32)


_ARRIVAL_WEIGHTS = _ArrivalWeights()


class StoryBounds(NamedTuple):
    """What bounding an arrival's stories found: each story's bound, and each member's compared
    (:func:`_gathered`'s order) with the span of those the closest member of each story may be."""

    bounds: npt.NDArray[np.float64]
    members: npt.NDArray[np.float64]
    spans: list[int]
    near_members: list[Sequence[Profile]]

    def near(self, position: int) -> tuple[Sequence[Profile], list[float]]:
        """The members the story at ``position`` may be closest by, with their bounds."""
        start, end = self.spans[4 * position], self.spans[4 * position + 1]
        return self.near_members[position], self.members[start:end].tolist()


def _story_bounds(arrival: _Arrival, stories: Sequence[StoryCandidate]) -> StoryBounds | None:
    """For each story, a number its score (:func:`_story_score`) cannot exceed, and for each member
    the closest may be, a number its similarity cannot exceed (:class:`StoryBounds`); None when a
    profile could not be packed.

    The packed weights are the profiles' rounded up and no weight is negative, so the dot products
    summed from them (whole numbers, summed exactly) are no smaller than the exact ones, and terms
    whose hashes share a slot add to them. The closest member is bounded by the most similar member
    of those it may be (all of a story's up to CENTROID_MEMBERS, those sharing a key term of a larger
    one), the places not compared; the dot product with the centroid by the sum of the dot products
    with the members it sums (by a live centroid's own sums, the same sum), over the length the
    centroid has at least (:attr:`StoryCandidate.least_length`)."""
    arrival_packed = arrival.new.packed
    gathered = None if arrival_packed is None else _gathered(arrival, stories)
    if arrival_packed is None or gathered is None:
        return None
    blobs, spans, penalties, norms, unmatched, near_members, centroids = gathered
    entries = np.frombuffer(b"".join(blobs), dtype=np.uint32)
    # Each member's weights begin with the entry of slot 0.
    starts = np.flatnonzero(entries < (1 << _UNIT_BITS))
    table = _ARRIVAL_WEIGHTS.table
    # The first entry's "weight" is no weight: slot 0 stays 0.
    own = np.frombuffer(arrival_packed, dtype=np.uint32)[1:]
    own_slots = own >> _UNIT_BITS
    np.add.at(table, own_slots, own & _MOST_UNITS)
    units = entries & _MOST_UNITS
    # One entry more, so that a member's title may end after the last member's entries.
    products = np.zeros(len(entries) + 1, dtype=np.uint64)
    try:
        # Whole numbers, multiplied and summed as such: exact, whatever the order, and each sum below
        # 2**53, so the same as a float.
        np.multiply(table[entries >> _UNIT_BITS], units, out=products[:-1], dtype=np.uint64)
        towards_centroids = _centroid_products(table, [packed for _, packed in centroids])
    finally:
        table[own_slots] = 0
    # Each member's vector, then its title, ending where the next member's begins (or at the entry
    # added after the last member's).
    parts = np.empty(2 * len(starts), dtype=np.int64)
    parts[0::2] = starts
    parts[1::2] = starts + 1 + units[starts]
    sums = np.add.reduceat(products, parts).astype(np.float64)
    bodies, titles = sums[0::2], sums[1::2]
    scale = 1.0 / (_UNITS * _UNITS)
    similar = (arrival.body_share * bodies + arrival.title_share * titles) * scale
    # One more entry, so that a span may end after the last member.
    similar, bodies = np.append(similar, 0.0), np.append(bodies, 0.0)
    spans_array = np.array(spans, dtype=np.int64).reshape(-1, 4)
    closest = np.maximum.reduceat(similar, spans_array[:, :2].ravel())[::2]
    towards = np.add.reduceat(bodies, spans_array[:, 2:].ravel())[::2]
    if towards_centroids is not None:
        towards[[position for position, _ in centroids]] = towards_centroids
    towards *= scale
    norms_array = np.array(norms, dtype=np.float64)
    link_share = arrival.link_share
    blended = link_share * closest + (1 - link_share) * towards / norms_array
    bounds = np.where(np.isnan(norms_array), closest, blended) - np.array(penalties, dtype=np.float64)
    bounds[unmatched] = -math.inf
    return StoryBounds(bounds + _MARGIN, similar + _MARGIN, spans, near_members)


def _centroid_products(
    table: npt.NDArray[np.uint32], centroids: list[PackedCentroid]
) -> npt.NDArray[np.float64] | None:
    """The dot product of the arrival's packed weights (``table``) with each packed centroid, in
    ten-thousandths squared (whole numbers, summed exactly); None for no centroid."""
    if not centroids:
        return None
    lengths = np.fromiter(map(len, (units for _, units in centroids)), dtype=np.int64, count=len(centroids))
    products = np.multiply(
        table[np.concatenate([slots for slots, _ in centroids])],
        np.concatenate([units for _, units in centroids]),
        dtype=np.uint64,
    )
    dots = np.zeros(len(centroids), dtype=np.float64)
    filled = lengths > 0
    if products.size:
        # Each centroid's products from where its own begin (those of no term's summing to 0).
        starts = (np.cumsum(lengths) - lengths)[filled]
        dots[filled] = np.add.reduceat(products, starts)
    return dots


# What _gathered gathers to bound an arrival's stories (see there).
_Gathered = tuple[
    list[bytes],
    list[int],
    list[float],
    list[float],
    list[int],
    list[Sequence[Profile]],
    list[tuple[int, PackedCentroid]],
]


def _gathered(arrival: _Arrival, stories: Sequence[StoryCandidate]) -> _Gathered | None:
    """The packed members that bound each story, in order; for each story the span of those the
    closest member may be and the span of those its centroid sums (by the members' positions), its
    time penalty and its centroid's length (NaN for a story of one member); the positions of the
    large stories no member of which shares a key term (scoring them finds none); for each story the
    members the closest may be, in the order of their span; the packed live centroids of the large
    stories that have one, by the story's position (whose centroid's span is then empty: its own
    sums stand for the latest members' weights). None when a member could not be packed."""
    blobs: list[bytes] = []
    spans: list[int] = []
    firsts: list[datetime] = []
    norms: list[float] = []
    unmatched: list[int] = []
    near_members: list[Sequence[Profile]] = []
    centroids: list[tuple[int, PackedCentroid]] = []
    nan = math.nan
    held = 0
    for position, story in enumerate(stories):
        members = story.members
        firsts.append(members[0].published)
        start = held
        if len(members) <= CENTROID_MEMBERS:
            latest = story.packed
            if latest is None:
                return None
            blobs += latest
            held += len(members)
            spans += (start, held, start, held)
            norms.append(nan if len(members) == 1 else story.least_length)
            near_members.append(members)
            continue
        having = story.sharing(arrival.key_terms)
        near_members.append(having)
        if not having:
            # Any spans: the story is bounded by nothing.
            spans += (start, start, start, start)
            unmatched.append(position)
            norms.append(1.0)
            continue
        sharing = [member.packed for member in having]
        if None in sharing:
            return None
        live = story.live
        if live is None:
            latest = story.packed
            if latest is None:
                return None
            blobs += latest
            held += CENTROID_MEMBERS
        else:
            centroids.append((position, live.packed()))
        blobs += cast(list[bytes], sharing)
        spans += (held, held + len(sharing), start, held)
        held += len(sharing)
        norms.append(story.least_length)
    penalties = list(map(arrival.time_penalty, firsts))
    return blobs, spans, penalties, norms, unmatched, near_members, centroids


# The most a cosine of two profiles' vectors can be: each vector has unit length before its weights
# are rounded to four decimals, which lengthens a vector of 100 weights by at most 0.0005.
_MOST_COSINE = 1.01


def _story_score(
    arrival: _Arrival,
    story: StoryCandidate,
    *,
    floor: float,
    near: tuple[Sequence[Profile], Sequence[float]] | None = None,
) -> float | None:
    """The story's score, or None when no member shares a key term, or when the score is sure to be
    below ``floor``. ``near``: the members the closest may be and their bounds (:class:`StoryBounds`),
    when the story was bounded.

    The centroid of a story of up to CENTROID_MEMBERS members sums every member's vector, and no
    weight is negative: no member's vector is closer to ``new``'s than the dot product with the
    centroid. That bounds the closest member's similarity; the bound is reckoned with the same
    operations as the score (each rounding no larger), so a story skipped could not have won."""
    members = story.members
    # Measured from the story's start, not from its closest member: a story that could be extended
    # by each day's report would swallow weeks of one war's different strikes.
    first = members[0]
    penalty = arrival.time_penalty(first.published)
    if len(members) == 1:
        # Most stories an article is compared with have one member: what closest() does, written out.
        if arrival.keys.isdisjoint(first.key_terms):
            return None
        if abs(first.published - arrival.published) > arrival.window:
            return None
        return arrival.similarity(first) - penalty
    centroid, norm = story.centroid
    towards = _dot(arrival.vector, centroid, arrival.vector_terms & centroid.keys())
    together = towards / norm
    link_share = arrival.link_share
    if len(members) <= CENTROID_MEMBERS:
        most = arrival.body_share * towards + arrival.title_share * _MOST_COSINE
        if link_share * most + (1 - link_share) * together - penalty < floor:
            return None
    closest = arrival.closest(story.sharing(arrival.key_terms)) if near is None else arrival.closest(*near)
    if closest is None:
        return None
    return link_share * closest + (1 - link_share) * together - penalty


# The most stories an arriving article is compared with. A stream's window holds a few hundred
# stories, and its articles share key terms with fewer than this: they are compared with every story
# that shares one. An archive dropped at once puts tens of thousands of articles in one window, where
# a key term such as a country's name is shared by thousands of stories, and comparing each arrival
# with all of them cost it more the fuller the window (12 ms at 30,000 against 1.6 ms at 6,000).
# Measured: the 30,000 articles of the corpus in time order are placed as before; undated, 21 of
# 8,000 and 1,394 of 30,000 are placed otherwise (pairwise F1 0.997 and 0.961 with every story
# compared), and the four labeled days score the same (benchmarks/story_folds.py). A store worker's
# CPU an article over an undated burst of 30,000 went from 7.1 to 4.4 ms (benchmarks/store.py).
MOST_CANDIDATES = 64
# A shared key term counts from 1 (the most common of the arrival's) to this (one in 2**7 as common).
_MOST_RARITY = 8


def story_ids_sharing(
    key_terms: Iterable[str], stories_having: Callable[[str], Collection[int]], *, most: int = MOST_CANDIDATES
) -> list[int]:
    """The stories that have a member sharing one of ``key_terms`` (``stories_having``: the distinct
    stories having a member with a term): by id when ``most`` or fewer, else all of them ranked, those
    to compare first first, of which the callers compare an article with the first ``most``.

    A story's rank is the sum of the rarities of the key terms it shares, a term's rarity the whole
    number 1 + log2(stories having the arrival's most common key term / stories having this one), at
    most _MOST_RARITY; ties go to the later story (its time penalty is no larger). An approximation
    that binds only on a window of thousands of stories: a story sharing only terms that thousands of
    others share is passed over for those sharing several, or rarer ones."""
    having = [stories_having(term) for term in key_terms]
    if sum(map(len, having)) <= most:
        return sorted(set().union(*having))
    # Counted in C: each term's stories repeated by its rarity.
    commonest = max(map(len, having))
    shares: Counter[int] = Counter()
    for stories in having:
        if stories:
            rarity = min(_MOST_RARITY, 1 + int(math.log2(commonest / len(stories))))
            shares.update(itertools.chain.from_iterable(itertools.repeat(stories, rarity)))
    if len(shares) <= most:
        return sorted(shares)
    ids = np.fromiter(shares.keys(), dtype=np.int64, count=len(shares))
    counts = np.fromiter(shares.values(), dtype=np.int64, count=len(shares))
    ranked: list[int] = ids[np.lexsort((-ids, -counts))].tolist()
    return ranked


# A member's place among the members of a window: its publication, then its article id.
InOrder = tuple[datetime, str]
# Sorts after every article id (hexadecimal content ids), so a member published at the window's end
# is inside it.
AFTER_EVERY_ID = "\U0010ffff"


def in_order(member: Profile) -> InOrder:
    """Where a member stands among the others: by publication, then article id."""
    return (member.published, member.article_id)


def window_start(published: datetime, held: Sequence[InOrder], *, settings: GroupingSettings) -> InOrder:
    """Where the members begin that an article published at ``published`` is compared with, among the
    members ``held`` (each one's :func:`in_order`, sorted): those published within the window either
    side of it and, of those, only the ``settings.most_in_window`` latest (by publication, then
    article id). Its window ends at ``(published + window, AFTER_EVERY_ID)``.

    The members an article is compared with are thus those placed before it, and which of them is
    decided by their own publication and ids alone, not by what arrived with it: the same whatever
    the batches articles are stored in. An article arriving after later ones (a feed's late item,
    ``rasid import`` of dated lines in any order) is compared with the latest of those within its
    own window, later than itself included, never with members beyond the window's end.

    A stream never fills it (five outlets publish about 250 articles in 72 hours); an archive of
    undated files, all placed at the moments they were ingested, does: each file is compared with
    the ``most_in_window`` placed just before it, not with the whole archive. See
    :class:`GroupingSettings` for what that costs and saves."""
    earliest = (published - settings.window, "")
    end = bisect.bisect_right(held, (published + settings.window, AFTER_EVERY_ID))
    most = settings.most_in_window
    if end - most <= 0 or held[end - most] <= earliest:
        return earliest
    return held[end - most]


def candidates_of(members: Iterable[tuple[int, Profile]]) -> list[StoryCandidate]:
    """Stories from (story, member) pairs: each story's members oldest first."""
    grouped: dict[int, list[Profile]] = {}
    for story_id, member in members:
        grouped.setdefault(story_id, []).append(member)
    return [
        StoryCandidate(story_id, tuple(sorted(profiles, key=lambda item: (item.published, item.article_id))))
        for story_id, profiles in sorted(grouped.items())
    ]


@dataclass
class StoryIndex:
    """Grouping in memory, in arrival order, as the pipeline groups: for ``rasid stories`` and the
    benchmark. Members before the window of the article placed last (:func:`window_start`: past the
    time window, or past the most members it holds) are dropped; an index of the members' key terms
    finds the stories worth comparing. Exactly as the pipeline places articles that arrive in order of
    publication; one arriving after later ones finds the members its window holds that are still kept."""

    settings: GroupingSettings = field(default_factory=GroupingSettings)
    idf: IdfTable = field(default_factory=default_idf)
    _stories: dict[int, StoryCandidate] = field(default_factory=dict)
    _story_of: dict[str, int] = field(default_factory=dict)
    _postings: dict[str, dict[str, int]] = field(default_factory=dict)
    # The held members' places (in_order), sorted: the oldest are dropped from the front.
    _in_order: list[InOrder] = field(default_factory=list)
    _held: dict[str, Profile] = field(default_factory=dict)
    _members: dict[int, dict[str, Profile]] = field(default_factory=dict)
    # The members of each story of more than INDEXED_MEMBERS by key term (StoryCandidate.key_members),
    # kept as members come and go: built again for each new candidate of a large story, it was a
    # sixth of the CPU of placing 30,000 undated articles (benchmarks/stories.py: 190 cpu seconds,
    # 156 with the members kept).
    _key_members: dict[int, KeyMembers] = field(default_factory=dict)
    _next_story: int = 1

    @property
    def held(self) -> int:
        """How many articles the index holds (those within the window)."""
        return len(self._held)

    def add(self, article: StoryArticle) -> int:
        """The story ``article`` joins or starts; the same article added again gets the same story."""
        known = self._story_of.get(article.id)
        if known is not None:
            return known
        return self.place(profile(article, idf=self.idf, settings=self.settings))

    def place(self, new: Profile) -> int:
        """The story an article of profile ``new`` joins or starts (a profile made with this index's
        settings and IDF table; :meth:`add` makes it)."""
        known = self._story_of.get(new.article_id)
        if known is not None:
            return known
        self._forget_before(window_start(new.published, self._in_order, settings=self.settings))
        story_id = choose_story(new, self._candidates(new), settings=self.settings)
        if story_id is None:
            story_id, self._next_story = self._next_story, self._next_story + 1
        self._remember(new, story_id)
        return story_id

    def _candidates(self, new: Profile) -> list[StoryCandidate]:
        found = story_ids_sharing(new.key_terms, self._stories_having)[:MOST_CANDIDATES]
        return [self._stories[story_id] for story_id in sorted(found)]

    def _stories_having(self, term: str) -> Collection[int]:
        postings = self._postings.get(term)
        return () if postings is None else set(postings.values())

    def _remember(self, new: Profile, story_id: int) -> None:
        self._story_of[new.article_id] = story_id
        self._held[new.article_id] = new
        members = self._members.setdefault(story_id, {})
        members[new.article_id] = new
        key_members = self._key_members.get(story_id)
        if key_members is not None:
            index_key_terms(key_members, new)
        elif len(members) > INDEXED_MEMBERS:
            key_members = self._key_members[story_id] = {}
            for member in members.values():
                index_key_terms(key_members, member)
        bisect.insort(self._in_order, in_order(new))
        for term in new.key_terms:
            self._postings.setdefault(term, {})[new.article_id] = story_id
        self._restore(story_id)

    def _restore(self, story_id: int) -> None:
        """Rebuild a story's candidate after its members changed, so its centroid is computed afresh."""
        members = self._members.get(story_id)
        if not members:
            self._members.pop(story_id, None)
            self._stories.pop(story_id, None)
            self._key_members.pop(story_id, None)
            return
        ordered = tuple(sorted(members.values(), key=in_order))
        key_members = self._key_members.get(story_id)
        self._stories[story_id] = StoryCandidate(story_id, ordered, key_members=key_members)

    def _forget_before(self, start: InOrder) -> None:
        """Drop the members placed before ``start``."""
        gone = bisect.bisect_left(self._in_order, start)
        if not gone:
            return
        changed: set[int] = set()
        for _, article_id in self._in_order[:gone]:
            member = self._held.pop(article_id)
            story_id = self._story_of[article_id]
            del self._members[story_id][article_id]
            key_members = self._key_members.get(story_id)
            if key_members is not None:
                unindex_key_terms(key_members, member)
            for term in member.key_terms:
                postings = self._postings[term]
                postings.pop(article_id, None)
                if not postings:
                    del self._postings[term]
            changed.add(story_id)
        del self._in_order[:gone]
        for story_id in sorted(changed):
            self._restore(story_id)
