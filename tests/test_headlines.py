"""The headline of a plain-text article, table-driven from tests/fixtures/documents/headlines.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.documents import read_document
from shared.headlines import (
    is_breadcrumb,
    is_byline,
    is_date,
    is_label,
    is_paragraph,
    reads_as_headline,
    split_headline,
)

ROOT = Path(__file__).resolve().parents[1]
CASES: dict[str, list[dict[str, str]]] = yaml.safe_load(
    (ROOT / "tests" / "fixtures" / "documents" / "headlines.yaml").read_text(encoding="utf-8")
)
KINDS = {"date": is_date, "byline": is_byline, "breadcrumb": is_breadcrumb, "label": is_label}


@pytest.mark.parametrize("case", CASES["seeds"], ids=lambda case: case["file"][:3])
def test_each_seed_is_read_with_its_headline(case: dict[str, str]) -> None:
    document = read_document((ROOT / "seeds" / case["file"]).read_bytes(), suffix=".txt")

    assert document.title == case["title"]


@pytest.mark.parametrize("case", CASES["files"], ids=lambda case: case["name"])
def test_headline_of_a_file(case: dict[str, str]) -> None:
    document = read_document(case["text"].encode("utf-8"), suffix=".txt")

    assert document.title == case["title"]
    if "rest" in case:
        assert document.text == case["rest"]
    assert split_headline(case["text"].strip()) == (document.title, document.text)


@pytest.mark.parametrize("case", CASES["lines"], ids=lambda case: case["kind"])
def test_kind_of_a_line(case: dict[str, Any]) -> None:
    line, kind = case["line"], case["kind"]

    assert reads_as_headline(line) == (kind in {"headline", "paragraph"})
    assert is_paragraph(line) == (kind == "paragraph")
    if kind in KINDS:
        assert KINDS[kind](line)
    if kind == "headline":
        assert not any(is_kind(line) for is_kind in KINDS.values())


def test_a_text_without_lines_has_no_headline() -> None:
    assert split_headline("") == ("", "")
    assert split_headline("\n\n") == ("", "")
