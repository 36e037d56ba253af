"""Command line of the classifier service, plugged into ``rasid`` through entry points.

``rasid classify`` tags files or JSON lines (one JSON line out per article, flushed, so it works as
a filter; an article too long to classify is named on stderr with the reason, the others are still
tagged, and the command exits with 1), or with ``--evaluate`` scores a labeled file. ``rasid bench
classify`` measures speed and memory. Imports are lazy so the command starts fast and never loads Celery.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

if TYPE_CHECKING:
    from classifier_service.articles import Article
    from classifier_service.classifier import Classifier
    from classifier_service.errors import ArticleInputError

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


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
    from classifier_service.errors import (
        ArticleInputError,
        ArticleTooLargeError,
        ClassifierError,
        DataFileError,
    )

    if not files and jsonl is None and labeled is None:
        raise click.UsageError("give FILE..., --jsonl FILE or --evaluate FILE")
    refused = 0
    try:
        classifier = _classifier(taxonomy)
        if labeled is not None:
            _print_evaluation(classifier, labeled)
            return
        for article in _articles(files, jsonl):
            # A file that cannot be read or an article too large is reported; the others go on.
            if isinstance(article, ArticleInputError):
                click.echo(str(article), err=True)
                refused += 1
                continue
            try:
                click.echo(_classification_line(classifier, article))
            except ArticleTooLargeError as error:
                click.echo(f"{article.id}: {error}", err=True)
                refused += 1
            sys.stdout.flush()
    except (ClassifierError, DataFileError) as error:
        raise click.ClickException(str(error)) from None
    if refused:
        raise click.ClickException(f"{refused} article(s) not classified")


@click.group("bench")
def bench_group() -> None:
    """Measure the speed and memory of a service."""


@bench_group.command("classify")
@click.option("--file", "path", type=_FILE, help="Articles as JSON lines (default: the dev set, else seeds).")
@click.option("--rounds", default=5, show_default=True, help="Passes over the articles.")
@click.option("--taxonomy", type=_FILE, help="Taxonomy YAML.")
def bench_classify_command(path: Path | None, rounds: int, taxonomy: Path | None) -> None:
    """Articles per second on one core, latency percentiles, and the loaded classifier's memory."""
    from classifier_service.bench import run_benchmark

    for line in run_benchmark(path, rounds=rounds, taxonomy_path=taxonomy).lines():
        click.echo(line)


def _classifier(taxonomy: Path | None) -> Classifier:
    from classifier_service.loading import load_classifier

    return load_classifier(taxonomy)


def _articles(files: tuple[Path, ...], jsonl: IO[str] | None) -> Iterator[Article | ArticleInputError]:
    """The articles to tag; a file that cannot be read as one comes as its error, in its place."""
    from classifier_service.articles import article_from_file, read_json_lines
    from classifier_service.errors import ArticleInputError

    if jsonl is not None:
        yield from read_json_lines(jsonl)
    for path in files:
        try:
            yield article_from_file(str(path), path.read_bytes())
        except ArticleInputError as error:
            yield error


def _classification_line(classifier: Classifier, article: Article) -> str:
    from shared.messages import content_id

    result = classifier.classify(title=article.title, text=article.text)
    # The title read and the id the pipeline gives the same article, so a reader can see which line
    # became the headline and find the article in `rasid articles list`.
    identity = {"title": article.title, "article_id": content_id(article.title, article.text)}
    row = {"id": article.id, **identity, **result.model_dump(mode="json")}
    row["tags"] = list(result.tags)
    return json.dumps(row, ensure_ascii=False)


def _print_evaluation(classifier: Classifier, labeled: IO[str]) -> None:
    from classifier_service.evaluation import evaluate, read_labeled

    report = evaluate(classifier, read_labeled(labeled, topics=classifier.topics))
    for line in report.lines():
        click.echo(line)
