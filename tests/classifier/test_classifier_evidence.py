"""An evidence sentence is the match's sentence as written, cut around the match when it is longer
than the evidence context either side; the match's offsets still point into the original text."""

from __future__ import annotations

from classifier_service.compiler import EntityName
from classifier_service.evidence import ELLIPSIS, EVIDENCE_CONTEXT, entities_named, excerpt
from classifier_service.loading import load_classifier
from classifier_service.scoring import FieldMatches
from classifier_service.tokens import FieldWords

FILLER = "كلام عادي في خبر طويل بلا علامة "


def test_a_sentence_within_the_context_is_shown_whole() -> None:
    text = "  قال المتحدث إن القوات بدأت الانسحاب من المدينة  "
    start = text.index("الانسحاب")
    assert excerpt(text, (0, len(text)), match=(start, start + 8)) == text.strip()


def test_a_run_on_line_is_cut_around_the_match_at_spaces() -> None:
    before, after = FILLER * 200, FILLER * 300
    text = before + "بدأ انسحاب القوات من المدينة " + after
    start = text.index("انسحاب")
    shown = excerpt(text, (0, len(text)), match=(start, start + 6))
    assert shown.startswith(ELLIPSIS) and shown.endswith(ELLIPSIS)
    inner = shown.removeprefix(ELLIPSIS).removesuffix(ELLIPSIS)
    assert inner in text and "انسحاب القوات" in inner
    assert len(inner) <= 2 * EVIDENCE_CONTEXT + 6
    assert inner.split() == text[text.index(inner) : text.index(inner) + len(inner)].split()
    assert text[text.index(inner) - 1] == " " and text[text.index(inner) + len(inner)] == " "


def test_a_word_longer_than_the_context_is_cut_inside() -> None:
    text = "ب" * 2000 + "انسحاب" + "ت" * 2000
    start, end = 2000, 2006
    shown = excerpt(text, (0, len(text)), match=(start, end))
    assert shown == ELLIPSIS + text[start - EVIDENCE_CONTEXT : end + EVIDENCE_CONTEXT] + ELLIPSIS


def test_evidence_of_an_article_on_one_line_stays_short_with_original_offsets() -> None:
    text = FILLER * 5000 + "وبدأت القوات الأمريكية الانسحاب من قاعدة عين الأسد " + FILLER * 5000
    classification = load_classifier().classify(title="", text=text)
    (evidence,) = [item for item in classification.evidence if item.topic == "withdrawal"]
    assert len(evidence.sentence) <= 2 * EVIDENCE_CONTEXT + len(evidence.matched) + 2
    assert text[evidence.start : evidence.end] == evidence.matched
    assert evidence.matched in evidence.sentence


def test_entities_keep_each_articles_mention_count_and_gazetteer_entry() -> None:
    """Entity objects are shared between articles: each still carries its own article's count, and
    an entry of another gazetteer with the same position is its own entity."""
    assert entities_named([], []) == ()
    names: list[EntityName] = [("country:tr", "country", "تركيا"), ("group:isis", "group", "داعش")]
    other: list[EntityName] = [("place:mosul", "place", "الموصل"), ("group:isis", "group", "داعش")]
    first = entities_named([_entity_matches([0, 0, 1])], names)
    second = entities_named([_entity_matches([0, 1, 1, 1])], names)
    third = entities_named([_entity_matches([0, 0, 1])], other)
    assert [(entity.id, entity.mentions) for entity in first] == [("country:tr", 2), ("group:isis", 1)]
    assert [(entity.id, entity.mentions) for entity in second] == [("group:isis", 3), ("country:tr", 1)]
    assert [(entity.id, entity.kind, entity.mentions) for entity in third] == [
        ("place:mosul", "place", 2),
        ("group:isis", "group", 1),
    ]


def _entity_matches(owners: list[int]) -> FieldMatches:
    """A field whose entity matches are ``owners``, one word each, in order."""
    words = FieldWords.read("text", " ".join(["كلمة"] * len(owners)))
    matches = [(owner, position, position + 1) for position, owner in enumerate(owners)]
    return FieldMatches(words, [], {}, matches, 1)
