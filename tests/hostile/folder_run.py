"""Drives the hostile file corpus through a running stack's watched folder, one family at a time,
and judges what became of each input from the ledger, the rejected folder, the broker and the logs.

A family is dropped with good articles between its inputs; then the run waits until every input is
accounted for (a ledger row or a rejected file), every good article is stored and no message about
the family is left in the broker, or until the family's time budget is spent. What is still in the
broker then hangs. Afterwards the family's leftovers are cleared from the folder, and any process that
died or hung is started again, so one family's failure is not counted against the next.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis

from ingest_service.paths import path_from_text
from tests.e2e.stack import Stack, compose_commands
from tests.hostile.corpus import Sample, article_text, good_article
from tests.hostile.outcomes import Outcome

GOOD_EVERY = 40  # a good article after every so many hostile inputs
QUEUES = ("ingest", "classify", "alert", "deliver")
WORKER_OF_QUEUE = {
    "ingest": "ingest-worker",
    "classify": "classify-worker",
    "alert": "alert-worker",
    "deliver": "alert-worker",
}
# Seconds a family may take: a base, and more per input; the 5 MB and deep inputs get their own.
BASE_BUDGET = 15.0
PER_INPUT_BUDGET = 0.25
FAMILY_BUDGETS = {"long-line": 45.0, "deep-html": 30.0}
TRACEBACK = "Traceback (most recent call last)"


@dataclass(frozen=True)
class Row:
    """One row of the ingest ledger (``ingest_files``)."""

    size: int
    status: str
    reason: str | None
    article_id: str | None


@dataclass
class Ledger:
    """What the stack recorded: the ingest ledger's rows by token, and the stored articles' titles."""

    rows: dict[str, list[Row]] = field(default_factory=dict)
    titles: list[str] = field(default_factory=list)
    stored: set[str] = field(default_factory=set)  # ids of the articles the alert service stored

    def resolved(self, token: str) -> bool:
        """The input has a ledger row, and its article, if it made one, is stored."""
        rows = self.rows.get(token, [])
        return bool(rows) and all(row.article_id is None or row.article_id in self.stored for row in rows)


@dataclass
class FolderRun:
    """One stack, the corpus dropped into its folder family by family."""

    stack: Stack
    database_url: str  # plain psycopg URL of the stack's database
    broker: redis.Redis
    outside: Path  # a folder beside the watched one: symlink targets live here
    outcomes: list[Outcome] = field(default_factory=list)
    good_number: int = 0
    restarts: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # how long each family took

    # --- dropping -----------------------------------------------------------------------------

    def drop_family(self, family: str, samples: Sequence[Sample]) -> list[str]:
        """Put the family's inputs in the folder, good articles between them; returns the good
        articles' markers."""
        markers = [self._drop_good()]
        growing = [sample for sample in samples if sample.kind == "growing"]
        for index, sample in enumerate(sample for sample in samples if sample.kind != "growing"):
            self._place(sample)
            if index % GOOD_EVERY == GOOD_EVERY - 1:
                markers.append(self._drop_good())
        if growing:
            self._grow(growing)
        markers.append(self._drop_good())
        return markers

    def _drop_good(self) -> str:
        self.good_number += 1
        marker, data = good_article(self.good_number)
        self._drop_bytes(f"good-{self.good_number:04d}.txt".encode(), data)
        return marker

    def _drop_bytes(self, name: bytes, data: bytes) -> None:
        """Written aside, then renamed into the folder, as a careful writer does."""
        staging = os.fsencode(self.stack.workdir / "staging")
        os.makedirs(staging, exist_ok=True)
        aside = os.path.join(staging, name)
        with open(aside, "wb") as file:
            file.write(data)
        os.rename(aside, os.path.join(os.fsencode(self.stack.watch_dir), name))

    def _place(self, sample: Sample) -> None:
        path = os.path.join(os.fsencode(self.stack.watch_dir), sample.name)
        if sample.kind == "file":
            self._drop_bytes(sample.name, sample.data)
        elif sample.kind == "symlink_outside":
            secret = self.outside / f"{sample.token}secret.txt"
            secret.write_text(article_text_with_leak(sample.token), encoding="utf-8")
            os.symlink(secret, path)
        elif sample.kind == "symlink_dev_zero":
            os.symlink("/dev/zero", path)
        elif sample.kind == "symlink_loop":
            os.symlink(path, path)
        elif sample.kind == "symlink_dangling":
            os.symlink(self.outside / "nothing-here.txt", path)
        elif sample.kind == "fifo":
            os.mkfifo(path)
        elif sample.kind == "vanishing":
            with open(path, "wb") as file:
                file.write(sample.data)
            time.sleep(0.05)
            os.unlink(path)

    def _grow(self, samples: Sequence[Sample]) -> None:
        """Write the files in the folder itself, a piece every 0.4 s (longer than the settle time)."""
        pieces = 6

        def grow(sample: Sample) -> None:
            path = os.path.join(os.fsencode(self.stack.watch_dir), sample.name)
            size = -(-len(sample.data) // pieces)
            for start in range(0, len(sample.data), size):
                with open(path, "ab") as file:
                    file.write(sample.data[start : start + size])
                time.sleep(0.4)

        threads = [threading.Thread(target=grow, args=(sample,)) for sample in samples]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # --- waiting and judging ------------------------------------------------------------------

    def run_family(self, family: str, samples: Sequence[Sample]) -> list[Outcome]:
        """Drop one family, wait for it within its budget, judge it, and clear up after it."""
        started = time.monotonic()
        offsets = self.log_offsets()
        markers = self.drop_family(family, samples)
        budget = FAMILY_BUDGETS.get(family, BASE_BUDGET + PER_INPUT_BUDGET * len(samples))
        deadline = time.monotonic() + budget
        tokens = [sample.token for sample in samples]
        while True:
            ledger = self.ledger()
            busy = self.busy_tokens([*tokens, *markers])
            if self._settled(samples, markers, ledger) and not busy:
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        outcomes = self.judge(family, samples, markers, ledger=self.ledger(), busy=busy, offsets=offsets)
        self.clear(samples)
        self.recover(busy)
        self.outcomes += outcomes
        self.seconds[family] = time.monotonic() - started
        return outcomes

    def _settled(self, samples: Sequence[Sample], markers: Sequence[str], ledger: Ledger) -> bool:
        stored = all(any(marker in title for title in ledger.titles) for marker in markers)
        regular = [s for s in samples if s.kind in ("file", "growing")]
        return stored and all(ledger.resolved(s.token) or self._rejected_note(s) for s in regular)

    def judge(  # noqa: PLR0913 - what the wait found, handed over as it is
        self,
        family: str,
        samples: Sequence[Sample],
        markers: Sequence[str],
        *,
        ledger: Ledger,
        busy: set[str],
        offsets: dict[str, int],
    ) -> list[Outcome]:
        tracebacks = self.new_tracebacks(offsets)
        dead = [name for name, alive in self.stack.alive().items() if not alive]
        leaked = self._leaked()
        outcomes = [
            self._judge_one(sample, ledger=ledger, busy=busy, tracebacks=tracebacks, leaked=leaked)
            for sample in samples
        ]
        for name in dead:
            outcomes.append(Outcome(family, "(process)", "crash", f"{name} died: {self._tail(name)}"))
        if tracebacks and not any(o.result == "crash" for o in outcomes):
            outcomes.append(Outcome(family, "(log)", "crash", tracebacks[0]))
        for marker in markers:
            if not any(marker in title for title in ledger.titles):
                outcomes.append(
                    Outcome(family, marker, "hang", "a good article dropped with it was not stored")
                )
        return outcomes

    def _judge_one(  # noqa: PLR0911 - one return per verdict reads best
        self, sample: Sample, *, ledger: Ledger, busy: set[str], tracebacks: list[str], leaked: set[str]
    ) -> Outcome:
        family, token = sample.family, sample.token
        if token in leaked:
            return Outcome(family, token, "leak", "the symlink target's text reached the database")
        if token in busy:
            return Outcome(
                family, token, "hang", "its message was still in the broker at the end of its budget"
            )
        rows = ledger.rows.get(token, [])
        note = self._rejected_note(sample)
        statuses = {row.status for row in rows}
        if note is not None or "rejected" in statuses:
            return self._judge_rejected(sample, note, rows)
        if statuses & {"ingested", "duplicate"}:
            if not ledger.resolved(token):
                return Outcome(family, token, "hang", "ingested, but its article was never stored")
            if sample.kind == "growing" and max(row.size for row in rows) != len(sample.data):
                return Outcome(family, token, "wrong", "the complete file was never ingested")
            if sample.expect == "reject":
                return Outcome(family, token, "wrong", "ingested, but it is not an article")
            return Outcome(family, token, "accepted")
        if sample.special and sample.kind != "growing":  # a link, a FIFO, a vanished file: left alone
            return Outcome(family, token, "ignored", "never read")
        if tracebacks:
            return Outcome(
                family, token, "crash", f"neither stored nor rejected; the logs hold: {tracebacks[0]}"
            )
        return Outcome(family, token, "no-reason", "neither stored nor rejected with a reason")

    def _judge_rejected(self, sample: Sample, note: Path | None, rows: Sequence[Row]) -> Outcome:
        family, token = sample.family, sample.token
        if note is None:
            return Outcome(family, token, "no-reason", f"rejected in the ledger, no reason file: {rows}")
        text = note.read_text(encoding="utf-8", errors="strict")
        reason = next(
            (line[len("Reason:") :].strip() for line in text.splitlines() if line.startswith("Reason:")), ""
        )
        if not reason:
            return Outcome(family, token, "no-reason", f"the reason file says no reason: {text[:200]!r}")
        if sample.expect == "accept":
            return Outcome(family, token, "wrong", f"a good article was rejected: {reason}")
        return Outcome(family, token, "rejected", reason)

    def _rejected_note(self, sample: Sample) -> Path | None:
        """The ``.reason.txt`` of the sample's rejected file, if it was rejected."""
        folder = os.fsencode(self.stack.rejected_dir)
        if not os.path.isdir(folder):
            return None
        prefix = sample.token.encode()
        for name in os.listdir(folder):
            if name.startswith(prefix) and name.endswith(b".reason.txt"):
                return Path(os.fsdecode(os.path.join(folder, name)))
        return None

    # --- what the stack holds ------------------------------------------------------------------

    def ledger(self) -> Ledger:
        ledger = Ledger()
        with psycopg.connect(self.database_url) as connection:
            for path, size, status, reason, article_id in connection.execute(
                "SELECT path, size, status, reason, article_id FROM ingest_files"
            ):
                # A name that is not UTF-8 is kept in the ledger as base64 of its bytes.
                name = os.fsencode(path_from_text(path).name).decode("ascii", "replace")
                if len(name) > 5 and name[0] == "h" and name[5] == "-":
                    ledger.rows.setdefault(name[:6], []).append(Row(size, status, reason, article_id))
            for article_id, title in connection.execute("SELECT id, title FROM alert_articles"):
                ledger.stored.add(article_id)
                ledger.titles.append(title)
        return ledger

    def _leaked(self) -> set[str]:
        """Tokens whose symlink target's text (marked ``leak-<token>``) reached either service's tables."""
        with psycopg.connect(self.database_url) as connection:
            texts = [
                text
                for (text,) in connection.execute(
                    "SELECT title || ' ' || text FROM alert_articles"
                    " WHERE title LIKE '%leak-%' OR text LIKE '%leak-%'"
                )
            ]
            texts += [
                text
                for (text,) in connection.execute(
                    "SELECT payload::text FROM ingest_articles WHERE payload::text LIKE '%leak-%'"
                )
            ]
        return {text[index + 5 : index + 11] for text in texts if (index := text.find("leak-")) >= 0}

    def busy_tokens(self, tokens: Iterable[str]) -> set[str]:
        """The tokens named by a message still queued or taken but not acknowledged."""
        texts = [_message_text(raw) for raw in self.broker.hvals("unacked")]
        for queue in QUEUES:
            texts += [_message_text(raw) for raw in self.broker.lrange(queue, 0, -1)]
        return {token for token in tokens if any(token in text for text in texts)}

    def log_offsets(self) -> dict[str, int]:
        """How far each process's log goes now, so what it logs next can be read alone."""
        return {name: self._log(name).stat().st_size for name in self.stack.processes}

    def _log(self, name: str) -> Path:
        return self.stack.workdir / f"{name}.log"

    def new_tracebacks(self, offsets: dict[str, int]) -> list[str]:
        """The exception of each traceback the processes logged past ``offsets``."""
        found = []
        for name in self.stack.processes:
            with self._log(name).open("rb") as file:
                file.seek(offsets.get(name, 0))
                # Celery also logs a failed task's traceback inside a repr, its line breaks escaped.
                text = file.read().decode("utf-8", "replace").replace("\\n", "\n")
            for chunk in text.split(TRACEBACK)[1:]:
                # The exception is the first line after the frames that is not indented.
                lines = [line for line in chunk.splitlines()[1:] if line and not line[0].isspace()]
                found.append(f"{name}: {lines[0][:300] if lines else '?'}")
        return found

    def _tail(self, name: str) -> str:
        text = self._log(name).read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return " | ".join(text[-2:])

    # --- clearing up ---------------------------------------------------------------------------

    def clear(self, samples: Sequence[Sample]) -> None:
        """Remove what is left of the family in the folder (a stuck file would trip the next)."""
        folder = os.fsencode(self.stack.watch_dir)
        prefixes = tuple(sample.token.encode() for sample in samples)
        for name in os.listdir(folder):
            if name.startswith(prefixes):
                path = os.path.join(folder, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)

    def recover(self, busy: set[str]) -> None:
        """Restart what died; kill and restart a worker holding a hung message, dropping that message."""
        commands = compose_commands()
        restart = {name for name, alive in self.stack.alive().items() if not alive}
        if busy:
            restart |= self._drop_messages(busy)
        for name in restart:
            if self.stack.processes[name].poll() is None:
                self.stack.kill(name)
            del self.stack.processes[name]
            self.restarts += 1
            base = name.split("~")[0]
            self.stack.start(f"{base}~{self.restarts}", commands[base])

    def _drop_messages(self, tokens: set[str]) -> set[str]:
        """Delete the messages naming ``tokens``; the names of the workers that held them."""
        workers = set()
        for tag, raw in self.broker.hgetall("unacked").items():
            if any(token in _message_text(raw) for token in tokens):
                _message, _exchange, routing_key = json.loads(raw)
                workers.add(routing_key)
                self.broker.hdel("unacked", tag)
                self.broker.zrem("unacked_index", tag)
        for queue in QUEUES:
            for raw in self.broker.lrange(queue, 0, -1):
                if any(token in _message_text(raw) for token in tokens):
                    self.broker.lrem(queue, 0, raw)
        held_by = {WORKER_OF_QUEUE.get(queue, "") for queue in workers}
        return {name for name in self.stack.processes if name.split("~")[0] in held_by}


def _message_text(raw: bytes) -> str:
    """A queued message's text, its base64 body decoded, so the tokens in its arguments show."""
    try:
        envelope = json.loads(raw)
        message = envelope[0] if isinstance(envelope, list) else envelope
        body = base64.b64decode(message.get("body", ""))
        return raw.decode("utf-8", "replace") + body.decode("utf-8", "replace")
    except (ValueError, TypeError, AttributeError):
        return raw.decode("utf-8", "replace")


def article_text_with_leak(token: str) -> str:
    """The text behind a symlink that points outside the folder, marked so a leak can be found."""
    return article_text(random.Random(token), marker=f"[leak-{token}]")
