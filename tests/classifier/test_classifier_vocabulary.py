"""The vocabulary resolved when a taxonomy is compiled: a listed word resolves as it would unlisted,
a user's taxonomy gets its own resolutions (and new ones when it changes), and the list is rebuilt
the same from the same corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifier_service import loading, matching
from classifier_service.classifier import Classifier
from classifier_service.loading import classifier_of, compile_files, compiled_taxonomy
from classifier_service.matching import MEMO_SIZE, VOCABULARY_ENCODING, Matcher, split_starts
from classifier_service.vocabulary import (
    PACKAGED_VOCABULARY,
    VOCABULARY_SIZE,
    build_vocabulary,
    read_vocabulary,
    write_vocabulary,
)
from shared.forms import PROCLITICS
from shared.gazetteer import PACKAGED_GAZETTEER

REPOSITORY = Path(__file__).resolve().parents[2]
HELDOUT = REPOSITORY / "tests" / "fixtures" / "classifier" / "heldout_feeds.jsonl"
# A listed word (in 3,490 of the corpus's articles) that no phrase of the packaged taxonomy has.
FESTIVAL = "مهرجان"
TAXONOMY = """
version: "test"
topics:
  culture:
    terms:
      - term: {term}
        weight: 0.9
"""


def _taxonomy(tmp_path: Path, term: str) -> Path:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(TAXONOMY.replace("{term}", term), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    loading.forget_classifiers()
    return loading.classifier_of(
        loading.PACKAGED_TAXONOMY, loading.PACKAGED_GAZETTEER, cache_dir=None, model_path=None
    )


def test_the_packaged_list_fits_the_memory_of_words() -> None:
    words = read_vocabulary()
    assert len(words) == len(set(words)) == VOCABULARY_SIZE < MEMO_SIZE
    assert loading.PACKAGED_VOCABULARY == PACKAGED_VOCABULARY
    assert FESTIVAL in words


def test_a_listed_word_resolves_as_it_would_unlisted(classifier: Classifier) -> None:
    index = classifier.compiled.index
    listed, unlisted = Matcher(index, classifier.compiled.vocabulary), Matcher(index)
    words = read_vocabulary()
    assert sum(1 for word in words if unlisted.word_ids(word)) > 1000  # phrase words are listed too
    for word in words:
        assert listed.word_ids(word) == unlisted.word_ids(word), word


def test_articles_match_the_same_with_the_list_and_without(classifier: Classifier) -> None:
    index = classifier.compiled.index
    listed, unlisted = Matcher(index, classifier.compiled.vocabulary), Matcher(index)
    rows = [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        for words in classifier.read(title=row["title"], text=row["text"]):
            assert listed.find_sorted(words.tokens) == unlisted.find_sorted(words.tokens)


def test_the_split_starts_are_compiled_with_the_list(classifier: Classifier) -> None:
    compiled = classifier.compiled
    starts = compiled.vocabulary[2].decode(VOCABULARY_ENCODING).split("\n")
    assert sorted(starts) == sorted(split_starts(compiled.index))


def test_a_word_resolves_as_it_would_with_every_proclitic_before_every_start(
    classifier: Classifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = classifier.compiled.index
    fitting = Matcher(index)
    stems = {stem for table in index[1:4] for stem in table}
    every = frozenset(proclitic + stem[:5] for proclitic in PROCLITICS for stem in stems)
    assert every > split_starts(index)
    monkeypatch.setattr(matching, "split_starts", lambda _: every)
    unfiltered = Matcher(index)
    for word in read_vocabulary():
        assert fitting.word_ids(word) == unfiltered.word_ids(word), word


def test_the_list_is_resolved_against_the_users_taxonomy(tmp_path: Path) -> None:
    compiled = compile_files(_taxonomy(tmp_path, FESTIVAL), PACKAGED_GAZETTEER.resolve())
    words, word_ids, _ = compiled.vocabulary
    matched = words.decode(VOCABULARY_ENCODING).split("\n")[: len(word_ids)]
    assert FESTIVAL in matched
    text = f"افتتح {FESTIVAL} القاهرة السينمائي أمس"
    assert Classifier(compiled).classify(title="", text=text).tags == ("culture",)


def test_a_changed_taxonomy_is_resolved_again_not_read_stale(tmp_path: Path) -> None:
    path = _taxonomy(tmp_path, "مسرحيه")
    cache = tmp_path / "cache"
    text = f"افتتح {FESTIVAL} القاهرة السينمائي أمس"
    loading.forget_classifiers()
    before = classifier_of(path.resolve(), PACKAGED_GAZETTEER.resolve(), cache_dir=cache)
    assert before.classify(title="", text=text).tags == ()
    _taxonomy(tmp_path, FESTIVAL)
    loading.forget_classifiers()
    after = classifier_of(path.resolve(), PACKAGED_GAZETTEER.resolve(), cache_dir=cache)
    assert after.classify(title="", text=text).tags == ("culture",)
    assert len(list(cache.glob("classifier-*.bin"))) == 2


def test_the_cache_key_covers_the_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = (loading.PACKAGED_TAXONOMY, loading.PACKAGED_GAZETTEER)
    for number, words in enumerate((["في", "من"], ["في", FESTIVAL])):
        vocabulary = tmp_path / f"vocabulary-{number}.tsv.gz"
        write_vocabulary(build_vocabulary([("", " ".join(words))]), vocabulary)
        monkeypatch.setattr(loading, "PACKAGED_VOCABULARY", vocabulary)
        compiled = compiled_taxonomy(*paths, cache_dir=tmp_path / "cache")
        assert sorted(compiled.vocabulary[0].decode(VOCABULARY_ENCODING).split("\n")) == sorted(words)
    assert len(list((tmp_path / "cache").glob("classifier-*.bin"))) == 2


def test_the_list_is_the_words_in_most_articles_and_rebuilt_the_same(tmp_path: Path) -> None:
    articles = [("الحرب", "قال الرئيس إن الحرب انتهت."), ("", "قال الوزير"), ("", "الرئيس قال: الرئيس")]
    vocabulary = build_vocabulary(articles, size=3)
    assert vocabulary.documents == 3
    # In 3, 2 and 1 articles (twice in one article is once); ties in code point order (الحرب before
    # الوزير, ان, انتهت); the sentence end is no word.
    assert vocabulary.words == [("قال", 3), ("الرئيس", 2), ("الحرب", 1)]
    first, second = tmp_path / "first.tsv.gz", tmp_path / "second.tsv.gz"
    write_vocabulary(vocabulary, first)
    write_vocabulary(build_vocabulary(articles, size=3), second)
    assert first.read_bytes() == second.read_bytes()
    assert read_vocabulary(first) == ["قال", "الرئيس", "الحرب"]
