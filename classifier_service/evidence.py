"""What a classification shows for itself: the words behind each tag, and the entities named.

A tag's evidence is its heaviest counted term occurrence, with the words matched and their sentence
as written in the original text (offsets into the original field); when the occurrence counts by
what the sentence before holds (a term whose subject is named there), the sentence shown starts at
the one before. A sentence longer than the
match and :data:`EVIDENCE_CONTEXT` characters either side of it is cut at word boundaries, with an
ellipsis where it was cut: a line with no sentence mark can be a whole article long. Entities are
gazetteer entries counted once per mention, the longest name winning where names overlap.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from operator import itemgetter
from typing import TYPE_CHECKING, TypedDict

from classifier_service.compiler import EntityName
from classifier_service.matching import Match
from classifier_service.scoring import Counted, FieldMatches, reaches_back
from classifier_service.tokens import FieldName

if TYPE_CHECKING:
    # The models are built only where a message is (the worker): ``rasid classify`` writes plain fields.
    from shared.messages import Entity, EntityKind, Evidence

# Characters of the sentence shown on each side of the match, at most (then cut at a space): more
# than any sentence of a real article in the development sets needs, so only run-on lines are cut.
EVIDENCE_CONTEXT = 500
ELLIPSIS = "…"


class EvidenceFields(TypedDict):
    """The fields of an :class:`~shared.messages.Evidence`, in its order, as its JSON holds them."""

    topic: str
    term: str
    matched: str
    field: FieldName
    start: int
    end: int
    sentence: str


class EntityFields(TypedDict):
    """The fields of an :class:`~shared.messages.Entity`, in its order, as its JSON holds them."""

    id: str
    kind: EntityKind
    name: str
    mentions: int


def evidence_of(topic: str, counted: list[Counted]) -> Evidence:
    """The evidence of ``topic``: its heaviest counted occurrence, the first of equals."""
    from shared.messages import Evidence

    return Evidence(**evidence_fields(topic, counted))


def evidence_fields(topic: str, counted: list[Counted]) -> EvidenceFields:
    """:func:`evidence_of` as plain fields (what ``rasid classify`` writes, without building the model)."""
    term, found, match = max(counted, key=lambda item: item[0].weight)
    words = found.words
    _, first_word, end_word = match
    previous = reaches_back(term, match, found)
    (start, end), sentence_span = words.match_spans(first_word, end_word, previous=previous)
    original_start, original_end = words.normalized.to_original(start, end)
    original_sentence = words.normalized.to_original(*sentence_span)
    original = words.normalized.original
    sentence = excerpt(original, original_sentence, match=(original_start, original_end))
    return {
        "topic": topic,
        "term": term.term,
        "matched": original[original_start:original_end],
        "field": words.name,
        "start": original_start,
        "end": original_end,
        "sentence": sentence,
    }


def excerpt(text: str, sentence: tuple[int, int], *, match: tuple[int, int]) -> str:
    """The ``sentence`` span of ``text`` around ``match``, stripped, and cut to
    :data:`EVIDENCE_CONTEXT` characters either side of the match at the nearest space inside that
    reach (or at the limit, in a word that long), with an ellipsis where it was cut."""
    start, end = sentence
    prefix = suffix = ""
    if match[0] - start > EVIDENCE_CONTEXT:
        limit = match[0] - EVIDENCE_CONTEXT
        space = text.find(" ", limit, match[0])
        start, prefix = (limit if space < 0 else space), ELLIPSIS
    if end - match[1] > EVIDENCE_CONTEXT:
        limit = match[1] + EVIDENCE_CONTEXT
        space = text.rfind(" ", match[1], limit)
        end, suffix = (limit if space < 0 else space), ELLIPSIS
    return prefix + text[start:end].strip() + suffix


def entities_named(fields: Iterable[FieldMatches], names: list[EntityName]) -> tuple[Entity, ...]:
    """The entities mentioned in ``fields``, most mentioned first, then by id."""
    return tuple(_entity(name, count) for name, count in entity_mentions(fields, names))


def entity_fields(fields: Iterable[FieldMatches], names: list[EntityName]) -> list[EntityFields]:
    """:func:`entities_named` as plain fields (what ``rasid classify`` writes)."""
    return [
        {"id": entity_id, "kind": kind, "name": name, "mentions": count}
        for (entity_id, kind, name), count in entity_mentions(fields, names)
    ]


def entity_mentions(fields: Iterable[FieldMatches], names: list[EntityName]) -> list[tuple[EntityName, int]]:
    """Each gazetteer entry mentioned in ``fields`` and how many times, most mentioned first, then by id."""
    counts: dict[int, int] = defaultdict(int)
    for found in fields:
        for owner, _, _ in without_overlaps(found.entities):
            counts[owner] += 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], names[item[0]][0]))
    return [(names[index], count) for index, count in ranked]


def _entity(name: EntityName, mentions: int) -> Entity:
    """The (frozen, so shared) entity of a gazetteer entry mentioned ``mentions`` times: articles
    name the same entries a few times each, and validating a new one every time is costly."""
    key = (name, mentions)
    entity = _ENTITIES.get(key)
    if entity is None:
        from shared.messages import Entity

        if len(_ENTITIES) >= _ENTITIES_SIZE:
            _ENTITIES.clear()
        entity = _ENTITIES[key] = Entity(id=name[0], kind=name[1], name=name[2], mentions=mentions)
    return entity


_ENTITIES: dict[tuple[EntityName, int], Entity] = {}
_ENTITIES_SIZE = 1 << 14


def without_overlaps(matches: list[Match]) -> list[Match]:
    """Longest match first at each position; a match inside an accepted one is dropped."""
    kept: list[Match] = []
    covered_until = -1
    # By start, the longest first: two stable sorts on C keys (by end, descending, then by start)
    # order equal matches as one sort on ``(start, start - end)`` would, without a call per match.
    by_end = sorted(matches, key=itemgetter(2), reverse=True)
    for match in sorted(by_end, key=itemgetter(1)):
        if match[1] >= covered_until:
            kept.append(match)
            covered_until = match[2]
    return kept
