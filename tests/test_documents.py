"""The reader of documents: decoding, titles and checks, table-driven from
tests/fixtures/ingest/files/cases.json (the files are the ones dropped in the ingest tests)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.decoding import arabic_letter_count, letter_counts
from shared.documents import Document, read_document, regular_file_bytes, strip_html
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


ARTICLE_TITLE = "انسحاب القوات من القاعدة"
ARTICLE_BODY = "أعلنت وزارة الدفاع سحب القوات من القاعدة العسكرية خلال الأشهر المقبلة. " * 3


def _page(head: str, body: str) -> str:
    return f"<html><head>{head}<title>{ARTICLE_TITLE}</title></head><body>{body}</body></html>"


@pytest.mark.parametrize("codec", ["punycode", "utf-7", "rot13", "base64", "idna", "unicode_escape"])
def test_a_charset_that_is_not_a_web_text_encoding_is_never_used(codec: str) -> None:
    page = _page(f'<meta charset="{codec}">', f"<p>{ARTICLE_BODY}</p>").encode()

    document = read_document(page, suffix=".html")

    assert document.encoding == "utf-8"
    assert document.title == ARTICLE_TITLE


def test_ascii_that_would_read_as_arabic_in_utf7_is_not_decoded_as_utf7() -> None:
    # "+BicGRAZF-" is UTF-7 for Arabic letters: a detector must not turn ASCII into an article.
    page = b'<meta charset="utf-7"><title>+BicGRAZF-</title><p>' + b"+BicGRAZFBkQGRQYnBkQGRAZF- " * 30

    with pytest.raises(UnreadableDocument) as caught:
        read_document(page, suffix=".html")

    assert "utf_7" not in caught.value.reason and "utf-7" not in caught.value.reason


def test_malformed_bytes_in_a_declared_charset_are_a_rejection_with_a_reason() -> None:
    # All ASCII, so the punycode codec would try it, and fail with a UnicodeError of its own.
    page = b'<meta charset="punycode"><title>abc</title><p>ab-9999999999'

    with pytest.raises(UnreadableDocument) as caught:
        read_document(page, suffix=".html")

    assert caught.value.reason


@pytest.mark.parametrize("label", ["windows-1256", "x-cp1256", "cp1256", "ISO-8859-6", "arabic", "asmo-708"])
def test_arabic_charsets_are_known_under_their_web_labels(label: str) -> None:
    codec = "cp1256" if "1256" in label else "iso8859-6"
    page = _page(f'<meta charset="{label}">', f"<p>{ARTICLE_BODY}</p>").encode(codec)

    document = read_document(page, suffix=".html")

    assert (document.title, document.encoding) == (ARTICLE_TITLE, codec)


@pytest.mark.parametrize("codec", ["utf-32", "utf-32-be"])
def test_utf32_with_a_byte_order_mark_is_read(codec: str) -> None:
    text = f"{ARTICLE_TITLE}\n\n{ARTICLE_BODY}"
    data = text.encode("utf-32") if codec == "utf-32" else "\ufeff".encode("utf-32-be") + text.encode(codec)

    document = read_document(data, suffix=".txt")

    assert document.title == ARTICLE_TITLE


def test_html_nested_deeper_than_the_limit_is_rejected_before_it_is_parsed() -> None:
    depth = 5_000
    page = _page("", "<div>" * depth + f"<p>{ARTICLE_BODY}</p>" + "</div>" * depth).encode()

    with pytest.raises(UnreadableDocument) as caught:
        read_document(page, suffix=".html")

    assert "nested" in caught.value.reason


def test_html_with_too_many_elements_is_rejected() -> None:
    page = _page("", f"<p>{ARTICLE_BODY}</p>" + "<span>x</span>" * 200_000).encode()

    with pytest.raises(UnreadableDocument) as caught:
        read_document(page, suffix=".html")

    assert "elements" in caught.value.reason


def test_ordinary_pages_with_unclosed_paragraphs_and_items_are_not_deep() -> None:
    items = "<ul>" + "<li>بند" * 2_000 + "</ul>"
    paragraphs = f"<p>{ARTICLE_BODY}" * 600
    icons = "<svg><g>" + '<path d="M0 0"/>' * 1_000 + "</g></svg>"
    page = _page(
        '<meta charset="utf-8"><link rel=x>', f"<div>{icons}{paragraphs}{items}<br><img src=x></div>"
    )

    document = read_document(page.encode(), suffix=".html")

    assert document.title == ARTICLE_TITLE


def test_a_deeply_nested_fragment_is_flattened_to_its_text() -> None:
    fragment = "<b>" * 10_000 + "نص الخبر &amp; تفاصيله" + "</b>" * 10_000

    assert strip_html(fragment) == "نص الخبر & تفاصيله"


@pytest.mark.parametrize(
    ("text", "letters", "arabic"),
    [
        ("", 0, 0),
        ("عربي abc", 7, 4),
        ("١٢٣ 123 _ - ، .", 0, 0),  # digits (Arabic-Indic too), underscore and punctuation are no letters
        ("كَتَبَ", 3, 3),  # diacritics are marks, not letters
        ("ﻻ ﷲ", 2, 2),  # presentation forms are Arabic letters
        ("½ ² x", 3, 0),  # numeric signs that are not decimal digits count as letters, as \w has them
        ("ڤ\u200fabc\u00a0ۀ", 5, 2),
    ],
)
def test_letters_and_arabic_letters_are_counted_by_class(text: str, letters: int, arabic: int) -> None:
    assert letter_counts(text) == (letters, arabic)
    assert arabic_letter_count(text) == arabic


def test_a_headline_taken_from_between_blank_lines_leaves_one_blank_line() -> None:
    data = (
        "كتب: محمد علي\n\n  انسحاب القوات الأمريكية من قاعدة عين الأسد غرب العراق \n\n\n"
        "وقالت مصادر\u00a0 إن القوات انسحبت من القاعدة.\r\n"
    ).encode()
    document = read_document(data, suffix=".txt")
    assert document.title == "انسحاب القوات الأمريكية من قاعدة عين الأسد غرب العراق"
    assert document.text == "كتب: محمد علي\n\nوقالت مصادر إن القوات انسحبت من القاعدة."


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _link_to_dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _folder(path: Path) -> None:
    path.mkdir()


def _socket(path: Path) -> None:
    listening = socket.socket(socket.AF_UNIX)
    listening.bind(str(path))  # the file stays when the socket is closed


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_fifo, "the file is a FIFO (named pipe), not a regular file"),
        (_link_to_dev_zero, "the file is a device, not a regular file"),
        (_folder, "the file is a folder, not a regular file"),
        (_socket, "the file could not be opened"),
    ],
    ids=["fifo", "link-to-dev-zero", "folder", "socket"],
)
def test_only_a_regular_file_is_read(tmp_path: Path, make: Callable[[Path], None], reason: str) -> None:
    """A FIFO or a device named on the command line is refused at once: read, it would block or never end."""
    path = tmp_path / "article.txt"
    make(path)
    with pytest.raises(UnreadableDocument) as raised:
        regular_file_bytes(path)
    assert raised.value.reason.startswith(reason)


def test_a_regular_file_is_read_through_a_link(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_bytes("خبر".encode())
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    assert regular_file_bytes(tmp_path / "link.txt") == "خبر".encode()
