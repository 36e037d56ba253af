"""``rasid classify`` over the hostile corpus: one process over every file (started again after a
crash or a hang), each file with its own time budget."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.stack import ROOT
from tests.hostile.conftest import report
from tests.hostile.corpus import file_corpus
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

SAMPLES = [sample for sample in file_corpus() if not sample.special]
# Seconds of CPU one file may take; the 5 MB article gets more (a linear classifier reads it in
# seconds: 8-10 s of CPU on this kind of machine, 28 s on its slowest day, when it ran 2.7 times slower).
BUDGETS = {"long-line": 60.0, "deep-html": 30.0}
DEFAULT_BUDGET = 10.0
# Families that fail on today's code, with the finding of the issue that covers them.
XFAIL: dict[str, str] = {}


def judge(family: str, token: str, row: dict[str, object] | None, stderr: str) -> Outcome:
    """A JSON line with tags is a classification; a line or a message with an error is a rejection."""
    if row is not None:
        if "tags" in row:
            return Outcome(family, token, "accepted")
        error = row.get("error") or row.get("reason")
        return Outcome(family, token, "rejected" if error else "no-reason", str(error or row))
    said = [line for line in stderr.splitlines() if token in line]
    if said:  # the message names the file and says why it was not classified
        return Outcome(family, token, "rejected", said[-1].split(": ", 1)[-1])
    return Outcome(family, token, "no-reason", f"no line and no message {stderr.strip()[-200:]!r}")


def classify_corpus(folder: Path) -> list[Outcome]:
    """Write the corpus into ``folder`` and run ``rasid classify`` over it."""
    inputs = []
    for sample in SAMPLES:
        path = os.path.join(os.fsencode(folder), sample.name)
        Path(os.fsdecode(path)).write_bytes(sample.data)
        inputs.append((sample.family, sample.token, path))
    started = time.monotonic()
    outcomes = run_each(
        [sys.executable, "-m", "shared", "classify"],
        inputs,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        budget=lambda family: BUDGETS.get(family, DEFAULT_BUDGET),
        judge=judge,
    )
    report(folder.parent, summary("rasid classify", outcomes, seconds=time.monotonic() - started))
    return outcomes


@pytest.fixture(scope="module")
def classify_outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[Outcome]:
    def compute() -> dict[str, list[Outcome]]:
        folder = summary_folder(tmp_path_factory) / "hostile-classify"
        folder.mkdir()
        return {"classify": classify_corpus(folder)}

    return computed_once(tmp_path_factory, "classify", compute)["classify"]


@pytest.mark.parametrize("family", family_params((s.family for s in SAMPLES), XFAIL))
def test_classify_survives(classify_outcomes: list[Outcome], family: str) -> None:
    """No file crashes or hangs ``rasid classify``; one it cannot read is refused with a message."""
    failures = family_failures(classify_outcomes, family)
    assert not failures, describe_failures(failures)
