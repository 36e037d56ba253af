"""Story grouping benchmark: articles per second grouped over a real corpus, incrementally.

    python -m benchmarks.stories                                  # ../shared/corpus/ant-2018.jsonl.gz
    python -m benchmarks.stories --corpus FILE --limit 10000 --window-hours 72
    python -m benchmarks.stories --limit 30000 --assignments before.json   # saved, or compared when it exists
    python -m benchmarks.stories --limit 6000 --undated                    # an archive dropped at once
    python -m benchmarks.stories --limit 30000 --undated --members 2500    # its window's bound

Reads the corpus (gzip'd JSON lines: id, source, published, title, text), orders it by ``published``
and adds each article to a :class:`alert_service.stories.StoryIndex` in turn, as articles arrive in the
running pipeline. Prints articles per second of grouping (profiling included, reading excluded), by
the wall clock and by the process's CPU time (the figure to compare on a machine other work shares),
the number of stories, the largest story and the most articles held in the window at once.

``--assignments FILE`` saves the story each article was placed in (stories are numbered as they are
started, so the list is the grouping itself); when FILE exists, the run is compared with it instead
and the articles placed otherwise are counted (a story named by its first article, so that one story
more started early does not renumber the later ones), with the pairs of articles placed together and
how many of those the saved run placed together too (their pairwise F1 against it), so a change meant
to keep grouping as it is can be checked against the code before it.

``--undated`` gives every article its own publication time, a millisecond after the one before, as
files dropped without a date are placed at the moments they were ingested, one after another: one
story window holds them all, as in a burst, and the CPU time an article is printed for each fifth of
the run, as the window fills. ``--one-moment`` gives them all one time instead, as the undated lines
of one ``rasid import`` are stamped (then the article ids decide which are the latest members).
``--members`` sets the most members of the window an article is compared with
(``GroupingSettings.most_in_window``; 0 leaves it unbounded, as before it was).
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alert_service.grouping import GroupingSettings
from alert_service.stories import StoryArticle, StoryIndex, default_idf

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "ant-2018.jsonl.gz"


def read_corpus(path: Path, *, limit: int | None) -> list[StoryArticle]:
    """The corpus's articles in order of publication (the first ``limit`` of them when given)."""
    articles = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            published = datetime.fromisoformat(row["published"])
            published = published if published.tzinfo else published.replace(tzinfo=UTC)
            articles.append(StoryArticle(row["id"], row["source"], published, row["title"], row["text"]))
    articles.sort(key=lambda article: article.published)
    return articles[:limit] if limit else articles


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--limit", type=int, default=None, help="Group only the first N articles.")
    parser.add_argument("--window-hours", type=float, default=72.0)
    parser.add_argument("--assignments", type=Path, help="Save the stories placed, or compare with them.")
    parser.add_argument("--undated", action="store_true", help="Every article at its ingest moment.")
    parser.add_argument("--one-moment", action="store_true", help="With --undated: all at one moment.")
    parser.add_argument("--members", type=int, default=None, help="The most members compared with.")
    options = parser.parse_args()
    articles = read_corpus(options.corpus, limit=options.limit)
    if options.undated:
        moment = articles[-1].published
        apart = timedelta(0) if options.one_moment else timedelta(milliseconds=1)
        articles = [
            replace(article, published=moment + number * apart) for number, article in enumerate(articles)
        ]
    settings = GroupingSettings(window=timedelta(hours=options.window_hours))
    if options.members is not None:
        settings = replace(settings, most_in_window=options.members or len(articles))
    index = StoryIndex(settings=settings)
    default_idf()  # loaded once per process, as a worker does: not part of the rate
    stories: Counter[int] = Counter()
    placed: list[int] = []
    held = 0
    fifth = max(1, len(articles) // 5)
    started, cpu_started = time.perf_counter(), time.process_time()
    cpu_fifth = cpu_started
    for number, article in enumerate(articles, start=1):
        placed.append(index.add(article))
        stories[placed[-1]] += 1
        held = max(held, index.held)
        if options.undated and number % fifth == 0:
            cpu_now, first = time.process_time(), number - fifth + 1
            per_article = (cpu_now - cpu_fifth) / fifth * 1000
            print(f"articles {first:6d} to {number:6d}: {per_article:.2f} ms cpu an article")
            cpu_fifth = cpu_now
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(f"articles grouped     {len(articles)}")
    print(f"seconds              {elapsed:.1f}")
    print(f"articles per second  {len(articles) / elapsed:.0f}")
    print(f"cpu seconds          {cpu:.1f} ({len(articles) / cpu:.0f} articles per cpu second)")
    print(f"stories              {len(stories)} (largest {max(stories.values())} articles)")
    print(f"most held in window  {held}")
    if options.assignments:
        compare_assignments(options.assignments, [article.id for article in articles], placed)


def compare_assignments(path: Path, article_ids: list[str], placed: list[int]) -> None:
    """Save the stories placed at ``path``, or count the articles placed otherwise than there."""
    if not path.exists():
        path.write_text(json.dumps({"articles": article_ids, "stories": placed}), encoding="utf-8")
        print(f"assignments saved    {path}")
        return
    saved = json.loads(path.read_text(encoding="utf-8"))
    if saved["articles"] != article_ids:
        raise SystemExit(f"{path} holds other articles than this run")
    before, now = _by_first_article(saved["stories"]), _by_first_article(placed)
    moved = sum(1 for earlier, later in zip(before, now, strict=True) if earlier != later)
    print(f"placed otherwise     {moved} of {len(placed)} articles than in {path}")
    together_before, together_now = _pairs(Counter(before)), _pairs(Counter(now))
    together_both = _pairs(Counter(zip(before, now, strict=True)))
    agreement = 2 * together_both / (together_before + together_now) if together_both else 1.0
    print(f"pairs together       {together_now} ({together_both} of the {together_before} before)")
    print(f"pairwise F1 with it  {agreement:.4f}")


def _by_first_article(stories: list[int]) -> list[int]:
    """Each article's story named by the position of its first article: a story started or not
    started earlier does not renumber the later ones."""
    first: dict[int, int] = {}
    return [first.setdefault(story, position) for position, story in enumerate(stories)]


def _pairs(sizes: Counter[object]) -> int:
    return sum(size * (size - 1) // 2 for size in sizes.values())


if __name__ == "__main__":
    main()
