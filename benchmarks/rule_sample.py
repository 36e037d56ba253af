"""What a taxonomy change does on unlabeled news: the articles it newly tags and newly drops, to read.

A candidate rule is kept only if a sample of what it changes on articles nobody tuned on reads as
right by the guidelines. This classifies every article of the unlabeled corpus with the packaged
taxonomy (or ``--base``) and with ``--candidate``, rules alone, counts per topic the articles the
candidate newly tags and newly drops, and prints a random sample of each with the sentence behind
the change (the candidate's evidence for a new tag, the base's for a dropped one).

    .venv/bin/python -m benchmarks.rule_sample --candidate /tmp/taxonomy.yaml [--topic withdrawal]
        [--sample 25] [--seed 1] [--limit N]

The articles of the held-out fold of ``train.jsonl`` (``benchmarks.classifier_folds``) are skipped,
so reading the sample never reads them.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.classifier_folds import EVAL, fold_of
from classifier_service.classifier import Classifier
from classifier_service.loading import compile_files
from classifier_service.taxonomy import PACKAGED_TAXONOMY
from shared.gazetteer import PACKAGED_GAZETTEER
from shared.messages import Classification

CORPUS = EVAL.parent / "corpus" / "ant-2018.jsonl.gz"
# Characters of the evidence sentence shown on each side of the matched words.
SHOWN = 160


@dataclass(frozen=True, slots=True)
class Change:
    """One article whose tag for a topic differs between the base and the candidate."""

    article_id: str
    title: str
    topic: str
    tagged: bool
    term: str
    sentence: str


def rules_of(taxonomy: Path) -> Classifier:
    """The rules alone of ``taxonomy`` (no cache, no model, no limits)."""
    return Classifier(compile_files(taxonomy.resolve(), PACKAGED_GAZETTEER.resolve()))


def held_out_ids(train: Path, *, folds: int, held_out: int) -> set[str]:
    """The ids of the held-out fold of the labeled training set."""
    if not train.exists():
        return set()
    with train.open(encoding="utf-8") as lines:
        ids = (json.loads(line)["id"] for line in lines if line.strip())
        return {article_id for article_id in ids if fold_of(article_id, folds) == held_out}


def corpus_articles(path: Path, *, skipped: set[str], limit: int | None) -> Iterator[dict[str, str]]:
    """The corpus articles, in file order, without the ``skipped`` ids, at most ``limit``."""
    read = 0
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            article = json.loads(line)
            if article["id"] in skipped:
                continue
            if limit is not None and read >= limit:
                return
            read += 1
            yield article


def _shown(classification: Classification, topic: str) -> tuple[str, str]:
    """The term and the sentence around the matched words of ``topic``'s evidence."""
    for evidence in classification.evidence:
        if evidence.topic == topic:
            at = evidence.sentence.find(evidence.matched)
            start = max(0, at - SHOWN) if at >= 0 else 0
            sentence = evidence.sentence[start : (at if at >= 0 else 0) + len(evidence.matched) + SHOWN]
            return evidence.term, sentence.replace(evidence.matched, f"«{evidence.matched}»", 1)
    return "", ""


def changes(base: Classifier, candidate: Classifier, article: dict[str, str]) -> Iterator[Change]:
    """The topics whose tag differs between ``base`` and ``candidate`` on ``article``."""
    title, text = article.get("title") or "", article.get("text") or ""
    before = base.classify(title=title, text=text)
    after = candidate.classify(title=title, text=text)
    for topic in candidate.topics:
        tagged = topic in after.tags
        if tagged == (topic in before.tags):
            continue
        term, sentence = _shown(after if tagged else before, topic)
        yield Change(article["id"], title, topic, tagged, term, sentence)


def report(found: list[Change], *, topics: list[str], sample: int, seed: int) -> list[str]:
    """Counts per topic and term, then a sample of the changes of each kind."""
    lines: list[str] = []
    chooser = random.Random(seed)
    for topic in topics:
        for tagged, kind in ((True, "newly tagged"), (False, "newly dropped")):
            group = [change for change in found if change.topic == topic and change.tagged == tagged]
            terms = Counter(change.term for change in group)
            by_term = ", ".join(f"{term} {count}" for term, count in terms.most_common())
            lines.append(f"== {topic}: {kind}: {len(group)} ({by_term})")
            for change in sorted(chooser.sample(group, min(sample, len(group))), key=lambda c: c.article_id):
                lines.append(f"-- {change.article_id} [{change.term}] {change.title[:90]}")
                lines.append(f"   {change.sentence}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", type=Path, required=True, help="The changed taxonomy YAML.")
    parser.add_argument("--base", type=Path, default=PACKAGED_TAXONOMY, help="Compared with.")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="Unlabeled articles (.jsonl.gz).")
    parser.add_argument(
        "--train", type=Path, default=EVAL / "train.jsonl", help="Its held-out fold is skipped."
    )
    parser.add_argument("--folds", type=int, default=5, help="Folds of the training set.")
    parser.add_argument("--held-out", type=int, default=4, help="The held-out fold, never shown.")
    parser.add_argument("--topic", action="append", help="Only this topic (repeatable; default: all).")
    parser.add_argument("--sample", type=int, default=25, help="Changes shown per topic and kind.")
    parser.add_argument("--seed", type=int, default=1, help="Seed of the sample.")
    parser.add_argument("--limit", type=int, help="Read only the first N corpus articles.")
    arguments = parser.parse_args()
    base, candidate = rules_of(arguments.base), rules_of(arguments.candidate)
    topics = arguments.topic or list(candidate.topics)
    skipped = held_out_ids(arguments.train, folds=arguments.folds, held_out=arguments.held_out)
    found: list[Change] = []
    articles = 0
    for article in corpus_articles(arguments.corpus, skipped=skipped, limit=arguments.limit):
        articles += 1
        found.extend(change for change in changes(base, candidate, article) if change.topic in topics)
    print(
        f"{articles} corpus articles ({len(skipped)} held-out ids skipped); base {base.version}, "
        f"candidate {candidate.version}"
    )
    for line in report(found, topics=topics, sample=arguments.sample, seed=arguments.seed):
        print(line)


if __name__ == "__main__":
    main()
