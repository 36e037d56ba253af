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
# Feature name prefixes of a stopped term by why it was stopped.
_REASON_PREFIXES = {EXCLUDED: "be:", TOPIC_EXCLUDED: "bt:", NO_CONTEXT: "bn:"}
# Token positions of the title field count as the article's start.
_EARLY_SHARE = 0.2


def light_stem(word: str) -> str:
    """``word`` without one proclitic (or the article) and one ending, when three letters remain."""
    match = _LIGHT_STEM.fullmatch(word)
    return word if match is None else match[1]


def topic_features(hits: TopicHits) -> dict[str, float]:
    """The features of one topic's hits in one article (empty when the rules matched nothing)."""
    counted, blocked = hits.counted, hits.blocked
    features: dict[str, float] = {}
    if counted:
        _summary(features, counted)
        _false_friends(features, counted)
        _words(features, counted, prefix="w:")
    if blocked:
        features["blocked_n"] = log1p(len(blocked))
        for (term, found, _), stopped in zip(blocked, hits.reasons, strict=True):
            names = _TERM_NAMES.get(term.term) or _term_names(term.term)
            features[names["b:"]] = 1.0
            if found.words.name == "title":
                features["title_blocked"] = 1.0
            # Why it was stopped, overall and for this term: a false friend next to the term says
            # more against the topic than a context the rules did not find. A context that is only
            # far is a missing context too, and says a little more.
            far = stopped == FAR_CONTEXT
            reason = NO_CONTEXT if far else stopped
            features[_BLOCKED_BY[reason]] = 1.0
            features[names[_REASON_PREFIXES[reason]]] = 1.0
            if far:
                features["blocked_far_context"] = 1.0
        _words(features, blocked, prefix="v:")
    return features


def _summary(features: dict[str, float], counted: list[Counted]) -> None:
    features["rule"] = 1.0
    features["rule_score"] = 1.0 - _missing(counted)
    features["counted_n"] = log1p(len(counted))
    features["max_weight"] = max(term.weight for term, _, _ in counted)
    sentences: set[tuple[str, int]] = set()
    terms: set[str] = set()
    for term, found, match in counted:
        terms.add(term.term)
        features[(_TERM_NAMES.get(term.term) or _term_names(term.term))["t:"]] = 1.0
        words = found.words
        if words.name == "title":
            features["title"] = 1.0
            features["early"] = 1.0
        elif match[1] < _EARLY_SHARE * len(words.tokens):
            features["early"] = 1.0
        sentences.add((words.name, words.sentence_around(match[1])[0]))
    features["terms_n"] = log1p(len(terms))
    features["sentences_n"] = log1p(len(sentences))


def _false_friends(features: dict[str, float], counted: list[Counted]) -> None:
    """The exclusions of a counted term present in its field, though not near it: the article also
    speaks of the term's other sense (a knife attack, a nuclear deal), which its window did not see."""
    for term, found, _ in counted:
        present = found.present
        if (term.exclude and term.exclude & present) or (term.topic_exclude and term.topic_exclude & present):
            features["far_excluded"] = 1.0
            features[(_TERM_NAMES.get(term.term) or _term_names(term.term))["fe:"]] = 1.0


def _missing(counted: list[Counted]) -> float:
    missing = 1.0
    for term, _, _ in counted:
        missing *= 1.0 - term.weight
    return missing


def _words(features: dict[str, float], occurrences: list[Counted], *, prefix: str) -> None:
    around: set[str] = set()
    for _, found, match in occurrences[:READ_OCCURRENCES]:
        words = found.words
        tokens = words.tokens
        first, end = words.sentence_around(match[1])
        around.update(tokens[max(first, match[1] - NEIGHBOURHOOD) : match[1]])
        around.update(tokens[match[2] : min(end, match[2] + NEIGHBOURHOOD)])
    # Looked up and added in C, in the order of ``around``; a word not seen before is named by
    # ``_ContextNames.__missing__``.
    features.update(dict.fromkeys(map(_NAMES[prefix].__getitem__, around), 1.0))


class _ContextNames(dict[str, str]):
    """The feature names of context words under one prefix, by word, made on first use (from C, by
    ``__getitem__``) and forgotten all at once when full. The stem comes from :data:`_STEMS`, which
    both prefixes share: a word read around a counted term is often read around a stopped one too."""

    __slots__ = ("_prefix",)

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self._prefix = prefix

    def __missing__(self, token: str) -> str:
        if len(self) >= _NAMES_SIZE:
            self.clear()
        name = self[token] = sys.intern(self._prefix + _STEMS[token])
        return name


class _Stems(dict[str, str]):
    """:func:`light_stem` of each word, worked out on first use and forgotten all at once when full."""

    __slots__ = ()

    def __missing__(self, token: str) -> str:
        if len(self) >= _NAMES_SIZE:
            self.clear()
        stem = self[token] = light_stem(token)
        return stem


def _term_names(term: str) -> dict[str, str]:
    """The features ``prefix + term`` of every term prefix, by prefix, made once per term: a string
    kept keeps its hash, so the features' dict and the model's weights look it up without hashing it
    again (and, interned as the model's names are, without comparing it with their copy)."""
    if len(_TERM_NAMES) >= _NAMES_SIZE:
        _TERM_NAMES.clear()
    names = _TERM_NAMES[term] = {prefix: sys.intern(prefix + term) for prefix in _TERM_PREFIXES}
    return names


_TERM_PREFIXES = ("t:", "b:", "fe:", *_REASON_PREFIXES.values())
# Feature names of terms (``t:...``, ``b:...``, ...) by term, then by prefix, as :func:`_term_names`
# makes them.
_TERM_NAMES: dict[str, dict[str, str]] = {}
# The feature of each reason a term was stopped for, made once (a string made per occurrence would
# be hashed again, and compared with the model's copy of the name).
_BLOCKED_BY = {reason: sys.intern("blocked_" + reason) for reason in _REASON_PREFIXES}
# Feature names of context words by prefix, and their stems, remembered: stemming is the costly
# part, and articles share most of their words. Each is forgotten all at once when full.
_NAMES_SIZE = 1 << 15
_NAMES = {prefix: _ContextNames(prefix) for prefix in ("w:", "v:")}
_STEMS = _Stems()
