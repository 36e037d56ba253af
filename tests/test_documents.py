"""The reader of documents: decoding, titles and checks, table-driven from
tests/fixtures/ingest/files/cases.json (the files are the ones dropped in the ingest tests)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.documents import Document, read_document, strip_html
from shared.errors import UnreadableDocument
from shared.messages import content_id
from tests.ingest.helpers import FILE_FIXTURES

CASES = json.loads((FILE_FIXTURES / "cases.json").read_text(encoding="utf-8"))


def _parse(name: str) -> Document:
    path = FILE_FIXTURES / name
    return read_document(path.read_bytes(), suffix=path.suffix)


@pytest.mark.parametrize("case", CASES["accepted"], ids=lambda case: case["file"])
def test_accepted_file_is_decoded_with_its_title(case: dict[str, Any]) -> None:
    document = _parse(case["file"])

    assert document.encoding == case["encoding"]
    assert document.title == case.get("title", CASES["title"])
    assert document.text.startswith(case["text_starts"])
    for unwanted in case.get("text_lacks", []):
        assert unwanted not in document.text
    assert "\ufeff" not in document.title + document.text
    assert "\r" not in document.text


@pytest.mark.parametrize(
    "case", [case for case in CASES["accepted"] if "same_as" in case], ids=lambda case: case["file"]
)
def test_one_text_has_one_content_id_whatever_its_encoding(case: dict[str, Any]) -> None:
    document, reference = _parse(case["file"]), _parse(case["same_as"])

    assert content_id(document.title, document.text) == content_id(reference.title, reference.text)


@pytest.mark.parametrize("case", CASES["rejected"], ids=lambda case: case["file"])
def test_unreadable_file_is_rejected_with_a_reason(case: dict[str, Any]) -> None:
    with pytest.raises(UnreadableDocument) as caught:
        _parse(case["file"])

    assert case["reason"] in caught.value.reason


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("<p>قال <b>الوزير</b></p><p>ثم غادر</p>", "قال الوزير\nثم غادر"),
        ("نص&nbsp;عادي &amp; رمز", "نص عادي & رمز"),
        ("<div>أ<script>x()</script><style>p{}</style></div>", "أ"),
        ("بلا وسوم", "بلا وسوم"),
    ],
)
def test_strip_html_keeps_only_readable_text(fragment: str, expected: str) -> None:
    assert strip_html(fragment) == expected
