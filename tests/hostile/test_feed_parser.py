"""The feed parser (``ingest_service.feeds.parse_feed``) over the hostile feeds: each feed parsed in
a child process with its own time budget, so an entity bomb or a pathological document is a hang
on record, not a stuck test run."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.stack import ROOT
from tests.hostile.conftest import report
from tests.hostile.corpus import feed_corpus
from tests.hostile.outcomes import (
    Outcome,
    computed_once,
    describe_failures,
    family_failures,
    family_params,
    run_each,
    summary,
    summary_folder,
)

pytestmark = [pytest.mark.hostile, pytest.mark.xdist_group("hostile-commands")]

SAMPLES = feed_corpus()
BUDGET = 10.0
# A title is one line, as a dropped file's is: what the alert service puts in a mail's Subject.
LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]")
XFAIL: dict[str, str] = {}


def judge(family: str, token: str, row: dict[str, object] | None, stderr: str) -> Outcome:
    """A parsed feed is accepted if every title is one line; a refused one needs its reason."""
    if row is None:
        return Outcome(family, token, "no-reason", f"no line: {stderr.strip()[-200:]!r}")
    if "error" in row:
        reason = str(row["error"])
        return Outcome(family, token, "rejected" if reason.strip() else "no-reason", reason)
    if row.get("leak"):
        return Outcome(family, token, "leak", "an external entity's file reached an article")
    titles = [str(title) for title in row.get("titles") or []]  # type: ignore[attr-defined]
    titles.append(str(row.get("title") or ""))
    broken = [title for title in titles if LINE_BREAKS.search(title)]
    if broken:
        return Outcome(family, token, "unsafe", f"a title with a line break: {broken[0][:120]!r}")
    return Outcome(family, token, "accepted")


def parse_corpus(folder: Path) -> list[Outcome]:
    """Write the feeds into ``folder`` and parse each in a child process."""
    inputs = []
    for sample in SAMPLES:
        path = folder / f"{sample.token}feed.xml"
        path.write_bytes(sample.data)
        inputs.append((sample.family, sample.token, os.fsencode(path)))
    started = time.monotonic()
    outcomes = run_each(
        [sys.executable, "-m", "tests.hostile.parse_feeds"],
        inputs,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        budget=lambda _family: BUDGET,
        judge=judge,
    )
    report(folder.parent, summary("feed parser", outcomes, seconds=time.monotonic() - started))
    return outcomes


@pytest.fixture(scope="module")
def feed_outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[Outcome]:
    def compute() -> dict[str, list[Outcome]]:
        folder = summary_folder(tmp_path_factory) / "hostile-feeds"
        folder.mkdir()
        return {"feeds": parse_corpus(folder)}

    return computed_once(tmp_path_factory, "feed-parser", compute)["feeds"]


@pytest.mark.parametrize("family", family_params((s.family for s in SAMPLES), XFAIL))
def test_feed_parser_survives(feed_outcomes: list[Outcome], family: str) -> None:
    """No feed crashes or hangs the parser; every title it yields is one line."""
    failures = family_failures(feed_outcomes, family)
    assert not failures, describe_failures(failures)
