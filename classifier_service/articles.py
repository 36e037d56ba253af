"""Reading articles for the command line: plain text files in common encodings, and JSON lines.

A plain file's first non-empty line is its title. Encodings tried, in order: a UTF-8 or UTF-16 byte
order mark, UTF-8, then Windows-1256 (Arabic). The ingest service has the full decoder; this one is
small on purpose so that ``rasid classify`` starts fast.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from classifier_service.errors import ArticleInputError

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


@dataclass(frozen=True, slots=True)
class Article:
    """An article to classify."""

    id: str
    title: str
    text: str


def decode(data: bytes) -> str:
    """Text of a file's bytes: BOM first, then UTF-8, then Windows-1256."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    if _looks_like_utf16(data):
        return data.decode("utf-16-le" if data[1] == 0 else "utf-16-be")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1256", errors="replace")


def _looks_like_utf16(data: bytes) -> bool:
    """UTF-16 without a BOM: many NUL bytes, all on the same side of each pair."""
    sample = data[:200]
    if len(sample) < 4 or sample.count(0) < len(sample) // 4:
        return False
    return sample[1::2].count(0) > len(sample) // 4 or sample[0::2].count(0) > len(sample) // 4


def split_title(content: str) -> tuple[str, str]:
    """The first non-empty line as title, the rest as text."""
    lines = content.lstrip("\ufeff").splitlines()
    for index, line in enumerate(lines):
        if line.strip():
            return line.strip(), "\n".join(lines[index + 1 :])
    return "", ""


def article_from_file(name: str, data: bytes) -> Article:
    """An article from a plain file's name and bytes."""
    title, text = split_title(decode(data))
    return Article(name, title, text)


def read_json_lines(lines: Iterable[str]) -> Iterator[Article]:
    """Articles from JSON lines with ``id``, ``title``, ``text``; blank lines are skipped."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row: dict[str, Any] = json.loads(line)
            yield Article(str(row.get("id", number)), str(row.get("title", "")), str(row["text"]))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ArticleInputError(f"line {number}: not an article: {error}") from None
