"""Weighing term occurrences: whether each counts in its context, and a topic's score.

A term occurrence counts when its context (if it needs one, and its second condition if it has one)
is near it in the same sentence (or in the sentence before, for a term whose context may be there)
and no exclusion (false friend) is; a topic's score is the noisy-or of the weights of the occurrences
that count.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice

from classifier_service.compiler import CompiledTerm
from classifier_service.matching import Match, Occurrence
from classifier_service.tokens import FieldWords

SCORE_DIGITS = 4
# Occurrence lists up to this long are scanned from their start, faster than bisecting them (the
# verdicts of the 1,150 labeled articles: 1% fewer instructions at 16 than at 64, more at 8 or 4).
_SCANNED = 16


@dataclass(slots=True)
class FieldMatches:
    """What was found in one field, sorted by what found it."""

    words: FieldWords
    terms: list[Match]
    groups: dict[int, list[Occurrence]]
    entities: list[Match]
    # The most words any phrase has: no occurrence is longer.
    longest: int
    # The groups found, as a set: a term's conditions are intersected with it (a frozenset with a
    # set is intersected in C over the smaller; with a dict's keys, an order of magnitude slower).
    present: frozenset[int] = field(init=False)
    # What each term found in the field needs of the groups present, by term id, worked out at its
    # first occurrence (:func:`verdict`): a term occurs a few times in a field, and its conditions
    # present are the same at each.
    needs: dict[int, Needs] = field(init=False)

    def __post_init__(self) -> None:
        self.present = frozenset(self.groups)
        self.needs = {}


# The term, the groups present of its exclusions, topic exclusions, contexts and second condition
# (None: it has none of that kind), and the verdict when these decide it wherever the term is (else
# :data:`_UNDECIDED`).
Needs = tuple[
    CompiledTerm,
    frozenset[int] | None,
    frozenset[int] | None,
    frozenset[int] | None,
    frozenset[int] | None,
    str | None,
]
# Not a reason (each is a word): the occurrence's sentence decides.
_UNDECIDED = ""


# A term occurrence that counts: the term, the field it is in, and where.
Counted = tuple[CompiledTerm, FieldMatches, Match]


def counts(term: CompiledTerm, match: Match, found: FieldMatches) -> bool:
    """Whether an occurrence of ``term`` counts: its context (and its second condition, if it has
    one) near it, no exclusion near it."""
    return verdict(term, match, found) is None


# Why a term occurrence did not count, most telling first: one of its exclusions (false friends) is
# near, an exclusion of its topic is near, its context (and second condition) is in its sentence but
# farther than its window, or its context is missing.
EXCLUDED, TOPIC_EXCLUDED, FAR_CONTEXT, NO_CONTEXT = "excluded", "topic_excluded", "far_context", "no_context"


def stopped_by(term: CompiledTerm, match: Match, found: FieldMatches) -> str:
    """Why an occurrence of ``term`` that does not count (:func:`counts` is false) was stopped:
    :data:`EXCLUDED`, :data:`TOPIC_EXCLUDED`, :data:`FAR_CONTEXT` or :data:`NO_CONTEXT`. The learned
    re-scoring weighs a false friend next to the term differently from a missing context, and a
    context that is merely far (more often on the topic) differently from none in the sentence."""
    return verdict(term, match, found) or NO_CONTEXT


def verdict(term: CompiledTerm, match: Match, found: FieldMatches) -> str | None:
    """None when an occurrence of ``term`` counts (:func:`counts`), else why it was stopped
    (:func:`stopped_by`): both from one look at the groups present, as every occurrence needs one
    and a stopped one the other."""
    needs = found.needs.get(match[0])
    if needs is None or needs[0] is not term:
        needs = found.needs[match[0]] = _needs(term, found.present)
    _, exclusions, topic_exclusions, contexts, also, decided = needs
    if decided != _UNDECIDED:
        return decided
    groups = found.groups
    words = found.words
    sentence = words.sentences_around(match[1]) if term.previous_sentence else words.sentence_around(match[1])
    longest = found.longest
    for near_groups, window, reason in (
        (exclusions, term.exclude_window, EXCLUDED),
        (topic_exclusions, term.topic_window, TOPIC_EXCLUDED),
    ):
        if near_groups and _any_near(groups, near_groups, match, sentence, window, longest):
            return reason
    # Each condition (context, second condition) met within its window: the occurrence counts;
    # each met only farther in the sentence: its context is far.
    if (contexts is None or _any_near(groups, contexts, match, sentence, term.window, longest)) and (
        also is None or _any_near(groups, also, match, sentence, term.also_window, longest)
    ):
        return None
    if (contexts is None or _any_near(groups, contexts, match, sentence, 0, longest)) and (
        also is None or _any_near(groups, also, match, sentence, 0, longest)
    ):
        return FAR_CONTEXT
    return NO_CONTEXT


def _needs(term: CompiledTerm, present: frozenset[int]) -> Needs:
    """What ``term`` needs of the groups ``present`` (:data:`Needs`)."""
    # Only the groups present in the field are looked at (a set intersection, in C: a term can have
    # dozens of exclusions); a term whose conditions are all absent and that no exclusion present
    # could stop is decided without finding its sentence.
    exclusions = term.exclude & present if term.exclude else None
    topic_exclusions = term.topic_exclude & present if term.topic_exclude else None
    contexts = term.context & present if term.context else None
    also = term.also & present if term.also else None
    decided: str | None = _UNDECIDED
    if not exclusions and not topic_exclusions:
        if contexts is None and also is None:
            decided = None
        elif (contexts is not None and not contexts) or (also is not None and not also):
            decided = NO_CONTEXT
    return term, exclusions, topic_exclusions, contexts, also, decided


def reaches_back(term: CompiledTerm, match: Match, found: FieldMatches) -> bool:
    """Whether an occurrence of ``term`` counts by what the sentence before its own holds: it counts,
    its term looks there too, and its own sentence alone does not meet its conditions. Its evidence
    then shows both sentences."""
    if not term.previous_sentence or verdict(term, match, found) is not None:
        return False
    groups, present, longest = found.groups, found.present, found.longest
    sentence = found.words.sentence_around(match[1])
    contexts = term.context & present if term.context else None
    also = term.also & present if term.also else None
    return not (
        (contexts is None or _any_near(groups, contexts, match, sentence, term.window, longest))
        and (also is None or _any_near(groups, also, match, sentence, term.also_window, longest))
    )


def _any_near(  # noqa: PLR0913, PLR0917 -- positional: called for every condition of every occurrence
    groups: dict[int, list[Occurrence]],
    needed: frozenset[int],
    match: Match,
    sentence: tuple[int, int],
    window: int,
    longest: int,
) -> bool:
    """Whether an occurrence of a group of ``needed`` is :func:`near` ``match``: :func:`near` written
    out here, as this runs for every condition of every occurrence.

    Each list is sorted by start, so its scan stops at the first occurrence past the window (or the
    sentence); a list longer than a few is entered by bisection, as :func:`_near_in_long` enters
    it. Of the occurrences a plain scan of every list looked at (245,000 in the 1,150 labeled
    articles), nine in ten are in another sentence, about as many before the match's as after it.
    """
    first, last = sentence
    if window:
        before, after = match[1] - window, match[2] + window
        # Compared here rather than by max() and min(), whose calls cost more.
        lowest = first if before - longest + 1 < first else before - longest + 1
        stop = after if after < last else last
    else:
        before, lowest, stop = -1, first, last
    for group in needed:
        found = groups[group]
        occurrences: Iterable[Occurrence] = (
            islice(found, bisect_left(found, (lowest, -1)), None) if len(found) > _SCANNED else found
        )
        for start, end in occurrences:
            if start >= stop:
                break
            if start >= lowest and end <= last and end > before:
                return True
    return False


def near(
    occurrences: list[Occurrence] | None,
    match: Match,
    sentence: tuple[int, int],
    window: int,
    *,
    longest: int,
) -> bool:
    """Whether an occurrence is in ``sentence`` (a token span) and within ``window`` words of ``match``
    (0: anywhere in the sentence). ``occurrences`` are sorted by start and none is longer than
    ``longest`` words.

    A short list (nearly all of them) is scanned with plain loops: this runs for every term
    occurrence's conditions. A long one is bisected (:func:`_near_in_long`), so that an article full
    of term hits and context words is still classified in time linear in its length.
    """
    if not occurrences:
        return False
    if len(occurrences) > _SCANNED:
        return _near_in_long(occurrences, match, sentence, window, longest=longest)
    first, last = sentence
    if window:
        before, after = match[1] - window, match[2] + window
        for start, end in occurrences:
            if start >= first and end <= last and start < after and end > before:
                return True
        return False
    for start, end in occurrences:  # noqa: SIM110 (a loop is faster than any() over a generator)
        if start >= first and end <= last:
            return True
    return False


def _near_in_long(
    occurrences: list[Occurrence], match: Match, sentence: tuple[int, int], window: int, *, longest: int
) -> bool:
    """:func:`near` for a long list: entered by bisection at the first occurrence that can qualify
    (one starting ``longest`` words before the window can still reach into it; an earlier one
    cannot), and left at the first one past the window, so each call looks at a few occurrences,
    not at every one in the field."""
    first, last = sentence
    if window:
        before, after = match[1] - window, match[2] + window
        lowest, stop = max(first, before - longest + 1), min(after, last)
    else:
        before, lowest, stop = -1, first, last
    index = bisect_left(occurrences, (lowest, -1))
    size = len(occurrences)
    while index < size:
        start, end = occurrences[index]
        if start >= stop:
            return False
        if end <= last and end > before:
            return True
        index += 1
    return False


def noisy_or(weights: Iterable[float]) -> float:
    """The chance that at least one of independent signals of these weights is right, rounded."""
    missing = 1.0
    for weight in weights:
        missing *= 1.0 - weight
    return round(1.0 - missing, SCORE_DIGITS)
