"""The hostile-input suite's shared parts: the summary each channel prints at the end of the run."""

from __future__ import annotations

from pathlib import Path

import pytest

SUMMARIES: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for text in SUMMARIES:
        terminalreporter.write_line(text)


def report(folder: Path, text: str) -> None:
    """Keep a channel's summary for the end of the run and in ``<folder>/hostile-summary.txt`` (under
    xdist a worker's terminal summary is not shown)."""
    SUMMARIES.append(text)
    with (folder / "hostile-summary.txt").open("a", encoding="utf-8") as file:
        file.write(text + "\n")
