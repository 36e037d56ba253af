"""What the learned re-scoring reads of a topic's hits: the rules' own findings, and the words around them.

For each topic, features are drawn only from what the rules matched (a bag of words over the whole
article does poorly on narrow topics, where one sentence decides): which terms counted and which a
missing context or an exclusion stopped (and which, and whether a missing context is only farther
than its window), how many, how spread over sentences, whether in the title, whether a counted term's
false friends are elsewhere in its field, and the words within
:data:`NEIGHBOURHOOD` words of the first occurrences in their sentence, lightly stemmed.
A feature is a name; the model weighs the names it knows and ignores the others.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from math import log1p

from classifier_service.hits import TopicHits
from classifier_service.scoring import (
    EXCLUDED,
    FAR_CONTEXT,
    NO_CONTEXT,
    TOPIC_EXCLUDED,
    Counted,
)

# Words either side of an occurrence read as its context.
NEIGHBOURHOOD = 8
# Occurrences whose neighbourhoods are read, in each list (counted, stopped): the first ones, so an
# article full of a frequent term costs no more than a short one.
READ_OCCURRENCES = 10
# Proclitics and the article stripped from a context word, longest first, when a stem of three
# letters or more is left: one feature for و/ب/ل/ال forms of the same word.
_PREFIXES = ("وبال", "وال", "بال", "فال", "كال", "لل", "ال", "و", "ب", "ل", "ف")
_SUFFIXES = ("هما", "ها", "هم", "ات", "ون", "ين", "ان", "ه", "ي")
# Letters a stem keeps.
_STEM = 3
# The stemming as one pattern, matched in C: the first proclitic of the list that leaves three
# letters, then the shortest stem of three letters or more followed by an ending of the list or by
# nothing, so the longest ending that leaves three (at most one of a length ends a word): what the
# ordered lists give. Faster than slicing the word once per affix length (335 ns a word against
# 593); a run over the labeled sets stems 20,500 words, and takes 2% fewer instructions so.
_LIGHT_STEM = re.compile(
    f"(?:(?:{'|'.join(_PREFIXES)})(?=.{{{_STEM}}}))?(.{{{_STEM},}}?)(?:{'|'.join(_SUFFIXES)})?", re.DOTALL
)
# Its match of a whole word, looked up once: a word is stemmed from two places.
_STEM_MATCH = _LIGHT_STEM.fullmatch
# Feature name prefixes of a stopped term by why it was stopped.
_REASON_PREFIXES = {EXCLUDED: "be:", TOPIC_EXCLUDED: "bt:", NO_CONTEXT: "bn:"}
# Token positions of the title field count as the article's start.
_EARLY_SHARE = 0.2


def light_stem(word: str) -> str:
    """``word`` without one proclitic (or the article) and one ending, when three letters remain."""
    match = _STEM_MATCH(word)
    return word if match is None else match[1]


def topic_features(hits: TopicHits) -> dict[str, float]:
    """The features of one topic's hits in one article (empty when the rules matched nothing): its
    :func:`feature_parts` in one map, each feature only present at 1.0."""
    values, present = feature_parts(hits)
    values.update(dict.fromkeys(present, 1.0))
    return values


def feature_parts(hits: TopicHits) -> tuple[dict[str, float], set[str]]:
    """The features of one topic's hits in one article, in two parts: those with a value of their
    own (counts, the rules' score, the strongest weight) by name, and the names of those only
    present (1.0), which are most of them: a model weighs the second by their weights alone, with
    nothing to multiply (:meth:`~classifier_service.model.TopicModel.raw_of`). Both empty when the
    rules matched nothing."""
    values: dict[str, float] = {}
    present: set[str] = set()
    if hits.counted:
        _counted(values, present, hits.counted)
    if hits.blocked:
        _blocked(values, present, hits)
    return values, present


def _counted(values: dict[str, float], present: set[str], counted: list[Counted]) -> None:
    """The features of the occurrences that count: how many, of how many terms, in how many
    sentences, how early, and whether a term's false friends are elsewhere in its field (the article
    also speaks of the term's other sense, a knife attack, a nuclear deal, which its window did not
    see)."""
    present.add("rule")
    # The rules' score (the noisy-or of the weights) and the strongest weight, in the one loop.
    missing, strongest = 1.0, counted[0][0].weight
    sentences: set[tuple[str, int]] = set()
    terms: set[str] = set()
    for term, found, match in counted:
        weight = term.weight
        missing *= 1.0 - weight
        if weight > strongest:  # noqa: PLR1730 -- a call of max() costs more than the comparison
            strongest = weight
        terms.add(term.term)
        names = _TERM_NAMES.get(term.term) or _term_names(term.term)
        present.add(names.counted)
        words = found.words
        if words.name == "title":
            present.add("title")
            present.add("early")
        elif match[1] < _EARLY_SHARE * len(words.tokens):
            present.add("early")
        sentences.add((words.name, words.sentence_around(match[1])[0]))
        groups = found.present
        if (term.exclude and term.exclude & groups) or (term.topic_exclude and term.topic_exclude & groups):
            present.add("far_excluded")
            present.add(names.false_friends)
    values["rule_score"] = 1.0 - missing
    values["counted_n"] = log1p(len(counted))
    values["max_weight"] = strongest
    values["terms_n"] = log1p(len(terms))
    values["sentences_n"] = log1p(len(sentences))
    _context(present, counted, _NAMES["w:"])


def _blocked(values: dict[str, float], present: set[str], hits: TopicHits) -> None:
    """The features of the occurrences stopped: how many, which terms, whether in the title, and
    why each was stopped (:attr:`_TermNames.blocked`)."""
    blocked = hits.blocked
    values["blocked_n"] = log1p(len(blocked))
    for (term, found, _), stopped in zip(blocked, hits.reasons, strict=True):
        present.update((_TERM_NAMES.get(term.term) or _term_names(term.term)).blocked[stopped])
        if found.words.name == "title":
            present.add("title_blocked")
    _context(present, blocked, _NAMES["v:"])


def _context(present: set[str], occurrences: list[Counted], names: _ContextNames) -> None:
    """The words within :data:`NEIGHBOURHOOD` words of the first occurrences, in their sentence,
    named under the prefix of ``names``."""
    around: set[str] = set()
    for _, found, match in occurrences[:READ_OCCURRENCES]:
        words = found.words
        first, end = words.sentence_around(start := match[1])
        # Compared here rather than by max() and min(), whose calls cost more than the slices.
        before = start - NEIGHBOURHOOD
        after = (stop := match[2]) + NEIGHBOURHOOD
        tokens = words.tokens
        around.update(
            tokens[before if before > first else first : start], tokens[stop : after if after < end else end]
        )
    # Looked up and added in C; a word not seen before is named by ``_ContextNames.__missing__``.
    present.update(map(names.__getitem__, around))


class _ContextNames(dict[str, str]):
    """The feature names of context words under one prefix, by word, made on first use (from C, by
    ``__getitem__``) and forgotten all at once when full. The stem comes from :data:`_STEMS`, which
    both prefixes share (a word read around a counted term is often read around a stopped one too),
    and is forgotten likewise."""

    __slots__ = ("_prefix",)

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self._prefix = prefix

    def __missing__(self, token: str) -> str:
        if len(self) >= _NAMES_SIZE:
            self.clear()
        stem = _STEMS.get(token)
        if stem is None:
            # :func:`light_stem` written out, without a second ``__missing__``: the calls cost about
            # 1,000 instructions a new word (the 1,150 labeled articles, read once, stem 20,500 of
            # them: 21M instructions of 4,219M fewer so).
            if len(_STEMS) >= _NAMES_SIZE:
                _STEMS.clear()
            match = _STEM_MATCH(token)
            stem = _STEMS[token] = token if match is None else match[1]
        name = self[token] = sys.intern(self._prefix + stem)
        return name


@dataclass(frozen=True, slots=True)
class _TermNames:
    """The features of one term: counted (``t:``), its false friends elsewhere (``fe:``), and, by
    why it was stopped (:func:`~classifier_service.scoring.stopped_by`), those of a stopped
    occurrence: the term stopped (``b:``), the reason overall and for this term (a false friend next
    to the term says more against the topic than a context the rules did not find; a context that
    is only far is a missing context too, and says a little more)."""

    counted: str
    false_friends: str
    blocked: dict[str, tuple[str, ...]]


def _term_names(term: str) -> _TermNames:
    """The features of ``term``, made once per term: a string kept keeps its hash, so a set of
    features and the model's weights look it up without hashing it again (and, interned as the
    model's names are, without comparing it with their copy)."""
    if len(_TERM_NAMES) >= _NAMES_SIZE:
        _TERM_NAMES.clear()
    stopped = sys.intern("b:" + term)
    blocked: dict[str, tuple[str, ...]] = {
        reason: (stopped, _BLOCKED_BY[reason], sys.intern(prefix + term))
        for reason, prefix in _REASON_PREFIXES.items()
    }
    blocked[FAR_CONTEXT] = (*blocked[NO_CONTEXT], "blocked_far_context")
    names = _TERM_NAMES[term] = _TermNames(sys.intern("t:" + term), sys.intern("fe:" + term), blocked)
    return names


# The features of terms by term, as :func:`_term_names` makes them.
_TERM_NAMES: dict[str, _TermNames] = {}
# The feature of each reason a term was stopped for, made once (a string made per occurrence would
# be hashed again, and compared with the model's copy of the name).
_BLOCKED_BY = {reason: sys.intern("blocked_" + reason) for reason in _REASON_PREFIXES}
# Feature names of context words by prefix, and their stems, remembered: stemming is the costly
# part, and articles share most of their words. Each is forgotten all at once when full.
_NAMES_SIZE = 1 << 15
_NAMES = {prefix: _ContextNames(prefix) for prefix in ("w:", "v:")}
# :func:`light_stem` of each word, worked out on first use (:meth:`_ContextNames.__missing__`).
_STEMS: dict[str, str] = {}
