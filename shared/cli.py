"""The ``rasid`` command.

The commands that run processes live here (``run``, ``worker``, ``beat``, ``db upgrade``); each service
adds its own commands through the ``rasid.commands`` entry point group, loaded only when invoked so
that ``rasid classify`` starts fast. Which workers exist, and what beat sends, comes from the services'
declarations (:mod:`shared.services`), also loaded only when needed; so are the settings
(:mod:`shared.settings`, pydantic-settings), which only the commands that run processes read here.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

import click

from shared.errors import ConfigurationError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

COMMANDS_GROUP = "rasid.commands"
# A worker's blocks of this size or more are mapped apart (see _map_large_blocks_apart); glibc's
# starting value, held there. M_MMAP_THRESHOLD is mallopt's parameter number, from <malloc.h>.
MMAP_THRESHOLD_BYTES = 128 * 1024
M_MMAP_THRESHOLD = -3
# httpx's own command-line client, which httpx imports with itself whenever click is installed (as
# Rasid's is): rich and pygments, 3.5 MB in every process that sends a webhook or reads a feed (the
# alert worker and each of its pool children among them). No Rasid process runs it.
HTTPX_COMMAND_LINE = "httpx._main"
# The distribution that ships ``shared``. A command is looked for in its entry points first, read
# from its own metadata folder: reading every installed distribution's metadata costs ``rasid
# classify`` about 2% of its start-up, and importing importlib.metadata (with the email, zipfile and
# csv modules it imports) another 13% (79M of its 620M instructions).
OWN_DISTRIBUTION = "rasid"
# How the metadata folder of an installed distribution is named: ``rasid-0.1.0.dist-info`` for a
# wheel or an editable install, ``rasid.egg-info`` in a source tree installed the older way.
METADATA_FOLDER_SUFFIXES = (".dist-info", ".egg-info")


class PluginGroup(click.Group):
    """A group whose service commands come from entry points, imported on first use."""

    def _plugins(self) -> dict[str, EntryPoint]:
        from importlib.metadata import entry_points

        return {point.name: point for point in entry_points(group=COMMANDS_GROUP)}

    def _plugin(self, name: str) -> tuple[str, object] | None:
        """Command ``name`` loaded, with where it is (``module:attribute``): Rasid's own, else one
        another distribution adds."""
        own = _own_entry_points(COMMANDS_GROUP)
        if own is not None and name in own:
            return own[name], _load_entry_point(own[name])
        # Not Rasid's, or run from a source tree that is not installed: every distribution is read.
        point = self._plugins().get(name)
        return None if point is None else (point.value, point.load())

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        plugin = self._plugin(cmd_name)
        if plugin is None:
            return None
        value, loaded = plugin
        if not isinstance(loaded, click.Command):
            raise click.ClickException(f"entry point {value} is not a click command")
        return loaded


@click.group(cls=PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Rasid: watch Arabic news, tag it by topic, alert subscribers."""


class WorkerName(click.ParamType[str]):
    """The name of an installed worker; the names are looked up only when the command runs."""

    name = "worker"

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "{" + "|".join(_worker_names()) + "}"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        names = _worker_names()
        if value not in names:
            self.fail(f"{value!r} is not one of {', '.join(map(repr, names))}", param, ctx)
        return value


@cli.command()
def run() -> None:
    """Start the whole stack (every worker, beat and the processes services add) and supervise it;
    Ctrl-C stops it."""
    from shared.settings import base_settings
    from shared.supervisor import run_stack

    configure_process_logging()
    sys.exit(run_stack(base_settings()))


@cli.command()
@click.argument("name", type=WorkerName())
@click.option("--concurrency", "-c", type=click.IntRange(1, 64), default=2, show_default=True)
def worker(name: str, concurrency: int) -> None:
    """Run one service's Celery worker on the queues its service declares."""
    from celery.utils.nodenames import host_format

    from shared.services import workers
    from shared.settings import EMBEDDED_BROKER_URL, base_settings

    configure_process_logging()
    _map_large_blocks_apart()
    declared = workers()[name]
    settings = base_settings()
    if settings.broker_url.startswith(EMBEDDED_BROKER_URL):
        # The file broker carries no remote control (ping): rasid status reads heartbeats instead.
        from shared.heartbeat import heartbeat_folder, keep_heartbeat

        keep_heartbeat(heartbeat_folder(settings), name)
    app = declared.load_app()
    # Started as Celery's own `celery worker` command starts it, without loading that command: its
    # command line (click-repl, prompt-toolkit) is 10 MB in the worker and in each of its pool children.
    started = app.Worker(
        hostname=host_format(f"{name}@%h"),
        queues=list(declared.consumed_queues()),
        concurrency=concurrency,
        loglevel=settings.log_level,
        # No startup banner on stdout: the configuration is the environment's, and the logs say "ready".
        quiet=True,
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
    )
    started.start()
    sys.exit(started.exitcode)


@cli.command()
def beat() -> None:
    """Run Celery beat: sends every service's periodic tasks at the intervals its settings give."""
    from shared.celery_app import create_celery_app
    from shared.heartbeat import keep_process_alive
    from shared.services import BEAT, beat_schedule
    from shared.settings import base_settings

    configure_process_logging()
    settings = base_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_celery_app("beat", settings)
    app.conf.beat_schedule = beat_schedule()
    keep_process_alive(settings, BEAT)
    schedule = settings.data_dir.resolve() / "beat-schedule"
    # As `celery beat` starts it, without loading Celery's command line (see ``worker``).
    app.Beat(
        scheduler="shared.beat:ClockSafeScheduler",
        schedule=str(schedule),
        loglevel=settings.log_level,
        quiet=True,
    ).run()


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
def status(as_json: bool) -> None:
    """Is Rasid healthy? Workers alive, queue depths, recent articles and alerts, failing feeds,
    rejected files, database and broker. Exits 0 when healthy, 1 when something needs attention."""
    from shared.commands import echo_json
    from shared.db import utc_now
    from shared.settings import base_settings
    from shared.status import collect_status, render_text

    report = collect_status(base_settings(), now=utc_now())
    if as_json:
        echo_json(report.as_json())
    else:
        for line in render_text(report):
            click.echo(line)
    sys.exit(0 if report.healthy else 1)


@cli.group()
def db() -> None:
    """Manage the database schema."""


@db.command()
def upgrade() -> None:
    """Create or upgrade every service's tables (Alembic migrations)."""
    from shared.migrations import upgrade_all
    from shared.settings import base_settings

    configure_process_logging()
    upgraded = upgrade_all(base_settings().resolved_database_url)
    click.echo(f"database upgraded: {', '.join(upgraded)}")


def _map_large_blocks_apart() -> None:
    """Have the C allocator map each block of ``MMAP_THRESHOLD_BYTES`` or more apart, so that its pages
    go back to the system when it is freed. glibc raises that threshold to the largest block freed so
    far (up to 32 MB): once a few batch messages (a megabyte or more each, read, decoded and handed to
    a pool child) had come and gone, the next ones came from the heap, which kept their pages. Set in
    the worker's main process, before the pool forks, so its children have it too."""
    import ctypes  # only here: 8M instructions of every command's start

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except AttributeError:  # not glibc (macOS): its allocator is left as it is
        return
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def _own_entry_points(group: str) -> dict[str, str] | None:
    """The entry points of ``group`` in Rasid's own distribution, name to ``module:attribute``, read
    from the first of its metadata folders on ``sys.path`` (where importlib.metadata looks first);
    None when Rasid is not installed."""
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue  # a zip file, a path hook's placeholder or a folder gone
        for entry in names:
            if entry.endswith(METADATA_FOLDER_SUFFIXES) and _distribution_name(entry) == OWN_DISTRIBUTION:
                return _entry_points_in(Path(folder, entry, "entry_points.txt"), group)
    return None


def _load_entry_point(value: str) -> object:
    """The object an entry point's ``module:attribute [extras]`` names, as EntryPoint.load finds it."""
    module, _, attribute = value.partition("[")[0].partition(":")
    loaded: object = import_module(module.strip())
    for name in filter(None, attribute.strip().split(".")):
        loaded = getattr(loaded, name)
    return loaded


def _distribution_name(metadata_folder: str) -> str:
    """``rasid`` of ``rasid-0.1.0.dist-info`` or ``rasid.egg-info``, compared as importlib.metadata
    compares names (lower case, ``-`` and ``.`` as ``_``)."""
    stem = metadata_folder.rpartition(".")[0].partition("-")[0]
    return stem.lower().replace(".", "_")


def _entry_points_in(path: Path, group: str) -> dict[str, str]:
    """The entry points of ``group`` in an ``entry_points.txt`` (INI: ``[group]`` then
    ``name = value`` lines); none when the file is missing."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    points: dict[str, str] = {}
    section = None
    for line in map(str.strip, lines):
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line and not line.startswith(("#", ";")):
            name, _, value = line.partition("=")
            points[name.strip()] = value.strip()
    return points


def _worker_names() -> list[str]:
    from shared.services import workers

    return list(workers())


def configure_process_logging() -> None:
    """Check every setting, then send logs to stderr: each long-running command starts with this."""
    from shared.logs import configure_logging
    from shared.settings import base_settings, check_all_settings

    check_all_settings()
    settings = base_settings()
    configure_logging(settings.log_level, settings.log_format)


def _without_httpx_command_line() -> None:
    """Have httpx leave out its command-line client (:data:`HTTPX_COMMAND_LINE`): httpx imports it
    in a ``try`` and, on an ImportError, which a module set to None in ``sys.modules`` gives, defines
    ``httpx.main`` as a stub that says the client is not installed. Nothing else changes in httpx."""
    sys.modules.setdefault(HTTPX_COMMAND_LINE, None)  # type: ignore[arg-type]  # None: not importable


def main() -> None:
    """Console entry point: configuration errors end with their message, not a traceback."""
    _without_httpx_command_line()
    try:
        cli(standalone_mode=True)
    except ConfigurationError as error:
        click.echo(f"rasid: {error}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
