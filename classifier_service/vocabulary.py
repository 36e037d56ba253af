"""The words Arabic news uses most, resolved against a taxonomy when it is compiled.

The matcher remembers what each word of an article resolves to (:mod:`~classifier_service.matching`),
but the first sight of each word still costs its resolution, and a run meets many words once: the
1,150 articles of the labeled sets hold 40,515 distinct words, and resolving them is two thirds of
what matching those articles costs on a first pass (200 us an article, against 69 once every word
is remembered). So the package ships the words found in the most articles of a news corpus
(``vocabulary.tsv.gz``: each word and how many articles hold it, most frequent first, built by
``python -m classifier_service.vocabulary CORPUS``); compiling a taxonomy resolves each of them
against its own index (a user's taxonomy gets its own resolutions, and the cache's key covers the
list), and a classifier starts with them remembered. What a word resolves to does not depend on
whether it is listed: the list only decides what is worked out before the first article.
``rasid classify --jsonl`` over those articles takes 11% fewer instructions so (5,275M -> 4,695M;
a warm round is unchanged, the first sight costs half), and over one article 9% more (730M ->
795M: the list read at start).
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import NamedTuple

from classifier_service.loading import PACKAGED_VOCABULARY
from classifier_service.matching import VOCABULARY_ENCODING, Matcher, ResolvedVocabulary, split_starts
from classifier_service.phrases import CompiledIndex
from classifier_service.tokens import SENTENCE_ENDS, FieldWords

# Words kept: those in 7 articles or more of the 30,443 of ANT 2018, 73.6% of the distinct words of
# the labeled sets (a run over those resolves 10,695 words instead of 40,515). The list stands as
# the matcher's previous generation of words until its first turnover, so it is bounded as a
# generation is, by :data:`~classifier_service.matching.MEMO_SIZE` (65,536); a longer one is cut.
VOCABULARY_SIZE = 50_000


class Vocabulary(NamedTuple):
    """Words counted over a corpus: how many articles, and each word with the number holding it."""

    documents: int
    words: list[tuple[str, int]]


def read_vocabulary(path: Path = PACKAGED_VOCABULARY) -> list[str]:
    """The words of a vocabulary file (:func:`write_vocabulary`), in its order."""
    lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
    return [line.partition("\t")[0] for line in lines[1:]]


def resolve_vocabulary(index: CompiledIndex, words: Iterable[str]) -> ResolvedVocabulary:
    """What each of ``words`` resolves to in ``index``, as :data:`ResolvedVocabulary` holds it: the
    phrase words among them and their ids, then the other words (most of them); and the index's
    split starts."""
    matcher = Matcher(index)
    matched: dict[str, tuple[int, ...]] = {}
    unmatched: list[str] = []
    # An equal tuple of ids is stored once (marshal writes an object met again as a reference).
    shared: dict[tuple[int, ...], tuple[int, ...]] = {}
    for word in islice(words, VOCABULARY_SIZE):
        word_ids = matcher.word_ids_of(word)
        if word_ids:
            matched[word] = shared.setdefault(word_ids, word_ids)
        else:
            unmatched.append(word)
    joined = "\n".join([*matched, *unmatched]).encode(VOCABULARY_ENCODING)
    # Sorted, so that the same index is cached as the same bytes whatever the hash seed.
    starts = "\n".join(sorted(split_starts(index))).encode(VOCABULARY_ENCODING)
    return joined, tuple(matched.values()), starts


def build_vocabulary(articles: Iterable[tuple[str, str]], *, size: int = VOCABULARY_SIZE) -> Vocabulary:
    """The ``size`` words (as the classifier reads them) in the most of ``articles`` (title, text),
    most frequent first (ties in code point order), with how many articles hold each."""
    frequencies: Counter[str] = Counter()
    documents = 0
    for title, text in articles:
        words = set(FieldWords.read("title", title).tokens)
        words.update(FieldWords.read("text", text).tokens)
        frequencies.update(words - SENTENCE_ENDS)
        documents += 1
    ranked = sorted(frequencies.items(), key=lambda item: (-item[1], item[0]))
    return Vocabulary(documents, ranked[:size])


def write_vocabulary(vocabulary: Vocabulary, path: Path) -> None:
    """Write ``vocabulary`` as gzip'd TSV without a time stamp (the same list, the same bytes): a
    header line with the number of articles counted, then ``word<TAB>articles``."""
    lines = [f"#documents\t{vocabulary.documents}", *(f"{word}\t{count}" for word, count in vocabulary.words)]
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0))


def _corpus_articles(path: Path) -> Iterator[tuple[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                yield str(row.get("title", "")), str(row.get("text", ""))


def main() -> None:
    """Rebuild the packaged vocabulary from a corpus of JSON lines (``title``, ``text``; .gz or not):
    ``python -m classifier_service.vocabulary ../shared/corpus/ant-2018.jsonl.gz``."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--size", type=int, default=VOCABULARY_SIZE)
    parser.add_argument("--output", type=Path, default=PACKAGED_VOCABULARY)
    arguments = parser.parse_args()
    vocabulary = build_vocabulary(_corpus_articles(arguments.corpus), size=arguments.size)
    write_vocabulary(vocabulary, arguments.output)
    print(f"{arguments.output}: {len(vocabulary.words)} words of {vocabulary.documents} articles")


if __name__ == "__main__":
    main()
