"""One run of ``rasid import``: items recorded in batches, each batch its own transaction and handed
on to the classifier after it commits, with a progress bar on a terminal (plain lines otherwise), a
tally of what became of each item, and a clean stop between batches.

A stop (Ctrl-C) lets the batch in hand commit and be sent, then ends; a second run of the same inputs
skips every item the import ledger records, so nothing is imported twice.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from ingest_service.handoff import hand_on
from ingest_service.imports import ImportItem, ItemOutcome, count_items, import_item, read_items
from ingest_service.settings import IngestSettings
from shared.celery_app import producer
from shared.db import session_scope, utc_now
from shared.messages import ArticleIngested

# Items recorded in one transaction: large enough that a commit is rare, small enough that a stop is quick;
# and at most this many bytes of them in memory (200 members of 5 MB each would be 1 GB).
BATCH_SIZE = 200
BATCH_BYTES = 64 * 1024 * 1024
# How often a plain progress line is written when the output is not a terminal.
PLAIN_PROGRESS_SECONDS = 5.0


@dataclass
class ImportTally:
    """How many items became what, and the reasons items were rejected."""

    counts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: ItemOutcome) -> None:
        self.counts[outcome.status] += 1
        if outcome.reason:
            self.reasons[outcome.reason] += 1

    def summary(self, *, stopped: bool) -> str:
        """What a person reads at the end of a run."""
        head = "import stopped (run it again to resume)" if stopped else "import done"
        lines = [
            f"{head}: {self.counts['ingested']} imported, {self.counts['duplicate']} duplicates, "
            f"{self.counts['rejected']} rejected, {self.counts['already_imported']} already imported before"
        ]
        lines += [f"  rejected {count}x: {reason}" for reason, count in self.reasons.most_common()]
        return "\n".join(lines)


class ImportRun:
    """Imports inputs through the ledger, batch by batch, until done or stopped."""

    def __init__(self, settings: IngestSettings, *, alerts: bool | None, out: TextIO | None = None) -> None:
        self.settings = settings
        self.alerts = alerts
        self.out = out or sys.stderr
        self.tally = ImportTally()
        self.stopped = False

    def stop(self) -> None:
        """Stop after the batch in hand (called from a signal handler); asked a second time, stop now
        (the batch in hand is rolled back, and the next run does it again)."""
        if self.stopped:
            raise KeyboardInterrupt
        self.stopped = True

    def run(self, paths: list[Path]) -> None:
        total = _total(paths)
        with _progress(total, out=self.out) as progress:
            batch: list[ImportItem] = []
            held = 0
            for path in paths:
                for item in read_items(path, max_bytes=self.settings.max_file_bytes):
                    batch.append(item)
                    held += len(item.data) + len(item.text or "")
                    if len(batch) >= BATCH_SIZE or held >= BATCH_BYTES:
                        self._flush(batch, progress)
                        batch, held = [], 0
                    if self.stopped:
                        break
                if self.stopped:
                    break
            self._flush(batch, progress)

    def _flush(self, batch: list[ImportItem], progress: _Progress) -> None:
        if not batch:
            return
        # Each item is stamped as it is taken, as each dropped file is: an undated article's moment
        # orders it among the others, and a story window bounded by count keeps the latest.
        with session_scope(self.settings.resolved_database_url) as session:
            outcomes = [import_item(session, item, alerts=self.alerts, now=utc_now()) for item in batch]
        articles = [outcome.article for outcome in outcomes if outcome.article is not None]
        _hand_on(articles)
        for outcome in outcomes:
            self.tally.add(outcome)
        progress.update(len(batch), self.tally)


def _hand_on(articles: list[ArticleIngested]) -> None:
    """Send the batch's new articles on; one not sent is sent again by the ledger's resend sweep."""
    if articles:
        hand_on(producer(), articles)


def _total(paths: list[Path]) -> int | None:
    counts = [count_items(path) for path in paths]
    return None if any(count is None for count in counts) else sum(count or 0 for count in counts)


class _Progress:
    """A tqdm bar with rate and ETA on a terminal; a plain line every few seconds otherwise."""

    def __init__(self, total: int | None, *, out: TextIO) -> None:
        self.out = out
        self.total = total
        self.done = 0
        self.started = self.last_line = time.monotonic()
        self.bar = tqdm(total=total, unit="article", file=out) if out.isatty() else None

    def update(self, count: int, tally: ImportTally) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
            return
        now = time.monotonic()
        if now - self.last_line >= PLAIN_PROGRESS_SECONDS:
            self.last_line = now
            self._line(tally)

    def _line(self, tally: ImportTally) -> None:
        rate = self.done / max(time.monotonic() - self.started, 1e-6)
        of = f"/{self.total}" if self.total is not None else ""
        self.out.write(
            f"import: {self.done}{of} items ({rate:.0f}/s): {tally.counts['ingested']} imported, "
            f"{tally.counts['duplicate']} duplicates, {tally.counts['rejected']} rejected\n"
        )
        self.out.flush()

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *_: object) -> None:
        if self.bar is not None:
            self.bar.close()


def _progress(total: int | None, *, out: TextIO) -> _Progress:
    return _Progress(total, out=out)
