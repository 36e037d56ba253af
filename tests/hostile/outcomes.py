"""What became of each hostile input, judged the same way for every channel, and the summary printed.

An input ends as one of: ``accepted`` (an article, or a classification), ``rejected`` (with a reason a
person can read), ``ignored`` (a special file left alone and never read), or a failure: ``crash`` (a
process died or logged a traceback), ``hang`` (over its time budget), ``no-reason`` (neither stored
nor rejected with a reason), ``leak`` (content from outside the watched folder reached the database),
``unsafe`` (an article whose title still carries line breaks or terminal escapes) or ``wrong`` (a
good article rejected, or garbage accepted).
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import re
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import psutil
import pytest

Result = Literal["accepted", "rejected", "ignored", "crash", "hang", "no-reason", "leak", "unsafe", "wrong"]
FAILURES: frozenset[str] = frozenset({"crash", "hang", "no-reason", "leak", "unsafe", "wrong"})
TOKEN = re.compile(r"h\d{4}-")


@dataclass(frozen=True)
class Outcome:
    """What one input became in one channel, and why (the reason given, or what went wrong)."""

    family: str
    token: str
    result: Result
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.result in FAILURES


def family_failures(outcomes: Iterable[Outcome], family: str) -> list[Outcome]:
    """The failed inputs of one family."""
    return [outcome for outcome in outcomes if outcome.family == family and outcome.failed]


def describe_failures(failures: Sequence[Outcome], *, limit: int = 8) -> str:
    """A short account of a family's failures, for an assertion message."""
    counts = Counter(outcome.result for outcome in failures)
    lines = [f"{len(failures)} failed: {dict(counts)}"]
    lines += [f"  {o.token} {o.result}: {o.detail[:300]}" for o in failures[:limit]]
    return "\n".join(lines)


def reason_kind(reason: str) -> str:
    """A rejection reason without the parts that change per input (numbers, names)."""
    reason = reason.strip().splitlines()[0] if reason.strip() else "(empty)"
    reason = re.sub(r"\d+", "N", reason)
    return re.sub(r"\(.*\)", "(...)", reason)[:90]


def summary(channel: str, outcomes: Sequence[Outcome], *, seconds: float) -> str:
    """The table a run prints: inputs, accepted, rejected by reason, crashes, hangs; then per family."""
    results = Counter(outcome.result for outcome in outcomes)
    lines = [
        f"== hostile corpus, {channel}: {len(outcomes)} inputs in {seconds:.0f}s ==",
        "accepted {accepted}, rejected {rejected}, ignored {ignored}, crashes {crash}, hangs {hang}, "
        "no reason {no_reason}, leaks {leak}, unsafe {unsafe}, wrong {wrong}".format(
            accepted=results["accepted"],
            rejected=results["rejected"],
            ignored=results["ignored"],
            crash=results["crash"],
            hang=results["hang"],
            no_reason=results["no-reason"],
            leak=results["leak"],
            unsafe=results["unsafe"],
            wrong=results["wrong"],
        ),
        "rejected by reason:",
    ]
    reasons = Counter(reason_kind(o.detail) for o in outcomes if o.result == "rejected")
    lines += [f"  {count:5d}  {reason}" for reason, count in reasons.most_common()]
    lines.append("per family (inputs: results):")
    by_family: dict[str, Counter[str]] = defaultdict(Counter)
    for outcome in outcomes:
        by_family[outcome.family][outcome.result] += 1
    for family, counts in by_family.items():
        mark = "FAIL" if set(counts) & FAILURES else "ok  "
        lines.append(f"  {mark} {family:22s} {sum(counts.values()):4d}: {dict(sorted(counts.items()))}")
    return "\n".join(lines)


# --- one command over many inputs, each with its own time budget ----------------------------------


Judge = Callable[[str, str, dict[str, object] | None, str], Outcome]
"""Turns (family, token, the JSON line printed about the input or None, the command's stderr) into an
outcome; a crash and a hang are judged by :func:`run_each` itself."""


def run_each(
    command: Sequence[str | bytes],
    inputs: Sequence[tuple[str, str, bytes]],
    *,
    env: dict[str, str],
    budget: Callable[[str], float],
    judge: Judge,
) -> list[Outcome]:
    """Run ``command`` with the paths of ``inputs`` (family, token, path) as arguments; it prints one
    JSON line per input it handles, in order. An input whose line does not come within its budget is a
    hang (the command is killed and started again on the rest); a command that dies with a traceback
    crashed on the input it was at; one that exits with a message rejected that input."""
    outcomes: list[Outcome] = []
    remaining = list(inputs)
    while remaining:
        done, stopped = _run_once(command, remaining, env=env, budget=budget, judge=judge)
        outcomes += done
        remaining = remaining[len(done) :]
        if not stopped and remaining:  # it finished without a word about the rest
            outcomes += [judge(family, token, None, "") for family, token, _path in remaining]
            break
    return outcomes


def _run_once(
    command: Sequence[str | bytes],
    inputs: Sequence[tuple[str, str, bytes]],
    *,
    env: dict[str, str],
    budget: Callable[[str], float],
    judge: Judge,
) -> tuple[list[Outcome], bool]:
    """One run of the command; returns the outcomes of the inputs it got through, and whether it
    stopped early (killed or died) so the caller starts it again on the rest."""
    process = subprocess.Popen(
        [*command, *(path for _family, _token, path in inputs)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    lines: queue.Queue[bytes | None] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    messages = _Progress(process)
    outcomes: list[Outcome] = []
    passed_over: list[int] = []  # outcomes judged again from the whole stderr once the command ends
    position = 0
    deadline = time.monotonic() + 15 + budget(inputs[0][0])  # the first input also pays for start-up
    while position < len(inputs):
        family, token, _path = inputs[position]
        try:
            raw = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            # Inputs refused print no line, only a message: the command may be past this one, and is
            # given the budget of the first input no message has named yet, the one it is reading.
            unnamed = position + messages.named([token for _family, token, _path in inputs[position:-1]])
            waiting = messages.waiting_until(budget(inputs[unnamed][0]))
            if waiting is not None:
                deadline = waiting
                continue
            process.kill()
            _judge_passed_over(outcomes, passed_over, messages.whole(), judge=judge)
            outcomes.append(Outcome(family, token, "hang", f"no answer within {budget(family):.0f}s of CPU"))
            return outcomes, True
        if raw is None:  # the command ended
            stderr = messages.whole()
            _judge_passed_over(outcomes, passed_over, stderr, judge=judge)
            if process.returncode == 0:
                return outcomes, False
            if "Traceback" in stderr:
                outcomes.append(Outcome(family, token, "crash", _last_lines(stderr)))
            else:
                outcomes.append(judge(family, token, None, stderr))
            return outcomes, True
        row = _json(raw)
        found = TOKEN.search(str(row.get("id", "")))
        tokens = [token for _family, token, _path in inputs[position:]]
        if found is None or found.group() not in tokens:
            continue  # a line about no input of ours: not an answer
        # Inputs passed over before the one this line is about were refused (with a message on
        # stderr, the judge decides from the whole of it at the end).
        for skipped_family, skipped_token, _ in inputs[position : position + tokens.index(found.group())]:
            passed_over.append(len(outcomes))
            outcomes.append(judge(skipped_family, skipped_token, None, "(skipped)"))
        position += tokens.index(found.group())
        outcomes.append(judge(inputs[position][0], inputs[position][1], row, ""))
        position += 1
        messages.answered()
        if position < len(inputs):
            deadline = time.monotonic() + budget(inputs[position][0])
    _judge_passed_over(outcomes, passed_over, messages.whole(), judge=judge)
    return outcomes, False


class _Progress:
    """How a command is getting on: what it prints on stderr, read as it comes, and the CPU it spends.

    Inputs it refuses print no line, only a message: a command still printing refusals is busy, not
    hung, however many inputs it passes over. And a budget is of the command's CPU time, the wall clock
    only bounding how long it may wait for a core: on a machine running other work a starved command
    is not a hung one, while a loop spends its budget whatever the load."""

    # How many budgets of the wall clock a command that spends no CPU may take: one blocked, not busy.
    STARVED = 4

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process
        self._read: list[bytes] = []
        self.heard = time.monotonic()
        self._answered = (time.monotonic(), self._cpu())
        self._reader = threading.Thread(target=self._read_all, daemon=True)
        self._reader.start()

    def _read_all(self) -> None:
        for message in self._process.stderr:  # type: ignore[union-attr]
            self._read.append(message)
            self.heard = time.monotonic()

    def _cpu(self) -> float:
        try:
            times = psutil.Process(self._process.pid).cpu_times()
        except psutil.Error:
            return 0.0
        return float(times.user + times.system)

    def named(self, tokens: Sequence[str]) -> int:
        """How many of ``tokens`` (of the inputs in order) the messages so far name, from the first."""
        said = b"".join(self._read)
        count = 0
        for token in tokens:
            if token.encode("ascii") not in said:
                break
            count += 1
        return count

    def answered(self) -> None:
        """The command answered for an input: the next one's budget starts now."""
        self._answered = (time.monotonic(), self._cpu())

    def waiting_until(self, budget: float) -> float | None:
        """When to stop waiting for an answer, or None when the command is hung: silent for
        ``budget`` seconds and ``budget`` seconds of CPU spent since its last answer, or blocked
        for STARVED budgets of the wall clock."""
        now = time.monotonic()
        if self.heard + budget > now:
            return self.heard + budget
        since, cpu = self._answered
        if self._cpu() - cpu < budget and now < since + self.STARVED * budget:
            return now + 1.0
        return None

    def whole(self) -> str:
        """Everything printed, once the command has ended (read to its end however busy the
        machine: a fixed pause lost the messages of passed-over inputs under load)."""
        self._process.wait()
        self._reader.join(timeout=60)
        return b"".join(self._read).decode("utf-8", "replace")


def _judge_passed_over(outcomes: list[Outcome], passed_over: list[int], stderr: str, *, judge: Judge) -> None:
    """Judge again, from the command's whole stderr, the inputs it passed over without a line."""
    for index in passed_over:
        outcome = outcomes[index]
        outcomes[index] = judge(outcome.family, outcome.token, None, stderr)
    passed_over.clear()


def _pump(stream: object, lines: queue.Queue[bytes | None]) -> None:
    for raw in stream:  # type: ignore[attr-defined]
        lines.put(raw)
    lines.put(None)


def _json(raw: bytes) -> dict[str, object]:
    try:
        row = json.loads(raw.decode("utf-8", "surrogateescape"))
    except ValueError:
        return {"id": raw.decode("utf-8", "replace"), "unparsed": True}
    return row if isinstance(row, dict) else {"id": "", "unparsed": True}


def _last_lines(text: str, count: int = 3) -> str:
    return " | ".join(text.strip().splitlines()[-count:])


def fsname(path: bytes | str) -> str:
    """A path as text, whatever bytes it holds."""
    return os.fsdecode(path) if isinstance(path, bytes) else path


def family_params(names: Iterable[str], xfail: dict[str, str]) -> list[object]:
    """One test parameter a family; those failing on today's code carry a strict xfail naming the
    finding of the issue, removed when its fix lands."""
    return [
        pytest.param(name, marks=pytest.mark.xfail(reason=xfail[name], strict=True))
        if name in xfail
        else name
        for name in dict.fromkeys(names)
    ]


def computed_once(
    factory: pytest.TempPathFactory, name: str, compute: Callable[[], dict[str, list[Outcome]]]
) -> dict[str, list[Outcome]]:
    """``compute()`` once per test run, even when xdist spreads a module's tests over workers: the
    first worker computes under a file lock and leaves the outcomes as JSON; the others read them."""
    base = factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    stored = root / f"hostile-{name}.json"
    with (root / f"hostile-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stored.exists():
            rows = json.loads(stored.read_text(encoding="utf-8"))
            return {key: [Outcome(**row) for row in value] for key, value in rows.items()}
        outcomes = compute()
        rows = {key: [asdict(outcome) for outcome in value] for key, value in outcomes.items()}
        stored.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
        return outcomes


def summary_folder(factory: pytest.TempPathFactory) -> Path:
    """Where the summaries go: the run's base folder, shared by its xdist workers."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
