"""``rasid stories``: group JSON lines of articles into stories as the running pipeline would, score a
grouping against labeled stories, or rebuild the IDF table grouping weighs terms with.

Articles are read as JSON lines with ``id``, ``source``, ``published`` (ISO 8601; a time without an
offset is taken as UTC), ``title`` and ``text``; other fields are ignored. They are grouped in order
of ``published`` (ties in file order) with the window of ``RASID_STORY_WINDOW_HOURS`` and the places
of the gazetteer of ``RASID_GAZETTEER_PATH``, as the pipeline groups them; a story is named by the id
of its first article.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import click

from alert_service.grouping import GroupingSettings
from alert_service.stories import IdfTable, StoryArticle, StoryIndex
from alert_service.story_metrics import GroupingScores, score_grouping

IDF_MIN_FREQUENCY = 5
PACKAGED_IDF = Path(__file__).with_name("story_idf.tsv.gz")


class ArticleLineError(click.ClickException):
    """A line of the input is not an article grouping can read."""


@dataclass(frozen=True)
class LabeledArticle:
    """An article of the input and its ``story`` label, if it has one."""

    article: StoryArticle
    label: str | None


def _published(value: object, *, line: int) -> datetime:
    if not isinstance(value, str):
        raise ArticleLineError(f"line {line}: 'published' must be an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise ArticleLineError(f"line {line}: 'published' {value!r} is not an ISO 8601 time") from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _field(row: dict[str, Any], name: str, *, line: int) -> str:
    value = row.get(name)
    if not isinstance(value, str):
        raise ArticleLineError(f"line {line}: {name!r} must be a string")
    return value


def read_articles(lines: Iterable[str]) -> list[LabeledArticle]:
    """The articles of JSON lines, in the order grouping reads them (by ``published``)."""
    found = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ArticleLineError(f"line {number}: not JSON ({error.msg})") from error
        if not isinstance(row, dict):
            raise ArticleLineError(f"line {number}: not a JSON object")
        article = StoryArticle(
            id=_field(row, "id", line=number),
            source=_field(row, "source", line=number),
            published=_published(row.get("published"), line=number),
            title=_field(row, "title", line=number),
            text=_field(row, "text", line=number),
        )
        label = row.get("story")
        found.append(LabeledArticle(article, None if label is None else str(label)))
    return sorted(found, key=lambda item: item.article.published)


def group_articles(
    articles: Iterable[StoryArticle], *, settings: GroupingSettings
) -> Iterator[tuple[str, str]]:
    """(article id, story) for each article in order: the story named by its first article's id."""
    index = StoryIndex(settings=settings)
    first_of: dict[int, str] = {}
    for article in articles:
        story_id = index.add(article)
        yield article.id, first_of.setdefault(story_id, article.id)


def evaluate(items: list[LabeledArticle], *, settings: GroupingSettings) -> GroupingScores:
    """Scores of the grouping of ``items`` against their labels; every article must carry one."""
    missing = [item.article.id for item in items if item.label is None]
    if missing:
        raise ArticleLineError(f"{len(missing)} article(s) have no 'story' label, e.g. {missing[0]}")
    labels = {item.article.id: str(item.label) for item in items}
    predicted = dict(group_articles((item.article for item in items), settings=settings))
    return score_grouping(predicted, labels)


def _corpus_texts(path: Path) -> Iterator[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                yield f"{row.get('title', '')}\n{row.get('text', '')}"


def _echo_scores(scores: GroupingScores) -> None:
    click.echo(
        f"articles {scores.articles}  labeled stories {scores.labeled_stories}  "
        f"predicted stories {scores.predicted_stories}"
    )
    for name, part in (("pairwise", scores.pairwise), ("b-cubed", scores.bcubed)):
        click.echo(f"{name:<9} precision {part.precision:.3f}  recall {part.recall:.3f}  f1 {part.f1:.3f}")


@click.command("stories")
@click.option("--jsonl", type=click.File("r", encoding="utf-8"), help="Articles as JSON lines; - is stdin.")
@click.option(
    "--evaluate", "labeled", type=click.File("r", encoding="utf-8"), help="Articles with 'story' labels."
)
@click.option(
    "--build-idf",
    "corpus",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Rebuild the IDF table from a corpus of JSON lines (.jsonl or .jsonl.gz).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=PACKAGED_IDF,
    show_default=True,
    help="Where --build-idf writes the table.",
)
def stories_command(
    jsonl: IO[str] | None, labeled: IO[str] | None, corpus: Path | None, output: Path
) -> None:
    """Group articles into stories (--jsonl FILE), score a grouping (--evaluate FILE), or rebuild the
    IDF table (--build-idf CORPUS)."""
    if sum(option is not None for option in (jsonl, labeled, corpus)) != 1:
        raise click.UsageError("give one of --jsonl FILE, --evaluate FILE or --build-idf CORPUS")
    from alert_service.settings import AlertSettings
    from shared.settings import load_settings

    settings = load_settings(AlertSettings).grouping
    if corpus is not None:
        table = IdfTable.build(_corpus_texts(corpus), min_frequency=IDF_MIN_FREQUENCY)
        output.write_bytes(table.dump())
        click.echo(f"{output}: {len(table.frequencies)} terms over {table.documents} articles")
    elif labeled is not None:
        _echo_scores(evaluate(read_articles(labeled), settings=settings))
    elif jsonl is not None:
        items = read_articles(jsonl)
        for article_id, story in group_articles((item.article for item in items), settings=settings):
            click.echo(json.dumps({"id": article_id, "story": story}, ensure_ascii=False))
