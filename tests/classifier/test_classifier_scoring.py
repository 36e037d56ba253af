"""Finding a context or exclusion near a term occurrence: the bisecting lookup answers exactly as
the definition (an occurrence inside the sentence and within the window) over every occurrence."""

from __future__ import annotations

import random

import pytest

from classifier_service.loading import load_classifier
from classifier_service.matching import Match, Matcher, Occurrence
from classifier_service.scoring import _any_near, near
from classifier_service.taxonomy import PACKAGED_TAXONOMY
from classifier_service.tokens import FieldWords
from shared.gazetteer import PACKAGED_GAZETTEER

LONGEST = 4


def near_by_definition(
    occurrences: list[Occurrence], match: Match, sentence: tuple[int, int], window: int
) -> bool:
    first, last = sentence
    return any(
        start >= first
        and end <= last
        and (not window or (start < match[2] + window and end > match[1] - window))
        for start, end in occurrences
    )


def random_case(rng: random.Random, size: int) -> tuple[list[Occurrence], Match, tuple[int, int], int]:
    """Occurrences sorted by start (several may share one), a match, its sentence and a window."""
    tokens = rng.randint(1, 4 * size + 10)
    starts = sorted(rng.randrange(tokens) for _ in range(size))
    occurrences = [(start, min(tokens, start + rng.randint(1, LONGEST))) for start in starts]
    match_start = rng.randrange(tokens)
    match = (0, match_start, min(tokens, match_start + rng.randint(1, 3)))
    first = rng.randint(0, match_start)
    last = rng.randint(match[2], tokens)
    return occurrences, match, (first, last), rng.choice((0, 1, 3, 6, 10))


@pytest.mark.parametrize("size", [1, 5, 16, 17, 64, 65, 100])
def test_any_near_answers_as_the_definition_over_its_groups(size: int) -> None:
    rng = random.Random(size)
    for _ in range(1000):
        occurrences, match, sentence, window = random_case(rng, size)
        other, _, _, _ = random_case(rng, rng.randint(1, size))
        groups = {1: occurrences, 2: [(start, end) for start, end in other if end <= occurrences[-1][1] + 8]}
        groups = {group: found for group, found in groups.items() if found}
        expected = any(near_by_definition(found, match, sentence, window) for found in groups.values())
        assert _any_near(groups, frozenset(groups), match, sentence, window, LONGEST) == expected


@pytest.mark.parametrize("size", [0, 1, 5, 16, 17, 64, 65, 100, 400])
def test_near_answers_as_its_definition(size: int) -> None:
    rng = random.Random(size)
    for _ in range(2000):
        occurrences, match, sentence, window = random_case(rng, size)
        expected = near_by_definition(occurrences, match, sentence, window)
        assert near(occurrences, match, sentence, window, longest=LONGEST) == expected, (
            occurrences,
            match,
            sentence,
            window,
        )


def test_no_occurrence_is_longer_than_the_longest_phrase() -> None:
    """The taxonomy and gazetteer files hold (nearly) every phrase as written, so most phrases are
    found in them; the bisection in ``near`` relies on none being longer than ``Matcher.longest``."""
    classifier = load_classifier()
    matcher = Matcher(classifier.compiled.index)
    text = PACKAGED_TAXONOMY.read_text(encoding="utf-8") + PACKAGED_GAZETTEER.read_text(encoding="utf-8")
    terms, groups, entities = matcher.find_sorted(FieldWords.read("text", text).tokens)
    spans = [(start, end) for _, start, end in terms + entities]
    for occurrences in groups.values():
        spans.extend(occurrences)
    assert 4 <= max(end - start for start, end in spans) <= matcher.longest
