"""Every make target runs commands that exist: ``make -n`` prints each target's commands (with
``-B``, the install steps too), and each program, ``python -m`` module, path and ``rasid``
subcommand they name is checked, so a target cannot point at something renamed or removed."""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from shared.cli import cli as rasid

ROOT = Path(__file__).resolve().parent.parent
MAKEFILE = ROOT / "Makefile"
# Commands whose arguments need not exist yet: they are what the command removes.
REMOVERS = {"rm"}


def phony_targets() -> list[str]:
    """The targets the Makefile declares .PHONY: the ones people type."""
    found = re.search(r"^\.PHONY:(.*)$", MAKEFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert found, "the Makefile declares its targets .PHONY"
    return found.group(1).split()


def dry_run(target: str) -> list[list[str]]:
    """The commands ``make TARGET`` would run, split into words; the virtualenv is this one."""
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", target, f"VENV={sys.prefix}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [shlex.split(line) for line in result.stdout.splitlines() if line.strip()]


def problems_of(words: list[str]) -> list[str]:
    """What, in one command, names a program, module, path or subcommand that does not exist."""
    program, args = words[0], words[1:]
    found = (ROOT / program).exists() if "/" in program else shutil.which(program) is not None
    problems = [] if found else [f"no program {program}"]
    if Path(program).name == "rasid":
        return problems + rasid_problems(args)
    if "-m" in args and Path(program).name.startswith("python"):  # pytest's -m selects markers
        module = args[args.index("-m") + 1]
        if not module_exists(module):
            problems.append(f"no module {module}")
        args = args[args.index("-m") + 2 :]
    if Path(program).name not in REMOVERS:
        problems += [f"no path {arg}" for arg in args if looks_like_path(arg) and not path_exists(arg)]
    return problems


def module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def looks_like_path(arg: str) -> bool:
    return not arg.startswith("-") and "://" not in arg and ("/" in arg or arg.startswith("."))


def path_exists(arg: str) -> bool:
    # pip's ".[dev]" is the project folder with extras.
    return (ROOT / re.sub(r"\[.*\]$", "", arg)).exists()


def rasid_problems(args: list[str]) -> list[str]:
    """Follow ``rasid`` subcommands down the real click group, then parse the options left."""
    command: click.Command = rasid
    context = click.Context(rasid)
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        found = command.get_command(context, args[0])
        if found is None:
            return [f"no rasid command {args[0]!r} in {command.name}"]
        command, args = found, args[1:]
    try:
        command.make_context(command.name or "rasid", list(args))
    except click.ClickException as error:
        return [f"rasid {command.name}: {error.format_message()}"]
    return []


@pytest.mark.parametrize("target", phony_targets())
def test_each_target_runs_commands_that_exist(target: str) -> None:
    commands = dry_run(target)
    assert commands, f"make {target} runs nothing"
    problems = [f"{shlex.join(words)}: {problem}" for words in commands for problem in problems_of(words)]
    assert problems == []


def test_bench_runs_the_pipeline_benchmark() -> None:
    assert ["-m", "benchmarks.pipeline"] in [words[1:3] for words in dry_run("bench")]


def test_a_missing_module_or_command_is_caught() -> None:
    assert problems_of([sys.executable, "-m", "tests.bench.pipeline"]) == ["no module tests.bench.pipeline"]
    assert problems_of([f"{sys.prefix}/bin/rasid", "bench", "pipeline"]) == [
        "no rasid command 'pipeline' in bench"
    ]
    assert problems_of(["touch", "no/such/file"]) == ["no path no/such/file"]
