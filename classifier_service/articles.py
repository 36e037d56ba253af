"""Reading articles for the command line: files through the shared reader of documents, and JSON lines.

A ``.txt`` or ``.html`` file is read exactly as the ingest service reads a dropped file
(:mod:`shared.documents`), so ``rasid classify FILE`` tags the title and text the pipeline would ingest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from classifier_service.errors import ArticleInputError

# JSON's white space, which json.loads allows after a value (str.isspace allows more).
_JSON_WHITE_SPACE = " \t\n\r"
_JSON_DECODER = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class Article:
    """An article to classify."""

    id: str
    title: str
    text: str


def article_from_path(path: Path) -> Article:
    """The article in the file at ``path``: a regular file (a FIFO or device would block or never
    end), read as :func:`article_from_file` reads its bytes."""
    from shared.documents import regular_file_bytes
    from shared.errors import UnreadableDocument

    try:
        data = regular_file_bytes(path)
    except UnreadableDocument as error:
        raise ArticleInputError(f"{path}: {error.reason}") from None
    return article_from_file(str(path), data)


def article_from_file(name: str, data: bytes) -> Article:
    """An article from a file's name (its suffix says how to read it) and bytes."""
    # Imported here: the HTML and mail parsers it needs are not loaded for JSON lines.
    from shared.documents import read_document
    from shared.errors import UnreadableDocument

    try:
        document = read_document(data, suffix=PurePath(name).suffix)
    except UnreadableDocument as error:
        raise ArticleInputError(f"{name}: {error.reason}") from None
    return Article(name, document.title, document.text)


def read_json_lines(lines: Iterable[str]) -> Iterator[Article]:
    """Articles from JSON lines with ``id``, ``title``, ``text``; blank lines are skipped."""
    for number, line in enumerate(lines, start=1):
        # isspace stops at the first other character; strip would copy the whole line.
        if not line or line.isspace():
            continue
        try:
            row: dict[str, Any] = _json_value(line)
            article = Article(str(row.get("id", number)), str(row.get("title", "")), str(row["text"]))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ArticleInputError(f"line {number}: not an article: {error}") from None
        # Only an escape can bring a surrogate in (a UTF-8 file holds none). Most lines (text written
        # as UTF-8) have no \u escape at all: one look for any says so (6,600 instructions a line
        # fewer than a look for each case of "\ud"); a line of escapes is looked at for those two.
        if "\\u" in line and ("\\ud" in line or "\\uD" in line):
            _refuse_lone_surrogates(article, number=number)
        yield article


def _json_value(line: str) -> Any:
    """``json.loads(line)``, by the decoder's ``raw_decode`` where the line is a value followed by
    white space alone (every line but a faulty one): json.loads looks for white space before and
    after by regular expression, 7,700 instructions a line more. Any other line is given to
    json.loads, which reads leading white space and raises its own errors."""
    try:
        value, end = _JSON_DECODER.raw_decode(line)
    except ValueError:
        return json.loads(line)
    if line[end:].strip(_JSON_WHITE_SPACE):
        return json.loads(line)  # raises: extra data after the value
    return value


def _refuse_lone_surrogates(article: Article, *, number: int) -> None:
    from shared.decoding import lone_surrogate

    for field in (article.id, article.title, article.text):
        surrogate = lone_surrogate(field)
        if surrogate is not None:
            raise ArticleInputError(f"line {number}: not an article: a lone surrogate {surrogate} is no text")
