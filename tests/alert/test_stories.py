"""Story grouping in memory: written cases (tests/fixtures/alert/stories.json), idempotence, the
IDF table and the profile's stored form, the scores of a grouping and ``rasid stories``."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from alert_service import stories as stories_module
from alert_service.grouping import GroupingSettings
from alert_service.stories import (
    CENTROID_MEMBERS,
    INDEXED_MEMBERS,
    KEY_TERMS,
    CentroidCache,
    HeldCentroid,
    IdfTable,
    LiveCentroid,
    Profile,
    StoryArticle,
    StoryCandidate,
    StoryIndex,
    _Arrival,
    _story_bounds,
    _story_score,
    _WordCache,
    choose_story,
    default_idf,
    held_weights,
    live_centroid,
    places_of,
    profile,
    similarities,
    similarity,
    skeleton,
    stem,
    stems,
    summed,
    terms,
)
from alert_service.story_metrics import score_grouping
from shared.arabic import fold, word_texts
from shared.cli import cli
from tests.alert.helpers import FIXTURES, load_fixture

CASES: list[dict[str, Any]] = load_fixture("stories.json")
LABELED = FIXTURES / "stories_labeled.jsonl"


def run_offline(*args: str) -> Result:
    """``rasid ARGS`` for a command that opens no database."""
    return CliRunner().invoke(cli, list(args))


def _article(row: dict[str, Any]) -> StoryArticle:
    published = datetime.fromisoformat(row["published"])
    return StoryArticle(row["id"], row["source"], published, row["title"], row["text"])


def _partition(groups: dict[str, int]) -> set[frozenset[str]]:
    stories: dict[int, set[str]] = {}
    for article_id, story in groups.items():
        stories.setdefault(story, set()).add(article_id)
    return {frozenset(members) for members in stories.values()}


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_articles_are_grouped_by_the_event_they_report(case: dict[str, Any]) -> None:
    index = StoryIndex()
    groups = {row["id"]: index.add(_article(row)) for row in case["articles"]}
    assert _partition(groups) == {frozenset(story) for story in case["stories"]}


def test_an_article_added_again_keeps_its_story() -> None:
    index = StoryIndex()
    rows = CASES[0]["articles"] + CASES[1]["articles"]
    first = {row["id"]: index.add(_article(row)) for row in rows}
    again = {row["id"]: index.add(_article(row)) for row in rows}
    assert again == first


@pytest.mark.parametrize(
    ("word", "expected"),
    [("والعراق", "عراق"), ("العراق", "عراق"), ("بالقاعده", "قاعد"), ("وزير", "وزير"), ("66", "66")],
)
def test_attached_articles_and_conjunctions_come_off(word: str, expected: str) -> None:
    assert stem(word) == expected


def _stem_by_the_rules(word: str) -> str:
    """:func:`stem` as its rules read: the first article prefix that leaves three letters, else the
    first lone conjunction or preposition that leaves four, then the first ending that leaves three."""
    for prefix in stories_module._ARTICLE_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 3:
            word = word[len(prefix) :]
            break
    else:
        for prefix in stories_module._SHORT_PREFIXES:
            if word.startswith(prefix) and len(word) - len(prefix) >= 4:
                word = word[len(prefix) :]
                break
    for suffix in stories_module._SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@pytest.mark.parametrize(
    "word",
    [
        "والعراق",  # the longest prefix that fits
        "والاب",  # وال would leave two letters: the lone conjunction comes off instead
        "وبال",  # a whole prefix and nothing after it
        "ولد",  # a lone conjunction on a short word stays
        "وزراء",  # ... and comes off a long one
        "فالمسؤولون",  # prefix and ending
        "كالها",  # an article prefix that would leave too little, an ending that leaves enough
        "بيروت",
        "2018",
        "ه",
    ],
)
def test_a_stem_follows_the_rules_whichever_affixes_a_word_has(word: str) -> None:
    assert stem(word) == _stem_by_the_rules(word)


def test_the_stems_of_the_fixtures_words_follow_the_rules() -> None:
    words = {word for case in CASES for row in case["articles"] for word in word_texts(fold(row["text"]))}
    assert [stem(word) for word in sorted(words)] == [_stem_by_the_rules(word) for word in sorted(words)]


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("نتنياهو", "نتانياهو"),  # one name, two outlets' spellings
        ("الأميركي", "الأمريكي"),
        ("ميركل", "ميركيل"),
        ("موقع", "مواقع"),  # a singular and its broken plural
    ],
)
def test_spellings_of_one_word_are_one_term(left: str, right: str) -> None:
    assert terms(left) == terms(right)


@pytest.mark.parametrize(
    ("stem_text", "expected"),
    [("قال", "قال"), ("يوم", "يوم"), ("2018", "2018"), ("نتانياه", "نتنه"), ("ايران", "ارن")],
)
def test_a_skeleton_keeps_short_stems_and_numbers_whole(stem_text: str, expected: str) -> None:
    assert skeleton(stem_text) == expected


def test_places_are_found_in_stems_not_skeletons() -> None:
    """واسط (a province) and وسط (middle) share a skeleton; only the province is a place."""
    assert "place:wasit" not in places_of().find(stems("في وسط المدينة"))
    assert "place:wasit" in places_of().find(stems("في محافظة واسط"))


def test_grouping_compares_the_places_of_the_configured_gazetteer(tmp_path: Path) -> None:
    gazetteer = tmp_path / "gazetteer.yaml"
    gazetteer.write_text(
        'version: "test"\nentries:\n'
        '  - {id: "country:zz", name: زمبلا, names: [زمبلا]}\n'
        '  - {id: "place:qarta", name: قرطا, names: [قرطا], within: "country:zz"}\n',
        encoding="utf-8",
    )
    article = StoryArticle("a", "s", datetime(2026, 3, 2, tzinfo=UTC), "هجوم في قرطا", "وقع هجوم في قرطا.")
    configured = GroupingSettings(gazetteer_path=gazetteer)
    assert profile(article, idf=default_idf(), settings=configured).places == {"place:qarta", "country:zz"}
    assert profile(article, idf=default_idf(), settings=GroupingSettings()).places == frozenset()


def test_places_are_found_with_the_places_they_lie_within() -> None:
    found = places_of().find(stems("استهدف هجوم بقاعدة عين الاسد في الأنبار"))
    assert {"place:ain-al-asad", "country:iq"} <= found
    assert places_of().find(stems("اجتماع في فندق")) == frozenset()


def test_the_idf_table_reads_back_what_it_wrote() -> None:
    table = IdfTable.build(["غارة على دوما", "غارة على إدلب", "زيارة إلى أنقرة"], min_frequency=1)
    again = IdfTable.load(table.dump())
    assert again == table
    raid, douma = terms("غارة دوما")
    assert again.idf(raid) < again.idf(douma) < again.idf("كلمه_لم_ترد")


def test_the_shipped_idf_table_weighs_common_words_less_than_names() -> None:
    idf = default_idf()
    assert idf.documents > 10_000
    said, iraq, zagros = terms("قال العراق زاغروس")
    assert idf.idf(said) < idf.idf(iraq) < idf.idf(zagros)


def test_a_stored_profile_compares_as_the_fresh_one() -> None:
    settings = GroupingSettings()
    left, right = (
        profile(_article(row), idf=default_idf(), settings=settings) for row in CASES[0]["articles"][:2]
    )
    stored = json.loads(json.dumps(left.to_json()))
    back = Profile.from_json(left.article_id, source=left.source, published=left.published, data=stored)
    assert similarity(back, right, settings=settings) == pytest.approx(
        similarity(left, right, settings=settings)
    )


def test_a_stored_profile_reads_back_as_the_fresh_one_with_its_terms_shared() -> None:
    """Weights in their order (a centroid sums them in it), the key terms, the places; each term and
    place set the very object the fresh profile holds, so profiles read back add no copies of them."""
    settings = GroupingSettings()
    for row in CASES[0]["articles"]:
        fresh = profile(_article(row), idf=default_idf(), settings=settings)
        stored = json.loads(json.dumps(fresh.to_json()))
        back = Profile.from_json(
            fresh.article_id, source=fresh.source, published=fresh.published, data=stored
        )
        assert back == fresh
        assert list(back.vector.items()) == list(fresh.vector.items())
        assert list(back.title_vector.items()) == list(fresh.title_vector.items())
        assert back.key_terms == fresh.key_terms
        assert back.keys == fresh.keys and len(back.key_terms) == min(KEY_TERMS, len(fresh.vector))
        assert all(term is kept for term, kept in zip(back.vector, fresh.vector, strict=True))
        assert back.places is fresh.places


@pytest.mark.parametrize(
    "weights",
    [
        {"عراق": 0.5, "موصل": 0.1234},
        {"عراق": 0.123456, "موصل": 0.5},
        {"عراق": 1.5, "موصل": 0.25},
        {"عراق": -0.25, "موصل": 0.25},
        {"عراق": 70_000.0},
    ],
    ids=["ten-thousandths", "finer", "above-one", "negative", "beyond-16-bits"],
)
def test_a_profile_keeps_its_weights_exactly_whatever_they_are(weights: dict[str, float]) -> None:
    """Weights rounded to four decimals are held compactly; any other weight (none a profile made
    here has) is kept as it was given: the vector reads back and compares the same either way."""
    made = Profile("a1", "src", datetime(2025, 1, 1, tzinfo=UTC), weights, {"عراق": 1.0})
    assert list(made.vector.items()) == list(weights.items())
    back = Profile.from_json("a1", source="src", published=made.published, data=made.to_json())
    assert back == made
    settings = GroupingSettings()
    dot = math.fsum(weight * weight for weight in weights.values())
    expected = (1 - settings.title_share) * dot + settings.title_share
    assert similarity(made, back, settings=settings) == expected


def _at(row: dict[str, Any], hours: float) -> Profile:
    moment = datetime.fromisoformat(CASES[0]["articles"][0]["published"]) + timedelta(hours=hours)
    article = _article({**row, "published": moment.isoformat()})
    return profile(article, idf=default_idf(), settings=GroupingSettings())


def test_the_time_penalty_counts_from_the_start_of_the_story() -> None:
    """A report joins the story it continues the same day, not one begun two and a half days before,
    even when the story's latest report is an hour old."""
    settings = GroupingSettings(threshold=0.5)
    first, second, third = CASES[0]["articles"]
    new = _at(second, 60)
    assert choose_story(_at(second, 1), [StoryCandidate(1, (_at(first, 0),))], settings=settings) == 1
    assert choose_story(new, [StoryCandidate(1, (_at(first, 0),))], settings=settings) is None
    chained = StoryCandidate(1, (_at(first, 0), _at(third, 59)))
    assert choose_story(new, [chained], settings=settings) is None
    assert choose_story(new, [StoryCandidate(2, (_at(third, 59),))], settings=settings) == 2


def test_pairwise_and_bcubed_scores_of_a_small_grouping() -> None:
    labels = {"a": "x", "b": "x", "c": "x", "d": "y"}
    predicted = {"a": 1, "b": 1, "c": 2, "d": 2}
    scores = score_grouping(predicted, labels)
    # Predicted pairs: (a,b) right, (c,d) wrong; labeled pairs: (a,b), (a,c), (b,c).
    assert scores.pairwise.precision == pytest.approx(1 / 2)
    assert scores.pairwise.recall == pytest.approx(1 / 3)
    assert scores.pairwise.f1 == pytest.approx(0.4)
    # B-cubed precision: a, b 1; c, d 1/2. Recall: a, b 2/3; c 1/3; d 1.
    assert scores.bcubed.precision == pytest.approx(3 / 4)
    assert scores.bcubed.recall == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1) / 4)
    assert (scores.labeled_stories, scores.predicted_stories) == (2, 2)


def test_a_perfect_grouping_scores_one_and_singletons_add_no_pairs() -> None:
    labels = {"a": "x", "b": "x", "c": "y"}
    scores = score_grouping({"a": 7, "b": 7, "c": 8}, labels)
    assert (scores.pairwise.f1, scores.bcubed.f1) == (1.0, 1.0)


def test_scores_need_the_same_articles() -> None:
    with pytest.raises(ValueError, match="different articles"):
        score_grouping({"a": 1}, {"b": "x"})


def test_rasid_stories_prints_one_story_per_article_in_order_of_publication() -> None:
    result = run_offline("stories", "--jsonl", str(LABELED))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["a3", "a1", "a2", "a4"]
    stories = {line["id"]: line["story"] for line in lines}
    assert stories == {"a3": "a3", "a1": "a1", "a2": "a1", "a4": "a4"}


def test_rasid_stories_evaluate_prints_pairwise_and_bcubed_scores() -> None:
    result = run_offline("stories", "--evaluate", str(LABELED))
    assert result.exit_code == 0, result.output
    assert "pairwise  precision 1.000  recall 1.000  f1 1.000" in result.stdout
    assert "b-cubed   precision 1.000  recall 1.000  f1 1.000" in result.stdout


def test_rasid_stories_names_a_bad_line(tmp_path: Any) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "source": "s", "published": "yesterday", "title": "t", "text": "t"}\n')
    result = run_offline("stories", "--jsonl", str(bad))
    assert result.exit_code != 0
    assert "line 1: 'published'" in result.stderr


def _whole_sums(members: tuple[Profile, ...]) -> tuple[dict[str, float], float]:
    """The centroid of ``members`` worked out with fractions: each weight the sum of the members'
    (four decimals each), each term's total and the length the floats nearest to them."""
    totals: dict[str, Fraction] = {}
    for member in members:
        for term, weight in member.vector.items():
            totals[term] = totals.get(term, Fraction(0)) + Fraction(round(weight * 10_000), 10_000)
    kept = {term: total for term, total in totals.items() if total}
    squares = sum(total * total for total in kept.values())
    length = math.sqrt(squares * 10_000**2) / 10_000 if squares else 1.0
    return {term: float(total) for term, total in kept.items()}, length


def _floats_summed(members: tuple[Profile, ...]) -> tuple[dict[str, float], float]:
    total: dict[str, float] = {}
    for member in members:
        for term, weight in member.vector.items():
            total[term] = total.get(term, 0.0) + weight
    return total, math.sqrt(sum(weight * weight for weight in total.values())) or 1.0


def _weights(held: HeldCentroid) -> tuple[dict[str, float], float]:
    return held_weights(held), held.length


def _fixture_profiles(settings: GroupingSettings) -> list[Profile]:
    """The profiles of every article of the fixtures (more than CENTROID_MEMBERS)."""
    rows = [row for case in CASES for row in case["articles"]]
    rows += [json.loads(line) for line in LABELED.read_text(encoding="utf-8").splitlines()]
    return [profile(_article(row), idf=default_idf(), settings=settings) for row in rows]


def _story_runs(members: list[Profile], others: list[Profile]) -> list[tuple[Profile, ...]]:
    """A story growing one member at a time past CENTROID_MEMBERS and sliding on, runs that skip
    and overlap, and profiles of the same articles made with other settings."""
    runs = [tuple(members[max(0, end - CENTROID_MEMBERS) : end]) for end in range(1, len(members) + 1)]
    runs += [tuple(members[start : start + 5]) for start in range(0, len(members), 3)]
    runs += [tuple(members[start : start + CENTROID_MEMBERS : 2]) for start in range(0, len(members), 7)]
    return runs + [tuple(others[:end]) for end in range(1, 8)] + [tuple(members[:7]), tuple(others[:7])]


def test_a_centroid_sums_the_members_weights_exactly() -> None:
    """Each weight of a centroid is the exact sum of its members' weights (whole ten-thousandths),
    as the float nearest to it; so is its length; the cache of centroids serves each story its own."""
    members = _fixture_profiles(GroupingSettings())
    others = _fixture_profiles(GroupingSettings(title_weight=1.0, vector_terms=20))
    cache = CentroidCache(size=8)
    for run in _story_runs(members, others):
        held = summed(run)
        assert held.whole
        assert _weights(held) == _whole_sums(run)
        assert cache.summed(run, run) == held
        assert cache.centroid_of(run, run) == _whole_sums(run)
    assert all(cache.centroid_of(run, run) == _whole_sums(run) for run in _story_runs(members, others))


def test_a_live_centroid_is_the_one_summed_afresh_as_members_come_and_go() -> None:
    """Members added and taken away in any order (a story gaining its latest, losing its oldest,
    a placement dropped and read back): at every step the live centroid's weights and length are
    those of its members summed afresh, to the last bit."""
    members = _fixture_profiles(GroupingSettings())
    live = LiveCentroid(members[:3])
    held = list(members[:3])
    steps = [(True, member) for member in members[3:20]] + [(False, member) for member in members[:8]]
    steps += [(False, members[19]), (True, members[19]), (False, members[12]), (True, members[21])]
    steps += [(True, members[0]), (False, members[21]), (True, members[22])]
    for come, member in steps:
        if come:
            live.add(member)
            held.append(member)
        else:
            live.remove(member)
            held.remove(member)
        expected = _weights(summed(tuple(held)))
        assert (live.weights(), live.length) == expected == _whole_sums(tuple(held))
    for member in list(held):
        live.remove(member)
    assert (live.weights(), live.length) == ({}, 1.0)


def test_a_story_with_a_member_of_float_weights_sums_floats_oldest_first() -> None:
    """A member whose weights are not whole ten-thousandths (none Rasid makes; a profile stored by
    hand) has its story's weights summed as floats, oldest first, and no live centroid."""
    members = tuple(_fixture_profiles(GroupingSettings())[:6])
    odd = Profile("odd", "s", members[0].published, {"عراق": 0.123456789, "قاعدة": 0.5}, {})
    assert odd.vector_weights.typecode == "d"
    story = (*members[:3], odd, *members[3:])
    expected = _floats_summed(story)
    held = summed(story)
    assert not held.whole
    assert _weights(held) == expected
    assert list(_weights(held)[0]) == list(expected[0])
    assert live_centroid(story) is None
    assert live_centroid(members) is not None


def test_a_candidate_gives_its_centroid_once_the_cache_forgot_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A candidate keeps its centroid's length alone: summed again after the process's cache of
    centroids forgot it, the centroid is the exact sum; a candidate given a live centroid gives that
    one's."""
    members = tuple(_fixture_profiles(GroupingSettings())[: CENTROID_MEMBERS + 1])
    story = StoryCandidate(1, members[:-1])
    expected = _whole_sums(members[:-1])
    assert story.centroid_length == expected[1]
    monkeypatch.setattr(stories_module, "_CENTROIDS", CentroidCache())
    assert story.centroid == expected
    live = LiveCentroid(members[1:])
    assert StoryCandidate(1, members, live=live).centroid == _whole_sums(members[1:])
    assert StoryCandidate(1, members).centroid == _whole_sums(members[1:])


def test_similarity_is_symmetric_and_one_with_itself() -> None:
    """Comparing the fixtures' articles both ways gives the same score, and an article with itself
    scores 1 (its vectors have unit length) when it names no place or its places are its own."""
    settings = GroupingSettings()
    profiles = _fixture_profiles(settings)
    for left in profiles:
        assert similarity(left, left, settings=settings) == pytest.approx(1.0, abs=1e-3)
        for right in profiles:
            assert similarity(left, right, settings=settings) == similarity(right, left, settings=settings)


def _similarity_by_hand(left: Profile, right: Profile, settings: GroupingSettings) -> float:
    def dot(one: dict[str, float], other: dict[str, float]) -> float:
        return math.fsum(one[term] * other[term] for term in sorted(set(one) & set(other)))

    score = (1 - settings.title_share) * dot(dict(left.vector), dict(right.vector))
    score += settings.title_share * dot(dict(left.title_vector), dict(right.title_vector))
    if left.places and right.places and not left.places & right.places:
        score -= settings.place_penalty
    return score


def test_similarities_of_many_members_are_each_pair_compared_alone() -> None:
    """Scoring an article against all members at once gives, member by member, exactly the score
    of the pair written out by hand (shared terms, products summed exactly)."""
    settings = GroupingSettings()
    profiles = _fixture_profiles(settings)
    for new in profiles:
        expected = [_similarity_by_hand(new, other, settings) for other in profiles]
        assert similarities(new, profiles, settings=settings) == expected
        assert similarities(new, iter(profiles), settings=settings) == expected


def test_the_kept_words_are_bounded_and_give_the_stems_and_terms_of_each_word() -> None:
    """A word cache far smaller than the fixtures' vocabulary, read through twice: every word gets
    the stem and term made afresh, whether new, kept or taken back from the older generation, and
    no more than two generations of words are kept."""
    cache = _WordCache(size=40)
    texts = [row["title"] + " " + row["text"] for case in CASES for row in case["articles"]]
    for text in texts + texts:
        words = word_texts(fold(text))
        made = [stem(word) if len(word) > 1 or word.isdigit() else None for word in words]
        assert cache.stems(words) == [word_stem or "" for word_stem in made]
        assert cache.terms(words) == [skeleton(word_stem) if word_stem else "" for word_stem in made]
        assert len(cache) <= 2 * max(40, len(set(words)))


def _best_story_by_hand(
    new: Profile, stories: list[StoryCandidate], settings: GroupingSettings
) -> int | None:
    """The story choose_story should pick, every story scored whole."""
    best: tuple[float, int] | None = None
    for story in stories:
        sharing = [
            member
            for member in story.members
            if new.keys & member.keys and abs(member.published - new.published) <= settings.window
        ]
        if not sharing:
            continue
        closest = max(_similarity_by_hand(new, member, settings) for member in sharing)
        hours = abs((new.published - story.members[0].published).total_seconds()) / 3600
        penalty = settings.hourly_penalty * max(0.0, hours - settings.penalty_after_hours)
        score = closest - penalty
        if len(story.members) > 1:
            centroid, norm = _whole_sums(story.members[-CENTROID_MEMBERS:])
            shared = set(new.vector) & set(centroid)
            together = math.fsum(new.vector[term] * centroid[term] for term in shared)
            score = settings.link_share * closest + (1 - settings.link_share) * together / norm - penalty
        if score >= settings.threshold and (best is None or (score, -story.story_id) > (best[0], -best[1])):
            best = (score, story.story_id)
    return None if best is None else best[1]


@pytest.fixture(params=["bounded at once", "scored one by one"])
def bounding(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Candidate stories bounded all at once however few they are, or scored one by one however many."""
    monkeypatch.setattr(stories_module, "_BOUNDED_FROM", 1 if request.param == "bounded at once" else 10**9)
    return str(request.param)


@pytest.mark.parametrize("threshold", [0.19, 0.05, 0.0])
def test_stories_skipped_by_their_bound_are_those_that_could_not_win(threshold: float, bounding: str) -> None:
    """Each fixture article, in order, picks the story that scoring every story whole picks: skipping
    the stories whose heaviest possible score is below the best so far changes no choice (with low
    thresholds, most articles join a story and most stories are bounded against a best)."""
    settings = GroupingSettings(threshold=threshold)
    placed: dict[int, list[Profile]] = {}
    for new in sorted(_fixture_profiles(settings), key=lambda item: (item.published, item.article_id)):
        stories = [StoryCandidate(story_id, tuple(members)) for story_id, members in sorted(placed.items())]
        chosen = choose_story(new, stories, settings=settings)
        assert chosen == _best_story_by_hand(new, stories, settings)
        placed.setdefault(len(placed) + 1 if chosen is None else chosen, []).append(new)
    assert any(len(members) > 2 for members in placed.values())


@pytest.mark.parametrize("threshold", [0.19, 0.0])
def test_a_large_story_compares_every_member_sharing_a_key_term(threshold: float, bounding: str) -> None:
    """A story of more members than are tested one by one finds those sharing a key term with the
    arriving article through its index: exactly the members a test of each finds, in order, so the
    article picks the story (and gets the score) that scoring every member picks."""
    settings = GroupingSettings(threshold=threshold)
    profiles = sorted(_fixture_profiles(settings), key=lambda item: (item.published, item.article_id))
    joined = passed_over = 0
    for new in profiles:
        members = tuple(member for member in profiles if member is not new)
        large, single = StoryCandidate(1, members), StoryCandidate(2, members[-1:])
        sharing = [member for member in members if new.keys & member.keys]
        assert list(large.sharing(new.key_terms)) == sharing
        passed_over += len(sharing) < len(members)
        chosen = choose_story(new, [large, single], settings=settings)
        assert chosen == _best_story_by_hand(new, [large, single], settings)
        joined += chosen == 1
    assert len(profiles) > CENTROID_MEMBERS and joined > 0 and passed_over > 0


def test_the_order_of_the_candidate_stories_changes_no_choice(bounding: str) -> None:
    """Stories offered in reverse order, or with those of one member last, get the same article the
    same story as scoring every story whole: skipping by the bound depends on what was scored before."""
    settings = GroupingSettings(threshold=0.05)
    placed: dict[int, list[Profile]] = {}
    for new in sorted(_fixture_profiles(settings), key=lambda item: (item.published, item.article_id)):
        stories = [StoryCandidate(story_id, tuple(members)) for story_id, members in sorted(placed.items())]
        expected = _best_story_by_hand(new, stories, settings)
        larger_first = sorted(stories, key=lambda story: -len(story.members))
        assert choose_story(new, stories[::-1], settings=settings) == expected
        assert choose_story(new, larger_first, settings=settings) == expected
        placed.setdefault(len(placed) + 1 if expected is None else expected, []).append(new)
    assert any(len(members) > 2 for members in placed.values())


def _candidate_stories(new: Profile, profiles: list[Profile]) -> list[StoryCandidate]:
    """Stories of every size from the fixture profiles other than ``new``: each of one member, runs of
    two to a centroid's, and one of all of them, its centroid summed or kept live."""
    others = tuple(member for member in profiles if member is not new)
    stories = [StoryCandidate(number, (member,)) for number, member in enumerate(others)]
    for size in (2, 5, CENTROID_MEMBERS):
        stories += [
            StoryCandidate(len(stories) + start, others[start : start + size])
            for start in range(0, len(others) - size + 1, size)
        ]
    live = LiveCentroid(others[-CENTROID_MEMBERS:])
    return [
        *stories,
        StoryCandidate(len(stories), others),
        StoryCandidate(len(stories) + 1, others, live=live),
    ]


@pytest.mark.parametrize("hours_apart", [0.0, 40.0])
def test_no_story_scores_above_its_bound(hours_apart: float) -> None:
    """Every story's score, scored whole, is at most the bound all stories are given at once (the
    bound that lets choose_story score only the stories that could win), for stories of one member,
    of a few, of a centroid's worth and of more, begun at the article's time or hours before it; so
    is each member's similarity at most its own bound, and the closest member found by those bounds
    is the one comparing every member finds."""
    settings = GroupingSettings(threshold=0.0)
    profiles = sorted(_fixture_profiles(settings), key=lambda item: (item.published, item.article_id))
    scored = 0
    for new in profiles:
        later = Profile(
            new.article_id,
            new.source,
            new.published + timedelta(hours=hours_apart),
            new.vector,
            new.title_vector,
        )
        arrival = _Arrival(later, settings)
        stories = _candidate_stories(new, profiles)
        bounded = _story_bounds(arrival, stories)
        assert bounded is not None and len(bounded.bounds) == len(stories)
        for position, (bound, story) in enumerate(zip(bounded.bounds.tolist(), stories, strict=True)):
            score = _story_score(arrival, story, floor=-math.inf)
            if score is not None:
                assert score <= bound
                scored += 1
            near, member_bounds = bounded.near(position)
            assert {id(member) for member in story.sharing(arrival.key_terms)} <= set(map(id, near))
            for member, member_bound in zip(near, member_bounds, strict=True):
                assert arrival.similarity(member) <= member_bound
            assert arrival.closest(near, member_bounds) == arrival.closest(near)
            assert _story_score(arrival, story, floor=-math.inf, near=(near, member_bounds)) == score
    assert scored > len(profiles)


def test_a_profile_whose_weights_cannot_be_packed_is_scored_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A negative weight (which no profile made here has) is not packed: the stories are then scored
    one by one, and the article gets the story scoring every story whole gives it."""
    monkeypatch.setattr(stories_module, "_BOUNDED_FROM", 1)
    settings = GroupingSettings(threshold=0.0)
    profiles = sorted(_fixture_profiles(settings), key=lambda item: (item.published, item.article_id))
    new = profiles[-1]
    odd = Profile(new.article_id, new.source, new.published, {**new.vector, "odd": -0.5}, new.title_vector)
    assert odd.packed is None
    stories = _candidate_stories(new, profiles)
    assert _story_bounds(_Arrival(odd, settings), stories) is None
    assert choose_story(odd, stories, settings=settings) == _best_story_by_hand(odd, stories, settings)


def test_an_index_keeps_each_large_storys_members_by_key_term_as_built_afresh() -> None:
    """Articles placed in a window of 30 hours, the oldest forgotten as time passes: each story of
    more than INDEXED_MEMBERS members held has its members by key term, those of the held members
    alone, and its candidate is handed them; stories that shrank or left keep none wrongly."""
    settings = GroupingSettings(threshold=0.0, window=timedelta(hours=30))
    profiles = _fixture_profiles(settings)
    arrivals = sorted(
        [
            *profiles,
            *(
                item.copied(
                    article_id=f"{item.article_id}-{copy}",
                    published=item.published + copy * timedelta(hours=5),
                )
                for copy in range(1, 3)
                for item in profiles
            ),
        ],
        key=lambda item: (item.published, item.article_id),
    )
    index = StoryIndex(settings=settings)
    large = 0
    for new in arrivals:
        index.place(new)
        assert set(index._key_members) <= set(index._members)
        for story_id, members in index._members.items():
            key_members = index._key_members.get(story_id)
            if len(members) <= INDEXED_MEMBERS and key_members is None:
                continue
            assert key_members is not None and index._stories[story_id].key_members is key_members
            large += len(members) > INDEXED_MEMBERS
            expected: dict[str, set[int]] = {}
            for member in members.values():
                for term in member.key_terms:
                    expected.setdefault(term, set()).add(id(member))
            found = {
                term: {id(having)} if isinstance(having, Profile) else {id(member) for member in having}
                for term, having in key_members.items()
            }
            assert found == expected
    assert large > 0


def test_equal_place_sets_are_one_object_and_the_sets_kept_are_bounded() -> None:
    first = stories_module._one_copy(frozenset({"iraq", "mosul"}))
    assert stories_module._one_copy(frozenset({"mosul", "iraq"})) is first
    for number in range(stories_module._PLACE_SETS_KEPT + 1):
        stories_module._one_copy(frozenset({f"place-{number}"}))
    assert len(stories_module._PLACE_SETS) <= stories_module._PLACE_SETS_KEPT
