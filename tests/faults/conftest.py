"""Fixtures of the fault suite and the table it prints at the end of the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.ledger import Verdict

HEADER = (
    "scenario",
    "articles in",
    "stored",
    "alerts expected",
    "delivered",
    "duplicates",
    "time to recover",
)


class FaultTable:
    """One row per scenario run, printed after the tests (``make faults`` shows it)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []
        self.notes: list[str] = []

    def add(self, scenario: str, verdict: Verdict, recovered_in: float | None, notes: list[str]) -> None:
        recovery = f"{recovered_in:.1f} s" if recovered_in is not None else "never"
        self.rows.append(
            (
                scenario,
                str(verdict.articles_in),
                str(verdict.stored),
                str(verdict.alerts_expected),
                str(verdict.delivered),
                str(verdict.duplicates),
                recovery,
            )
        )
        self.notes.extend(f"{scenario}: {note}" for note in [*notes, *verdict.problems])

    def render(self) -> list[str]:
        table = [HEADER, *self.rows]
        widths = [max(len(row[column]) for row in table) for column in range(len(HEADER))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in table
        ]
        return [lines[0], "  ".join("-" * width for width in widths), *lines[1:]]


TABLE = FaultTable()


@pytest.fixture(scope="session")
def fault_table() -> FaultTable:
    return TABLE


@pytest.fixture(scope="session")
def classifier_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One compiled classifier index for every scenario's processes (compiling it is slow)."""
    return tmp_path_factory.mktemp("classifier-cache")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TABLE.rows:
        terminalreporter.section("fault table")
        for line in [*TABLE.render(), "", *TABLE.notes]:
            terminalreporter.write_line(line)
