"""Real articles for the fault suite, read at test time from the labeled evaluation set (or any JSON
lines file with ``title`` and ``text``, named by ``RASID_FAULT_ARTICLES``) and written as ``.txt``
files the way a user drops them: the title on the first line, the text below."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import unavailable

ARTICLES_FILE = Path(os.environ.get("RASID_FAULT_ARTICLES", "/work/shared/eval/dev.jsonl"))
LABELS = ("withdrawal", "training", "strikes")


@dataclass(frozen=True)
class Article:
    """One article to drop: its file name and the bytes written."""

    name: str
    title: str
    data: bytes


def normalized(title: str) -> str:
    """A title as the ledger compares it: whitespace collapsed."""
    return " ".join(title.split())


def load_articles(count: int) -> list[Article]:
    """``count`` distinct articles, the same ones on every run: mostly articles labeled with a topic
    (so that alerts are expected), one in four labeled with none."""
    try:
        lines = ARTICLES_FILE.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        unavailable("the articles file (RASID_FAULT_ARTICLES)", error)
    rows = sorted((json.loads(line) for line in lines if line.strip()), key=lambda row: str(row["id"]))
    labeled = [row for row in rows if any(row.get(label) for label in LABELS)]
    unlabeled = [row for row in rows if not any(row.get(label) for label in LABELS)]
    quiet = count // 4
    chosen = labeled[: count - quiet] + unlabeled[:quiet]
    if len(chosen) < count or len({normalized(str(row["title"])) for row in chosen}) < count:
        unavailable("enough distinct articles", ValueError(f"{ARTICLES_FILE} has fewer than {count}"))
    return [
        Article(
            f"article-{index:02d}.txt",
            normalized(str(row["title"])),
            f"{normalized(str(row['title']))}\n\n{row['text']}\n".encode(),
        )
        for index, row in enumerate(chosen)
    ]
