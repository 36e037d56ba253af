"""The ingest service's commands, plugged into ``rasid``: ``rasid watch`` and ``rasid feeds ...``.

The feed commands import the feed reader (feedparser, httpx) themselves: ``rasid watch`` runs for as
long as Rasid does and reads no feed.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from types import FrameType

import click
from kombu.exceptions import OperationalError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest_service.errors import IngestError, WatchFolderError
from ingest_service.ledger import FileVersion, recorded_files
from ingest_service.models import Feed, SeenFile
from ingest_service.paths import decoded_path, path_from_text
from ingest_service.schemas import FeedDue, FileReady, FilesReady
from ingest_service.service import WATCHER, files_queue
from ingest_service.settings import IngestSettings, ingest_settings
from ingest_service.watcher import FolderWatcher, WatchConfig, check_folders
from shared.commands import command_session, echo_json_lines, fields_of, json_option, printable
from shared.db import session_scope
from shared.logs import configure_logging
from shared.settings import load_settings
from shared.task_names import INGEST_FILES, POLL_FEED

# What ``--json`` prints of each feed and each dropped file.
FEED_FIELDS = (
    "id",
    "url",
    "title",
    "active",
    "added_at",
    "last_polled_at",
    "last_success_at",
    "last_error",
    "error_count",
)
SEEN_FILE_FIELDS = ("id", "path", "status", "article_id", "reason", "size", "sha256", "seen_at")


@click.command()
def watch() -> None:
    """Watch RASID_WATCH_DIR and hand the complete dropped files, in batches, to this host's ingest
    workers (the queue named after RASID_HOST_NAME)."""
    from shared.celery_app import producer, send_message  # Celery is loaded only for this command
    from shared.heartbeat import keep_process_alive

    settings = ingest_settings()
    configure_logging(settings.log_level, settings.log_format)
    config = WatchConfig.from_settings(settings)
    try:
        check_folders(config)
    except WatchFolderError as error:
        raise click.ClickException(str(error)) from error

    # The paths are this host's: only this host's ingest workers can read them.
    queue = files_queue(settings.host_name)

    def submit(batch: Sequence[FileReady]) -> None:
        send_message(producer(), INGEST_FILES, FilesReady(files=tuple(batch)), queue=queue)

    def recorded(paths: Sequence[str]) -> set[FileVersion]:
        with session_scope(settings.resolved_database_url) as session:
            return recorded_files(session, paths)

    watcher = FolderWatcher(config, submit, recorded=recorded)
    keep_process_alive(settings, WATCHER)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        watcher.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"watching {watcher.watch_dir} (rejected files go to {watcher.rejected_dir})")
    watcher.run()


@click.group()
def feeds() -> None:
    """Manage the RSS/Atom feeds Rasid polls."""


@feeds.command("add")
@click.argument("url")
def feeds_add(url: str) -> None:
    """Add the feed at URL and ask for a first poll now; beat polls it on schedule after that."""
    from ingest_service.feeds import add_feed
    from shared.celery_app import producer, send_message  # Celery is loaded only for this command
    from shared.net import TargetPolicy

    with _session() as session:
        policy = TargetPolicy.from_settings(load_settings(IngestSettings))
        feed = add_feed(session, url, policy=policy)
        feed_id, feed_url = feed.id, feed.url
    click.echo(f"feed {feed_id}: {printable(feed_url)}")
    try:
        send_message(producer(), POLL_FEED, FeedDue(feed_id=feed_id), retry=False)
    except OperationalError as error:
        click.echo(f"broker not reachable ({error}); the feed is polled at the next schedule", err=True)


@feeds.command("list")
@json_option
def feeds_list(as_json: bool) -> None:
    """Show each feed with its last poll and last error."""
    from ingest_service.feeds import list_feeds

    with _session() as session:
        rows = list_feeds(session)
        if as_json:
            echo_json_lines(fields_of(feed, FEED_FIELDS) for feed in rows)
            return
        if not rows:
            click.echo("no feeds; add one with: rasid feeds add URL")
        for feed in rows:
            click.echo(describe_feed(feed))


@feeds.command("remove")
@click.argument("key", metavar="URL|ID")
def feeds_remove(key: str) -> None:
    """Remove the feed with this URL or id."""
    from ingest_service.feeds import remove_feed

    with _session() as session:
        feed = remove_feed(session, key)
        click.echo(f"removed feed {feed.id}: {printable(feed.url)}")


def describe_feed(feed: Feed) -> str:
    """One feed as a few readable lines."""
    state = "active" if feed.active else "paused"
    polled = feed.last_polled_at.isoformat(timespec="seconds") if feed.last_polled_at else "never"
    success = feed.last_success_at.isoformat(timespec="seconds") if feed.last_success_at else "never"
    lines = [f"{feed.id}  {printable(feed.url)}  [{state}]", f"    title: {printable(feed.title or '-')}"]
    lines.append(f"    last poll: {polled}   last success: {success}")
    if feed.last_error:
        lines.append(f"    last error ({feed.error_count} in a row): {printable(feed.last_error)}")
    return "\n".join(lines)


@click.group()
def files() -> None:
    """Show the ledger of dropped files."""


@files.command("list")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@json_option
def files_list(limit: int, as_json: bool) -> None:
    """The files seen, newest first, with what became of each (ingested, duplicate, rejected)."""
    with _session() as session:
        statement = select(SeenFile).order_by(SeenFile.seen_at.desc(), SeenFile.id.desc()).limit(limit)
        rows = list(session.scalars(statement))
    if as_json:
        echo_json_lines(fields_of(seen, SEEN_FILE_FIELDS) for seen in rows)
        return
    for seen in rows:
        detail = f"  ({printable(seen.reason)})" if seen.reason else ""
        seen_at = seen.seen_at.isoformat(timespec="seconds")
        path = printable(decoded_path(path_from_text(seen.path)))  # a name not in UTF-8 shows \xNN
        click.echo(f"{seen_at}  {seen.status:<9}  {path}{detail}")


def _session() -> AbstractContextManager[Session]:
    """A session on a current schema; the ingest service's errors end the command with their message."""
    return command_session(IngestSettings, errors=(IngestError,))


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--alerts/--no-alerts",
    default=None,
    help="Alert on the imported articles, or store and tag them only. "
    "Default: alert only on articles dated within the last week.",
)
def import_command(paths: tuple[Path, ...], alerts: bool | None) -> None:
    """Import a folder tree, .zip or .tar.gz archives, or JSON lines files (id, title, text, and
    optionally source, url, published) through the pipeline. Ctrl-C stops; a second run resumes."""
    from ingest_service.import_run import ImportRun  # Celery is loaded only for this command

    with _session():  # stops the command with a message unless the schema is current
        pass
    settings = load_settings(IngestSettings)
    configure_logging(settings.log_level, settings.log_format)
    run = ImportRun(settings, alerts=alerts)
    previous = signal.signal(signal.SIGINT, lambda _signum, _frame: run.stop())
    try:
        run.run(list(paths))
    except IngestError as error:
        raise click.ClickException(str(error)) from error
    finally:
        signal.signal(signal.SIGINT, previous)
    click.echo(run.tally.summary(stopped=run.stopped))
