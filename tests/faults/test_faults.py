"""Fault scenarios, one test each: the compose services run as local processes (or ``rasid run``),
real articles flow into the watched folder, one fault is injected while they flow and then healed,
and the ledger (:mod:`tests.faults.ledger`) judges what came out. "Time to recover" is how long after
the fault healed the ledger was first satisfied (it must then stay so for ``QUIET_SECONDS``). Long
outages are compressed: the retry schedule is scaled by the same factor as the outage, so a 10-minute
SMTP outage becomes 20 s against a schedule 30 times shorter.

Scenarios run one at a time (``make faults``, also run by CI after ``make test``): each starts a whole
stack of worker processes on a 2-core machine. Outside CI a scenario whose tool is missing (a tmpfs
mount needs root; libfaketime) is skipped with the reason; with ``CI=true`` it fails instead, since
CI's machine has both (``.ci/run`` installs ``faketime``)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from alert_service.settings import AlertSettings
from ingest_service.service import files_queue
from ingest_service.settings import machine_host_name
from shared.task_names import INGEST_FILES
from tests import commands
from tests.e2e.stack import Stack, compose_commands, compose_stack, embedded_stack, stack_env
from tests.faults.articles import Article, load_articles
from tests.faults.conftest import FaultTable
from tests.faults.ledger import (
    Expectation,
    Snapshot,
    Verdict,
    WireLog,
    engine_for,
    judge,
    mail_alert_ids,
    read_database,
)
from tests.faults.servers import (
    PrivateRedis,
    RestartableSmtp,
    TcpProxy,
    private_redis,
    restartable_smtp,
    tcp_proxy,
)
from tests.helpers import unavailable
from tests.peers import (
    ACCEPT,
    HttpPeer,
    Reply,
    Request,
    Route,
    delayed,
    error,
    http_peer,
    redirect,
    slow_drip,
    wait_for,
)

pytestmark = [pytest.mark.faults]

ARTICLES = 8
DROP_EVERY = 0.4  # seconds between two articles of the stream
DOWNTIME = 3.0  # how long a killed process or a crashed server stays down
RECOVERY_SECONDS = 30.0  # after the fault heals, how long the stack has to satisfy the ledger
QUIET_SECONDS = 2.0  # how long a satisfied ledger must stay satisfied (a late duplicate shows)
WEBHOOK_TOPICS = "withdrawal,strikes"
EMAIL_TOPICS = "training,strikes"
LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")

# Every scenario's stack: timeouts, leases and sweeps short enough that recovery takes seconds.
FAST = {
    "RASID_RESCAN_SECONDS": "2",
    "RASID_REDISPATCH_SECONDS": "3",
    "RASID_SMTP_TIMEOUT": "5",
    "RASID_WEBHOOK_TIMEOUT": "5",
    "RASID_DELIVERY_LEASE_SECONDS": "12",
    "RASID_FEED_POLL_SECONDS": "3600",
    "RASID_ALLOW_PRIVATE_TARGETS": "true",  # the receivers listen on 127.0.0.1
}


def compressed(real_outage: float, outage: float) -> dict[str, str]:
    """The default retry schedule shrunk by the factor an outage of ``real_outage`` seconds is shrunk
    to ``outage`` seconds: the backoff's base and cap, and the list of waits (``RASID_RETRY_SCHEDULE``)
    where the alert service has one; a setting the service does not have is ignored."""
    factor = real_outage / outage
    fields = AlertSettings.model_fields
    env = {
        "RASID_RETRY_BASE_SECONDS": f"{2.0 / factor:.4f}",
        "RASID_RETRY_CAP_SECONDS": f"{3600 / factor:.1f}",
    }
    if "retry_schedule" in fields:
        waits = [_seconds(step) / factor for step in str(fields["retry_schedule"].default).split(",")]
        env["RASID_RETRY_SCHEDULE"] = ",".join(f"{wait:.3f}" for wait in waits)
    return env


def recovery_budget(real_outage: float, outage: float) -> float:
    """How long a compressed outage may take to recover: the usual budget, plus the compressed wait
    that spans the end of the outage (the first retry after it heals can be that far away)."""
    fields = AlertSettings.model_fields
    if "retry_schedule" not in fields:
        return RECOVERY_SECONDS
    factor, elapsed = real_outage / outage, 0.0
    for step in str(fields["retry_schedule"].default).split(","):
        wait = _seconds(step) / factor
        elapsed += wait
        if elapsed > outage:
            return RECOVERY_SECONDS + wait
    return RECOVERY_SECONDS + wait


def _seconds(step: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    step = step.strip().lower()
    return float(step[:-1]) * units[step[-1]] if step[-1] in units else float(step)


class Hook:
    """The webhook receiver's behaviour, changed while the scenario runs: scripted answers first
    (one each), then the standing answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: list[Route] = []
        self.answer: Route = ACCEPT

    def script(self, *routes: Route) -> None:
        with self._lock:
            self._script.extend(routes)

    def __call__(self, request: Request) -> Reply:
        with self._lock:
            route = self._script.pop(0) if self._script else self.answer
        return route(request)


class Dropper:
    """Drops the articles into the watched folder one every ``DROP_EVERY`` seconds, each written
    aside and moved in, from a thread, so that faults hit a stream in flight."""

    def __init__(self, stack: Stack, articles: list[Article], *, every: float) -> None:
        self.stack, self.articles, self.every = stack, articles, every
        self.dropped = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        staging = self.stack.workdir / "staging"
        staging.mkdir(exist_ok=True)
        for article in self.articles:
            (staging / article.name).write_bytes(article.data)
            shutil.move(staging / article.name, self.stack.watch_dir / article.name)
            self.dropped += 1
            time.sleep(self.every)

    def wait(self, count: int) -> None:
        wait_for(lambda: self.dropped >= count, timeout=60, what=f"{count} articles dropped")


@dataclass
class Run:
    """One scenario's running parts, for its fault to break. In compose mode it also plays Docker's
    ``restart: unless-stopped``: a service process that exits is started again, unless the fault
    holds it down."""

    stack: Stack
    hook: Hook
    wire: WireLog
    smtp: RestartableSmtp
    receiver: HttpPeer
    dropper: Dropper
    redis: PrivateRedis | None = None
    proxy: TcpProxy | None = None
    notes: list[str] = field(default_factory=list)
    current: dict[str, str] = field(default_factory=dict)  # service -> name of its latest process
    down: set[str] = field(default_factory=set)
    envs: dict[str, Mapping[str, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def kill(self, service: str) -> None:
        """SIGKILL a service's process (and its pool) and hold it down until :meth:`release`."""
        with self.lock:
            self.down.add(service)
            self.stack.kill(self.current.get(service, service))

    def release(self, service: str, *, env: Mapping[str, str] | None = None) -> None:
        with self.lock:
            if env is not None:
                self.envs[service] = env
            self._start(service)
            self.down.discard(service)

    def _start(self, service: str) -> None:
        name = f"{service}#{sum(key.startswith(service) for key in self.stack.processes)}"
        saved = self.stack.env
        self.stack.env = {**saved, **self.envs.get(service, {})}
        try:
            self.stack.start(name, compose_commands()[service])
        finally:
            self.stack.env = saved
        self.current[service] = name

    def restart_exited(self) -> None:
        with self.lock:
            for service in compose_commands():
                name = self.current.get(service, service)
                process = self.stack.processes.get(name)
                if service in self.down or process is None or process.poll() is None:
                    continue
                self.notes.append(f"{service} exited ({process.returncode}) and was restarted")
                self._start(service)


@contextmanager
def restart_policy(run: Run) -> Iterator[None]:
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(0.5):
            run.restart_exited()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


Fault = Callable[[Run], None]


# ---- faults: each injects one fault while the articles flow and returns once it is healed ----


def holds(client: redis.Redis, task: str) -> bool:
    """Whether a worker has taken a message for ``task`` and not yet acknowledged it."""
    try:
        entries = client.hvals("unacked")
    except redis.RedisError:
        return False
    return any(json.loads(entry)[0]["headers"]["task"] == task for entry in entries)


def kill_holding(service: str, task: str) -> Fault:
    """SIGKILL a worker while it holds a message for ``task``, then start it again."""

    def fault(run: Run) -> None:
        assert run.redis is not None
        client = run.redis.client()
        wait_for(lambda: holds(client, task), timeout=90, interval=0.005, what=f"{service} holding {task}")
        run.kill(service)
        time.sleep(DOWNTIME)
        run.release(service)

    return fault


def kill_mid_send(run: Run) -> None:
    """SIGKILL the alert worker after the receiver took a webhook and before it answered."""
    run.hook.script(delayed(ACCEPT, 4.0))
    wait_for(run.wire.exchanges, timeout=120, what="a webhook on the wire")
    run.kill("alert-worker")
    time.sleep(DOWNTIME)
    run.release("alert-worker")


def kill_process(service: str, *, needs_sweeps: bool = False) -> Fault:
    """SIGKILL the watcher or beat while the articles flow, then start it again. With
    ``needs_sweeps``, the receiver fails its first answers, so retries depend on beat's sweeps."""

    def fault(run: Run) -> None:
        if needs_sweeps:
            run.hook.script(*[error(500)] * 4)
        run.dropper.wait(3)
        run.kill(service)
        time.sleep(DOWNTIME)
        run.release(service)

    return fault


def waiting(client: redis.Redis, queue: str, task: str) -> bool:
    """Whether a message for ``task`` waits in ``queue`` (beat's sweeps wait there too)."""
    try:
        entries = client.lrange(queue, 0, -1)
    except redis.RedisError:
        return False
    return any(json.loads(entry)["headers"]["task"] == task for entry in entries)


def restart_redis(run: Run) -> None:
    """Crash Redis while files' ingest messages wait in their queue, and start it again.

    The ingest worker is held down first: a burst travels in one batch message that a running worker
    takes within milliseconds, so only a queue without a consumer is sure to hold it when Redis dies.
    """
    assert run.redis is not None
    client = run.redis.client()
    run.kill("ingest-worker")
    wait_for(
        lambda: waiting(client, files_queue(machine_host_name()), INGEST_FILES),
        timeout=90,
        interval=0.002,
        what="ingest messages waiting",
    )
    run.redis.crash()
    time.sleep(DOWNTIME)
    run.redis.start()
    run.release("ingest-worker")


def cut_database(seconds: float) -> Fault:
    def fault(run: Run) -> None:
        assert run.proxy is not None
        run.dropper.wait(3)
        run.proxy.cut()
        time.sleep(seconds)
        run.proxy.restore()

    return fault


def smtp_down(seconds: float) -> Fault:
    def fault(run: Run) -> None:
        wait_for(run.smtp.sink.received, timeout=120, what="a first mail")
        run.smtp.stop()
        time.sleep(seconds)
        run.smtp.start()

    return fault


def receiver_answers(route: Route, seconds: float | None) -> Fault:
    """The receiver answers ``route`` to every webhook (for ``seconds``, or for good)."""

    def fault(run: Run) -> None:
        run.hook.answer = route
        if seconds is None:
            run.dropper.wait(len(run.dropper.articles))
            return
        time.sleep(seconds)
        run.hook.answer = ACCEPT

    return fault


def drip(run: Run) -> None:
    """The first webhook gets its answer one byte every 0.5 s (10 s in all: each read is quick, the
    whole outlasts the lease), while the worker's other process is free to pick up a re-dispatch."""
    run.hook.script(slow_drip(b"x" * 20, pause=0.5, content_type="text/plain"))
    wait_for(run.wire.exchanges, timeout=120, what="a webhook dripping")
    time.sleep(10)


def skew_beat(offset: str) -> Fault:
    """Beat restarted with its clock ``offset`` away (libfaketime), while retries need its sweeps."""

    def fault(run: Run) -> None:
        if not LIBFAKETIME.exists():
            unavailable("libfaketime (apt-get install faketime)", FileNotFoundError(LIBFAKETIME))
        run.hook.script(*[error(500)] * 4)
        run.dropper.wait(2)
        run.kill("beat")
        run.release(
            "beat",
            # The monotonic clock is skewed too: with only the wall clock faked, libfaketime hands
            # Python's sleep an absolute deadline in the past, and every sleep fails with EINVAL.
            env={"LD_PRELOAD": str(LIBFAKETIME), "FAKETIME": offset},
        )
        run.dropper.wait(len(run.dropper.articles))

    return fault


def fill_disk(seconds: float) -> Fault:
    """Fill the data folder's file system (SQLite and the file broker live there), then free it."""

    def fault(run: Run) -> None:
        wait_for(run.smtp.sink.received, timeout=120, what="a first mail: the stack is up and flowing")
        filler = Path(run.stack.env["RASID_DATA_DIR"]) / "filler"
        with filler.open("wb", buffering=0) as handle, contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 65536)
        time.sleep(seconds)
        filler.unlink()

    return fault


# A dropped file travels in ingest.ingest_files (a batch) or, from a queue of an older version,
# ingest.ingest_file.
RECEIVED = re.compile(r"Task ingest\.ingest_files?\[([0-9a-f-]+)\] received")
SUCCEEDED = re.compile(r"Task ingest\.ingest_files?\[([0-9a-f-]+)\] succeeded")


def kill_embedded_worker(run: Run) -> None:
    """SIGKILL ``rasid run``'s ingest worker while it has an ingest message taken and unfinished;
    the supervisor starts it again."""
    log = run.stack.workdir / "run.log"

    def busy() -> bool:
        text = log.read_text(encoding="utf-8", errors="replace")
        return bool(set(RECEIVED.findall(text)) - set(SUCCEEDED.findall(text)))

    wait_for(busy, timeout=120, interval=0.005, what="the ingest worker holding a message")
    supervisor = run.stack.processes["run"].pid
    [worker] = [pid for pid, args in children(supervisor) if args[-2:] == ["worker", "ingest"]]
    os.killpg(worker, 9)


def children(pid: int) -> list[tuple[int, list[str]]]:
    """The child processes of ``pid``, with their command lines."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            args = Path(f"/proc/{child}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
            found.append((int(child), [arg.decode() for arg in args]))
    return found


def nothing(run: Run) -> None:
    """No fault: the baseline every other row is read against."""
    run.dropper.wait(len(run.dropper.articles))


# ---- the scenarios ----


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: Fault
    mode: str = "compose"  # or "embedded": rasid run, SQLite and the file broker
    env: Mapping[str, str] = field(default_factory=dict)
    expectation: Expectation = field(default_factory=Expectation)
    persistent_redis: bool = False
    database_proxy: bool = False
    tmpfs_data: bool = False
    drop_every: float = DROP_EVERY  # 0: every article at once (messages pile up in the queues)
    budget: float = RECOVERY_SECONDS
    # A failure seen in some runs and not understood yet: reported (xfail, not strict), never hidden.
    known_failure: str | None = None


SCENARIOS = [
    Scenario("no fault", nothing),
    Scenario("SIGKILL ingest worker (ingest)", kill_holding("ingest-worker", INGEST_FILES)),
    Scenario(
        "SIGKILL classify worker (classify)", kill_holding("classify-worker", "classifier.classify_articles")
    ),
    Scenario("SIGKILL alert worker (store)", kill_holding("alert-worker", "alert.store_classified_batch")),
    Scenario(
        "SIGKILL alert worker (deliver, mid-send)", kill_mid_send, expectation=Expectation(mid_send=True)
    ),
    Scenario("SIGKILL watcher", kill_process("watcher")),
    Scenario("SIGKILL beat", kill_process("beat", needs_sweeps=True)),
    Scenario("Redis restart, no persistence", restart_redis, drop_every=0),
    Scenario(
        "Redis restart, append-only file",
        restart_redis,
        persistent_redis=True,
        drop_every=0,
    ),
    # Tasks that lost the database retry with exponential backoff (up to 2**n s, full jitter): after a
    # 20 s outage the sixth retry can be 64 s away, so the ledger waits that long on top.
    Scenario(
        "PostgreSQL down 60 s (20 s)", cut_database(20), database_proxy=True, budget=RECOVERY_SECONDS + 64
    ),
    Scenario(
        "SMTP down 10 min (20 s)",
        smtp_down(20),
        env=compressed(600, 20),
        budget=recovery_budget(600, 20),
    ),
    Scenario(
        "webhook 500 for 1 h (20 s)",
        receiver_answers(error(500), 20),
        env=compressed(3600, 20),
        budget=recovery_budget(3600, 20),
    ),
    Scenario(
        "webhook 410", receiver_answers(error(410), None), expectation=Expectation(webhook_delivered=False)
    ),
    Scenario(
        "webhook redirect",
        receiver_answers(redirect("/elsewhere", status=302), None),
        expectation=Expectation(webhook_delivered=False),
    ),
    Scenario(
        "webhook 30 s drip (10 s)",
        drip,
        env={"RASID_WEBHOOK_TIMEOUT": "1", "RASID_SMTP_TIMEOUT": "1", "RASID_DELIVERY_LEASE_SECONDS": "3"},
        expectation=Expectation(mid_send=True),
    ),
    Scenario("beat clock 1 h behind", skew_beat("-1h")),
    # A send whose outcome cannot be recorded (the database file cannot grow) is sent again: a fault
    # that hits between a send and its record, so a duplicate on the wire is allowed and counted.
    Scenario(
        "disk full under data (embedded)",
        fill_disk(15),
        mode="embedded",
        tmpfs_data=True,
        expectation=Expectation(mid_send=True),
    ),
    # The fault waits for Celery's "received" line without its "succeeded": both are DEBUG lines.
    Scenario(
        "embedded: SIGKILL ingest worker mid-message",
        kill_embedded_worker,
        mode="embedded",
        env={"RASID_LOG_LEVEL": "DEBUG"},
    ),
]


def params() -> list[Any]:
    """One test per scenario, named after it."""
    return [
        pytest.param(
            scenario,
            id=scenario.name,
            marks=[pytest.mark.xfail(reason=scenario.known_failure, strict=False)]
            if scenario.known_failure
            else [],
        )
        for scenario in SCENARIOS
    ]


@contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[None]:
    """A small file system of its own at ``folder``, so that filling it fills nothing else."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        unavailable("a tmpfs mount (root, mount -t tmpfs)", OSError(mounted.stderr.strip()))
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@contextmanager
def database(scenario: Scenario, workdir: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """The URL the stack uses and the URL the ledger reads (the same but for a proxy in between)."""
    if scenario.mode == "embedded":
        url = f"sqlite:///{workdir / 'data' / 'rasid.db'}"
        yield "", url
        return
    real: str = request.getfixturevalue("fresh_postgres_url")
    if not scenario.database_proxy:
        yield real, real
        return
    host_port = re.search(r"@([^/:]+):(\d+)/", real)
    assert host_port, real
    with tcp_proxy((host_port.group(1), int(host_port.group(2)))) as proxy:
        request.node.proxy = proxy
        yield real.replace(f"@{host_port.group(1)}:{host_port.group(2)}/", f"@127.0.0.1:{proxy.port}/"), real


def observe(engine: Any, run: Run) -> Snapshot:
    """What came out so far: the database's rows and what the peers received."""
    titles, topics, channels, alerts = read_database(engine)
    message_ids = [str(mail.message["Message-ID"]) for mail in run.smtp.sink.received()]
    return Snapshot(titles, topics, channels, alerts, run.wire.exchanges(), mail_alert_ids(message_ids))


def settle(judge_now: Callable[[], Verdict], *, budget: float) -> tuple[Verdict, float | None]:
    """Judge until the ledger is satisfied and stays so for ``QUIET_SECONDS``, or the budget ends."""
    start = time.monotonic()
    satisfied_at: float | None = None
    while True:
        try:
            verdict = judge_now()
        except Exception as problem:  # the database may still be coming back
            verdict = Verdict(problems=[f"ledger unreadable: {problem}"])
        now = time.monotonic()
        if verdict.problems:
            satisfied_at = None
        elif satisfied_at is None:
            satisfied_at = now
        elif now - satisfied_at >= QUIET_SECONDS:
            return verdict, satisfied_at - start
        if now - start > budget:
            return verdict, None
        time.sleep(0.5)


@pytest.mark.parametrize("scenario", params())
def test_fault(
    scenario: Scenario,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    fault_table: FaultTable,
) -> None:
    articles = load_articles(ARTICLES)
    with ExitStack() as resources:
        if scenario.mode == "compose":
            request.getfixturevalue("postgres_admin_url")
        if scenario.tmpfs_data:
            resources.enter_context(tmpfs(tmp_path / "data", "48m"))
        stack_url, ledger_url = resources.enter_context(database(scenario, tmp_path, request))
        smtp = resources.enter_context(restartable_smtp())
        receiver = resources.enter_context(http_peer(fallback=ACCEPT))
        broker = None
        if scenario.mode == "compose":
            persistent = scenario.persistent_redis
            broker = resources.enter_context(private_redis(tmp_path / "redis", persistent=persistent))
        env = stack_env(
            workdir=tmp_path,
            database_url=stack_url,
            broker_url=broker.url if broker else "filesystem://",
            extra={
                "RASID_SMTP_HOST": smtp.sink.host,
                "RASID_SMTP_PORT": str(smtp.sink.port),
                "RASID_CACHE_DIR": str(request.getfixturevalue("classifier_cache")),
                **FAST,
                **scenario.env,
            },
        )
        starter = compose_stack if scenario.mode == "compose" else embedded_stack
        stack = resources.enter_context(starter(env, tmp_path))
        hook, wire = Hook(), WireLog()
        receiver.route("/hook", wire.recording(hook))
        wait_for(
            lambda: commands.run(ledger_url, "subscriptions", "list").exit_code == 0,
            timeout=120,
            what="the database",
        )
        # The receivers listen on 127.0.0.1, which subscribing may refuse unless told otherwise.
        monkeypatch.setenv("RASID_ALLOW_PRIVATE_TARGETS", "true")
        hook_url = receiver.url("/hook")
        commands.json_rows(ledger_url, "subscribe", "webhook", hook_url, "--topics", WEBHOOK_TOPICS)
        commands.json_rows(ledger_url, "subscribe", "email", "analyst@example.org", "--topics", EMAIL_TOPICS)

        dropper = Dropper(stack, articles, every=scenario.drop_every)
        run = Run(stack, hook, wire, smtp, receiver, dropper, broker, getattr(request.node, "proxy", None))
        if scenario.mode == "compose":
            resources.enter_context(restart_policy(run))
        dropper.thread.start()
        scenario.fault(run)
        dropper.thread.join()

        engine = engine_for(ledger_url)
        resources.callback(engine.dispose)
        titles = [article.title for article in articles]
        verdict, recovered_in = settle(
            lambda: judge(titles, observe(engine, run), scenario.expectation), budget=scenario.budget
        )
        fault_table.add(scenario.name, verdict, recovered_in, run.notes)
        if verdict.problems or receiver.received("/elsewhere"):
            print(stack.logs(tail=20000))
        assert not receiver.received("/elsewhere"), "a webhook redirect was followed"
        assert verdict.problems == []
