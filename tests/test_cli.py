"""The ``rasid`` command: service commands come from ``rasid.commands`` entry points, Rasid's own
found in its own distribution and any other distribution's by reading every one; a bad setting ends
with ``rasid: <message>`` and exit status 2."""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import sys
import textwrap
import time
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from click.testing import CliRunner

from shared.cli import _load_entry_point, _own_entry_points, cli


def _install_extra_commands(root: Path) -> None:
    """A distribution on ``sys.path`` that adds ``rasid hello`` and tries to take ``rasid classify``."""
    dist_info = root / "rasid_hello-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: rasid-hello\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(
        "[rasid.commands]\nhello = hello_commands:hello\nclassify = hello_commands:hello\n"
    )
    (root / "hello_commands.py").write_text(
        textwrap.dedent(
            """
            import click

            @click.command()
            def hello() -> None:
                \"\"\"Say hello.\"\"\"
                click.echo("hello from another distribution")
            """
        )
    )


def test_a_command_of_another_distribution_is_listed_and_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_extra_commands(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))

    listed = CliRunner().invoke(cli, ["--help"])
    hello = CliRunner().invoke(cli, ["hello"])
    classify = CliRunner().invoke(cli, ["classify", "--help"])

    assert "hello" in listed.output and "classify" in listed.output
    assert hello.exit_code == 0 and hello.output == "hello from another distribution\n"
    assert classify.exit_code == 0 and "--jsonl" in classify.output, "Rasid's own command comes first"


def test_rasids_own_command_is_found_without_reading_every_distribution(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from shared.cli import main\n"
        "sys.argv = ['rasid', 'classify', '--help']\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    print(sorted({'importlib.metadata', 'ctypes'} & set(sys.modules)), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0 and "--jsonl" in result.stdout, result.stderr
    assert result.stderr.strip() == "[]", "read from Rasid's own entry_points.txt"


def test_rasids_own_entry_points_are_read_from_a_source_trees_egg_info(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_extra_commands(tmp_path)
    (tmp_path / "rasid.egg-info").mkdir()
    (tmp_path / "rasid.egg-info" / "entry_points.txt").write_text(
        "[console_scripts]\nrasid = shared.cli:main\n\n[rasid.commands]\nclassify = a.b:c\nbench=a.b:d\n"
    )
    monkeypatch.setattr(sys, "path", [str(tmp_path / "missing"), str(tmp_path)])

    assert _own_entry_points("rasid.commands") == {"classify": "a.b:c", "bench": "a.b:d"}
    assert _own_entry_points("rasid.pages") == {}
    monkeypatch.setattr(sys, "path", [str(tmp_path / "missing")])
    assert _own_entry_points("rasid.commands") is None, "not installed: every distribution is read"


@pytest.mark.parametrize("value", ["os.path:join", "os:path.join", "os.path:join [extra]"])
def test_an_entry_point_is_loaded_as_importlib_metadata_loads_it(value: str) -> None:
    assert _load_entry_point(value) is EntryPoint("name", value, "group").load() is os.path.join


def test_an_unknown_command_is_refused() -> None:
    result = CliRunner().invoke(cli, ["no-such-command"])

    assert result.exit_code == 2 and "No such command 'no-such-command'" in result.output


@pytest.mark.parametrize(
    ("command", "setting", "value"),
    [
        (["status"], "RASID_BROKER_URL", "ftp://nowhere"),
        # Every service's settings are checked at start: another service's bad value stops a worker too.
        (["worker", "classify"], "RASID_SMTP_PORT", "not-a-port"),
    ],
)
def test_a_bad_setting_ends_with_its_message(
    tmp_path: Path, command: list[str], setting: str, value: str
) -> None:
    env = {**os.environ, "RASID_BROKER_URL": "memory://", setting: value}
    result = subprocess.run(
        [sys.executable, "-m", "shared", *command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr.startswith(f"rasid: invalid configuration: {setting}"), result.stderr
    assert "Traceback" not in result.stderr


# The alert worker sends webhooks with httpx, whose own command-line client (rich, pygments) is left out.
@pytest.mark.parametrize("name", ["classify", "alert"])
def test_a_worker_starts_on_its_queues_without_loading_command_lines(name: str, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RASID_")}
    env.update(
        RASID_BROKER_URL="filesystem://",
        RASID_DATA_DIR=str(tmp_path / "data"),
        RASID_WATCH_DIR=str(tmp_path / "inbox"),
        RASID_LOG_LEVEL="INFO",
        # Every module the process imports, listed on stderr.
        PYTHONPROFILEIMPORTTIME="1",
    )
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "shared", "worker", name, "--concurrency", "1"],
            env=env,
            stderr=output,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60  # so a worker that never starts fails instead of hanging
        while " ready." not in log.read_text(errors="replace"):
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

    text = log.read_text(errors="replace")
    assert f"{name}@{socket.gethostname()} ready." in text
    imported = {
        line.rsplit("|", 1)[-1].strip() for line in text.splitlines() if line.startswith("import time:")
    }
    assert "celery.bin" not in imported and "prompt_toolkit" not in imported
    assert "rich" not in imported and "pygments" not in imported


# Blocks of a few batch messages in flight at once, freed below something that outlives them, after a
# larger block has raised glibc's threshold: how much RSS the process keeps afterwards, in MB.
KEPT_AFTER_MESSAGES = """
import os, sys
from shared import cli
def rss():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS")) / 1024
if sys.argv[1] == "mapped":
    cli._map_large_blocks_apart()
large = bytearray(8 * 1024 * 1024)
del large
start, kept = rss(), []
for _ in range(10):
    messages = [bytearray(2 * 1024 * 1024) for _ in range(5)]
    kept.append(bytearray(100_000))
    del messages
print(rss() - start)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")
def test_a_worker_gives_the_pages_of_large_freed_blocks_back() -> None:
    def kept(mode: str) -> float:
        result = subprocess.run(
            [sys.executable, "-c", KEPT_AFTER_MESSAGES, mode], capture_output=True, text=True, check=True
        )
        return float(result.stdout)

    assert kept("mapped") < 4 < kept("heap"), "50 MB of messages went through: at most a few MB kept"
