"""Full-window placement benchmark: the store worker's story window, this tree against another
checkout, in turns in one process.

    python -m benchmarks.window_turns --other ../rasid-before          # another checkout of Rasid
    python -m benchmarks.window_turns --other ../rasid-before --turns 6 --arrivals 3000

Places ``--filled`` undated articles of ``../shared/corpus/`` (a millisecond apart, as files dropped
at once are stamped) into a :class:`alert_service.story_store.StoryWindow` in batches of
``MAX_BATCH``, as the alert worker places a burst, then measures the CPU time an article of placing
the next ``--arrivals``: a window that holds its most members (``GroupingSettings.most_in_window``),
the case of an archive's burst. Both trees' grouping modules are loaded side by side in this
process and placed in turns (``--turns`` each), their profiles made by each tree's own code: on a
machine other work shares, whose speed drifts by a fifth from one minute to the next, runs in
separate processes minutes apart compare that drift, turns in one process compare the code. Every
turn must place every article in the same story (it stops if not), so only a change meant to keep
grouping as it is can be measured this way.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import itertools
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import alert_service
from alert_service.grouping import GroupingSettings
from shared.messages import MAX_BATCH

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "ant-2018.jsonl.gz"
# The modules of grouping loaded once for each tree: what the two trees' placement may differ in.
_GROUPING_MODULES = ("alert_service.stories", "alert_service.story_store")
_FIRST_MOMENT = datetime(2018, 1, 1, tzinfo=UTC)


def grouping_of(root: Path) -> tuple[ModuleType, ModuleType]:
    """The grouping modules (stories, story_store) of the tree at ``root``, loaded apart from any
    loaded before (the rest of ``alert_service`` and ``shared`` are this tree's)."""
    for name in _GROUPING_MODULES:
        sys.modules.pop(name, None)
    package_path: list[str] = alert_service.__path__  # type: ignore[assignment]
    folder = str(root.resolve() / "alert_service")
    package_path.insert(0, folder)
    try:
        stories, story_store = (importlib.import_module(name) for name in _GROUPING_MODULES)
    finally:
        package_path.remove(folder)
    if not str(stories.__file__).startswith(folder):
        raise SystemExit(f"{root}: no alert_service/stories.py there")
    return stories, story_store


def corpus_rows(path: Path, count: int) -> list[dict[str, Any]]:
    """The first ``count`` articles of the corpus, as read."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in itertools.islice(lines, count)]


def profiles_of(stories: ModuleType, rows: list[dict[str, Any]], settings: GroupingSettings) -> list[Any]:
    """The articles' profiles as ``stories`` makes them, packed, each a millisecond after the one before."""
    idf = stories.default_idf()
    made = []
    for number, row in enumerate(rows):
        article = stories.StoryArticle(
            row["id"],
            row["source"],
            _FIRST_MOMENT + timedelta(milliseconds=number),
            row["title"],
            row["text"],
        )
        new = stories.profile(article, idf=idf, settings=settings)
        new.pack()
        made.append(new)
    return made


def placement_turn(
    story_store: ModuleType, profiles: list[Any], *, filled: int, settings: GroupingSettings
) -> tuple[float, list[int]]:
    """The CPU seconds of placing the profiles after the first ``filled`` in a window holding those,
    and the story of each of them."""
    window = story_store.StoryWindow(settings, [], indexed=True)
    for start in range(0, filled, MAX_BATCH):
        story_store._place(window, profiles[start : min(start + MAX_BATCH, filled)], settings=settings)
    started = time.process_time()
    placed = []
    for start in range(filled, len(profiles), MAX_BATCH):
        placed += story_store._place(window, profiles[start : start + MAX_BATCH], settings=settings)
    return time.process_time() - started, [story_id for _, story_id in placed]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--other", type=Path, required=True, help="Another checkout of Rasid.")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--filled", type=int, default=5000, help="Articles placed before measuring.")
    parser.add_argument("--arrivals", type=int, default=2000, help="Articles measured.")
    parser.add_argument("--turns", type=int, default=4, help="Turns of each tree.")
    options = parser.parse_args()
    settings = GroupingSettings()
    rows = corpus_rows(options.corpus, options.filled + options.arrivals)
    trees = {"other": grouping_of(options.other), "this": grouping_of(Path(__file__).resolve().parents[1])}
    profiles = {name: profiles_of(stories, rows, settings) for name, (stories, _) in trees.items()}
    spent: dict[str, list[float]] = {name: [] for name in trees}
    first: list[int] | None = None
    for name in itertools.chain.from_iterable(itertools.repeat(list(trees), options.turns)):
        seconds, placed = placement_turn(
            trees[name][1], profiles[name], filled=options.filled, settings=settings
        )
        if first is not None and placed != first:
            raise SystemExit(f"{name}: placed articles in other stories than the first turn")
        first = placed
        spent[name].append(1000 * seconds / options.arrivals)
        print(f"{name:5s} turn {len(spent[name])}: {spent[name][-1]:.2f} ms cpu an article", flush=True)
    for name, figures in spent.items():
        ordered = sorted(figures)
        middle, least, most = ordered[len(ordered) // 2], ordered[0], ordered[-1]
        print(f"{name:5s} median {middle:.2f} ms cpu an article ({least:.2f}-{most:.2f})")
    print(f"every turn placed the {options.arrivals} articles alike")


if __name__ == "__main__":
    main()
