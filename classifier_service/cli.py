"""Command line of the classifier service, plugged into ``rasid`` through entry points.

``rasid classify`` tags files or JSON lines (one JSON line out per article, flushed, so it works as
a filter; an article too long to classify is named on stderr with the reason, the others are still
tagged, and the command exits with 1), or with ``--evaluate`` scores a labeled file. ``rasid bench
classify`` measures speed and memory. Imports are lazy so the command starts fast and never loads Celery.
"""

from __future__ import annotations

import gc
import io
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

if TYPE_CHECKING:
    from classifier_service.articles import Article
    from classifier_service.classifier import Classifier
    from classifier_service.errors import ArticleInputError
    from classifier_service.feedback import Label

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
# Allocations (less deallocations) between two collections of the youngest generation (Python: 700).
_YOUNG_COLLECTED_AFTER = 20_000


@click.command("classify")
@click.argument("files", nargs=-1, type=_FILE)
@click.option(
    "--jsonl", type=click.File("r", encoding="utf-8"), help="JSON lines (id, title, text); - is stdin."
)
@click.option(
    "--evaluate", "labeled", type=click.File("r", encoding="utf-8"), help="Labeled JSON lines to score."
)
@click.option(
    "--taxonomy", type=_FILE, help="Taxonomy YAML (default: RASID_TAXONOMY_PATH or the packaged one)."
)
def classify_command(
    files: tuple[Path, ...], jsonl: IO[str] | None, labeled: IO[str] | None, taxonomy: Path | None
) -> None:
    """Tag articles: FILE... (.txt or .html, read as dropped files are), --jsonl FILE, or --evaluate FILE."""
    from classifier_service.errors import ClassifierError, DataFileError

    if not files and jsonl is None and labeled is None:
        raise click.UsageError("give FILE..., --jsonl FILE or --evaluate FILE")
    try:
        classifier = _classifier(taxonomy)
        if labeled is not None:
            _print_evaluation(classifier, labeled)
            return
        with _collecting_less():
            refused = _write_lines(classifier, _articles(files, jsonl), sys.stdout)
    except (ClassifierError, DataFileError) as error:
        raise click.ClickException(str(error)) from None
    if refused:
        raise click.ClickException(f"{refused} article(s) not classified")


def _write_lines(
    classifier: Classifier, articles: Iterable[Article | ArticleInputError], out: IO[str]
) -> int:
    """Write one JSON line per article to ``out``; an article that cannot be read or is too large is
    named on stderr instead. Returns how many were not classified."""
    from classifier_service.errors import ArticleInputError, ArticleTooLargeError

    # Lines are written as is, because click.echo would ask whether stdout is a terminal and look
    # for colour codes in every line (a JSON line has none: json escapes them); flushed line by line
    # where a reader waits for them (a pipe, a terminal).
    write, flush = _line_output(out)
    classification_line = _line_maker(classifier)
    refused = 0
    for article in articles:
        if isinstance(article, ArticleInputError):
            click.echo(str(article), err=True)
            refused += 1
            continue
        try:
            write(classification_line(article) + b"\n")
        except ArticleTooLargeError as error:
            click.echo(f"{article.id}: {error}", err=True)
            refused += 1
        flush()
    return refused


@click.group("bench")
def bench_group() -> None:
    """Measure the speed and memory of a service."""


@bench_group.command("classify")
@click.option(
    "--file", "path", type=_FILE, help="Articles as JSON lines (default: the train and dev sets, else seeds)."
)
@click.option("--rounds", default=5, show_default=True, help="Passes over the articles.")
@click.option("--taxonomy", type=_FILE, help="Taxonomy YAML.")
@click.option(
    "--command/--no-command",
    default=True,
    show_default=True,
    help="Also time rasid classify --jsonl in a new process (start-up and JSON included), and its peak RSS.",
)
def bench_classify_command(path: Path | None, rounds: int, taxonomy: Path | None, command: bool) -> None:
    """Articles per second on one core, in this process and through `rasid classify --jsonl`,
    latency percentiles, and memory."""
    from classifier_service.bench import run_benchmark

    for line in run_benchmark(path, rounds=rounds, taxonomy_path=taxonomy, command=command).lines():
        click.echo(line)


@click.command("train")
@click.option(
    "--labeled",
    "files",
    multiple=True,
    type=_FILE,
    help="Labeled JSON lines (repeatable; default: ../shared/eval/train.jsonl and dev.jsonl).",
)
@click.option(
    "--feedback/--no-feedback", default=True, show_default=True, help="Add the stored feedback labels."
)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="Model file (default: the one in use)."
)
@click.option(
    "--folds", default=5, show_default=True, type=click.IntRange(2, 20), help="Cross-validation folds."
)
@click.option("--seed", default=9, show_default=True, help="Seed of the folds.")
@click.option(
    "--force", is_flag=True, help="Install the new model even if it scores worse than the one in use."
)
@click.option("--taxonomy", type=_FILE, help="Taxonomy YAML.")
def train_command(  # noqa: PLR0913, PLR0917 -- one parameter per option, as click passes them
    files: tuple[Path, ...],
    feedback: bool,
    output: Path | None,
    folds: int,
    seed: int,
    force: bool,
    taxonomy: Path | None,
) -> None:
    """Fit the learned re-scoring and its calibration; print cross-validated figures before and after."""
    from classifier_service.classifier import Classifier
    from classifier_service.errors import ClassifierError
    from classifier_service.loading import model_path
    from classifier_service.trainer import SHIPPED_LABELS, labeled_texts, train
    from classifier_service.training import Recipe

    try:
        in_use = _classifier(taxonomy)
        rules = Classifier(in_use.compiled)
        labels = _feedback_labels() if feedback else []
        texts = labeled_texts(files or _shipped(SHIPPED_LABELS), labels, topics=rules.topics)
        target = output or model_path()
        current = in_use.model.current() if in_use.model is not None and target == in_use.model.path else None
        report = train(
            rules, texts, recipe=Recipe(folds=folds, seed=seed), current=current, output=target, force=force
        )
    except ClassifierError as error:
        raise click.ClickException(str(error)) from None
    for line in report.lines():
        click.echo(line)
    if not report.installed:
        raise click.ClickException(report.reason)


@click.command("feedback")
@click.argument("article_id")
@click.option("--topic", required=True, help="The topic the label is about.")
@click.option(
    "--is", "label", required=True, type=click.Choice(["0", "1"]), help="1: about the topic; 0: not."
)
@click.option("--note", help="Why, in a few words.")
@click.option("--by", "given_by", help="Who gives the label (default: the OS user).")
@click.option(
    "--file", "path", type=_FILE, help="The article as a .txt or .html file (read as dropped files are)."
)
@click.option(
    "--jsonl", type=click.File("r", encoding="utf-8"), help="JSON lines holding the article (title, text)."
)
def feedback_command(  # noqa: PLR0913, PLR0917 -- one parameter per option, as click passes them
    article_id: str,
    topic: str,
    label: str,
    note: str | None,
    given_by: str | None,
    path: Path | None,
    jsonl: IO[str] | None,
) -> None:
    """Store an analyst's label for ARTICLE_ID (the id `rasid classify` and `rasid articles list` show).

    The article's words come with the label (--file or --jsonl): training reads them, and the id is
    checked against them.
    """
    import getpass

    from classifier_service.feedback import Label, record_label
    from classifier_service.settings import ClassifierSettings
    from shared.commands import command_session
    from shared.db import utc_now

    title, text = _feedback_article(article_id, path, jsonl)
    known = _classifier(None).topics
    if topic not in known:
        raise click.BadParameter(
            f"{topic!r} is not a topic of the taxonomy ({', '.join(known)})", param_hint="--topic"
        )
    given = Label(
        article_id, title, text, topic, label == "1", given_by or getpass.getuser(), utc_now(), note
    )
    with command_session(ClassifierSettings) as session:
        number = record_label(session, given)
    click.echo(f"label {number}: {article_id} {topic}={label} by {given.given_by}")


def _feedback_article(article_id: str, path: Path | None, jsonl: IO[str] | None) -> tuple[str, str]:
    """The title and text of ``article_id`` from the file or JSON lines given; refused if no
    article there has that id."""
    from classifier_service.errors import ArticleInputError
    from shared.messages import content_id

    if path is None and jsonl is None:
        raise click.UsageError("give the article's words: --file FILE or --jsonl FILE")
    try:
        for article in _articles((path,) if path is not None else (), jsonl):
            if isinstance(article, ArticleInputError):
                raise article
            if content_id(article.title, article.text) == article_id:
                return article.title, article.text
    except ArticleInputError as error:
        raise click.ClickException(str(error)) from None
    raise click.ClickException(f"no article with id {article_id} in the input given")


def _feedback_labels() -> list[Label]:
    from classifier_service.feedback import latest_labels
    from classifier_service.settings import ClassifierSettings
    from shared.commands import command_session

    try:
        with command_session(ClassifierSettings) as session:
            return latest_labels(session)
    except click.ClickException as error:
        raise click.ClickException(f"{error.message} (or --no-feedback: the labeled files alone)") from None


def _shipped(paths: tuple[Path, ...]) -> tuple[Path, ...]:
    present = tuple(path for path in paths if path.exists())
    if not present:
        looked_at = ", ".join(str(path) for path in paths)
        raise click.UsageError(f"the shipped labeled sets are not there ({looked_at}): give --labeled FILE")
    return present


@contextmanager
def _collecting_less() -> Iterator[None]:
    """The cyclic garbage collector set for a long run of articles, and set back after: what is
    loaded is frozen (not scanned again), and the young generation is collected less often.
    Classifying an article makes thousands of small tuples and lists that reference counting
    frees; scanning them every 700 allocations finds nothing to collect."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(_YOUNG_COLLECTED_AFTER, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _line_output(out: IO[str]) -> tuple[Callable[[bytes], object], Callable[[], None]]:
    """How a line's UTF-8 bytes are written to ``out``, and flushed after each line or not.

    The bytes go to the binary buffer under ``out``, with the text written before them flushed
    first: encoding each line from text again cost 11,000 instructions a line. A text stream with
    no buffer under it (a test's StringIO) is given the line decoded."""
    buffer: io.BufferedIOBase | None = getattr(out, "buffer", None)
    flushed = _read_as_written(out)
    if buffer is None:

        def write(line: bytes) -> object:
            return out.write(line.decode("utf-8"))

        return write, out.flush if flushed else _no_flush
    out.flush()
    return buffer.write, buffer.flush if flushed else _no_flush


def _read_as_written(out: IO[str]) -> bool:
    """Whether lines written to ``out`` are read as they come (a pipe, a socket, a terminal), so
    each is flushed; a file or /dev/null takes them in blocks."""
    try:
        mode = os.fstat(out.fileno()).st_mode
    except (OSError, ValueError, io.UnsupportedOperation):
        return True  # not a file descriptor (a test's buffer): flushed, as any stream of unknown kind
    return not (stat.S_ISREG(mode) or (stat.S_ISCHR(mode) and not out.isatty()))


def _no_flush() -> None:
    """Nothing to flush: the output is a file."""


def _classifier(taxonomy: Path | None) -> Classifier:
    from classifier_service.loading import load_classifier

    return load_classifier(taxonomy)


def _articles(files: tuple[Path, ...], jsonl: IO[str] | None) -> Iterator[Article | ArticleInputError]:
    """The articles to tag; a file that cannot be read as one comes as its error, in its place."""
    from classifier_service.articles import article_from_path, read_json_lines
    from classifier_service.errors import ArticleInputError

    if jsonl is not None:
        yield from read_json_lines(jsonl)
    for path in files:
        try:
            yield article_from_path(path)
        except ArticleInputError as error:
            yield error


def _line_maker(classifier: Classifier) -> Callable[[Article], bytes]:
    """The JSON line of an article's classification, by ``classifier``. What it calls is imported
    once, here: an import in a function called for every article took 13,500 instructions a call
    (the package's ``_handle_fromlist``, a module's missing ``__path__`` looked for)."""
    from json import JSONEncoder

    from orjson import dumps

    from shared.arabic import content_id_of_folded

    # A file's name may hold bytes that are no UTF-8, kept as surrogate escapes (as os.fsdecode keeps
    # them), which orjson refuses: such a line is written with every character beyond ASCII escaped,
    # valid JSON whose id reads back to the name as the file system has it.
    escaping = JSONEncoder(separators=(",", ":"), check_circular=False)

    def classification_line(article: Article) -> bytes:
        read = classifier.read(title=article.title, text=article.text)
        classification = classifier.classification_plain(read)
        # The title read and the id the pipeline gives the same article, so a reader can see which
        # line became the headline and find the article in `rasid articles list`. The fields are
        # folded once, and a field split by ``str.split`` (nearly every one) is known to be
        # printable: looking again took 42,000 instructions an article (48M of 4,363M for the 1,150
        # labeled articles).
        title, text = read
        article_id = content_id_of_folded(
            title.normalized.text, text.normalized.text, printable=title.plain and text.plain
        )
        row = {"id": article.id, "title": article.title, "article_id": article_id, **classification}
        # Compact, non-ASCII as is (UTF-8), bytes ready to write: 2.8 us a line against json's 7.8
        # (its float formatting most of the difference), and 0.9 ms to import where pydantic-core's
        # to_json (2.3 us a line, the same bytes) took 18 ms of every start for its schema types.
        try:
            return dumps(row)
        except TypeError:
            return escaping.encode(row).encode("ascii")

    return classification_line


def _print_evaluation(classifier: Classifier, labeled: IO[str]) -> None:
    from classifier_service.evaluation import evaluate, read_labeled

    report = evaluate(classifier, read_labeled(labeled, topics=classifier.topics))
    for line in report.lines():
        click.echo(line)
