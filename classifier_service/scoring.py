"""Weighing term occurrences: whether each counts in its context, and a topic's score.

A term occurrence counts when its context (if it needs one) is near it in the same sentence and no
exclusion (false friend) is; a topic's score is the noisy-or of the weights of the occurrences that
count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from classifier_service.compiler import CompiledTerm
from classifier_service.matching import Match, Occurrence
from classifier_service.tokens import FieldWords

SCORE_DIGITS = 4


@dataclass(slots=True)
class FieldMatches:
    """What was found in one field, sorted by what found it."""

    words: FieldWords
    terms: list[Match]
    groups: dict[int, list[Occurrence]]
    entities: list[Match]


# A term occurrence that counts: the term, the field it is in, and where.
Counted = tuple[CompiledTerm, FieldMatches, Match]


def counts(term: CompiledTerm, match: Match, found: FieldMatches) -> bool:
    """Whether an occurrence of ``term`` counts: its context near it, no exclusion near it."""
    groups = found.groups
    # Only the groups present in the field are looked at; a term whose conditions are all
    # absent is decided without finding its sentence.
    exclusions = [group for group in term.exclude if group in groups] if term.exclude else None
    topic_exclusions = [group for group in term.topic_exclude if group in groups]
    contexts = [group for group in term.context if group in groups] if term.context else None
    if contexts == []:
        return False
    if not exclusions and not topic_exclusions and contexts is None:
        return True
    sentence = found.words.sentence_around(match[1])
    for group in exclusions or ():
        if near(groups[group], match, sentence, term.exclude_window):
            return False
    for group in topic_exclusions:
        if near(groups[group], match, sentence, term.topic_window):
            return False
    if contexts is None:
        return True
    return any(near(groups[group], match, sentence, term.window) for group in contexts)


def near(occurrences: list[Occurrence] | None, match: Match, sentence: tuple[int, int], window: int) -> bool:
    """Whether an occurrence is in ``sentence`` (a token span) and within ``window`` words of ``match``
    (0: anywhere in the sentence). Plain loops: this runs for every term occurrence's conditions."""
    if not occurrences:
        return False
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


def noisy_or(weights: Iterable[float]) -> float:
    """The chance that at least one of independent signals of these weights is right, rounded."""
    missing = 1.0
    for weight in weights:
        missing *= 1.0 - weight
    return round(1.0 - missing, SCORE_DIGITS)
