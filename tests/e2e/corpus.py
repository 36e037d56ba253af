"""Real articles of ``../shared/corpus/`` as the files a user drops (the title line, then the text),
for the end-to-end tests and the pipeline benchmark.

The corpus is read from ``RASID_CORPUS`` when set, else from ``shared/corpus`` beside the checkout, else
from ``/work/shared/corpus`` (where a clone made elsewhere on this machine finds it)."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path

from shared.documents import read_document
from shared.errors import UnreadableDocument
from shared.messages import content_id
from tests.e2e.stack import ROOT
from tests.helpers import unavailable

CORPUS_NAME = Path("shared") / "corpus" / "ant-2018.jsonl.gz"


def _corpus() -> Path:
    named = os.environ.get("RASID_CORPUS")
    if named:
        return Path(named)
    beside = ROOT.parent / CORPUS_NAME
    return beside if beside.is_file() else Path("/work") / CORPUS_NAME


CORPUS = _corpus()


def corpus_files() -> Iterator[bytes]:
    """The corpus articles as dropped ``.txt`` files: the title line, then the text."""
    if not CORPUS.is_file():
        unavailable("the corpus (../shared/corpus)", FileNotFoundError(CORPUS))
    with gzip.open(CORPUS, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            yield f"{row['title']}\n{row['text']}\n".encode()


def distinct_files(count: int) -> list[bytes]:
    """The first ``count`` corpus files that Rasid reads as distinct articles."""
    chosen, seen = [], set()
    for data in corpus_files():
        try:
            document = read_document(data, suffix=".txt")
        except UnreadableDocument:
            continue
        article_id = content_id(document.title, document.text)
        if article_id not in seen:
            seen.add(article_id)
            chosen.append(data)
        if len(chosen) == count:
            break
    return chosen
