"""Story grouping on days it was not tuned on: leave one labeled day out.

    .venv/bin/python -m benchmarks.story_folds [--labeled FILE] [--errors DAY]

The labeled stories (``../shared/eval/stories-dev.jsonl``) are split by day (the date of
``published`` as the outlet wrote it); each day is grouped alone, as a fresh stream. For each day
held out, the grid of :data:`GRID` (the grouping settings that matter most) is searched on the other
days, the settings with the best mean pairwise F1 there score the held-out day, and the figures of
each held-out day are printed with their mean; so are those of the shipped defaults (which were
chosen on every day, so they are not held out). A method whose held-out mean lags far behind the
defaults' fits the days it was tuned on.

Profiles are made once per combination of the settings they depend on (:data:`PROFILE_FIELDS`).
``--errors DAY`` also prints the articles the defaults split from their story or put in another's.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date
from pathlib import Path

from alert_service.grouping import GroupingSettings
from alert_service.stories import Profile, StoryIndex, default_idf, profile
from alert_service.story_cli import LabeledArticle, read_articles
from alert_service.story_metrics import GroupingScores, score_grouping

LABELED = Path(__file__).resolve().parents[2] / "shared" / "eval" / "stories-dev.jsonl"
# The settings searched on the seen days; the values around the defaults.
GRID: Mapping[str, Sequence[float]] = {
    "threshold": (0.13, 0.15, 0.17, 0.19, 0.21, 0.23, 0.25),
    "link_share": (0.3, 0.5, 0.7),
    "place_penalty": (0.05, 0.15, 0.25),
    "title_weight": (3.0, 4.0, 5.0),
}
# The settings a profile depends on: profiles are remade only when one of these changes.
PROFILE_FIELDS = ("lead_words", "title_weight", "vector_terms", "gazetteer_path")


@dataclass(frozen=True)
class Day:
    """One labeled day: its articles in order of publication and their stories."""

    day: date
    articles: tuple[LabeledArticle, ...]

    @property
    def labels(self) -> dict[str, str]:
        """Article id -> labeled story."""
        return {item.article.id: str(item.label) for item in self.articles}


def days_of(items: Sequence[LabeledArticle]) -> list[Day]:
    """The labeled articles split by the day of ``published`` (in the outlet's own offset)."""
    by_day: dict[date, list[LabeledArticle]] = {}
    for item in items:
        by_day.setdefault(item.article.published.date(), []).append(item)
    return [Day(day, tuple(articles)) for day, articles in sorted(by_day.items())]


def grid_settings(base: GroupingSettings) -> Iterator[GroupingSettings]:
    """Every combination of :data:`GRID`'s values over ``base``, profile settings varying slowest."""
    names = sorted(GRID, key=lambda name: name not in PROFILE_FIELDS)
    for values in itertools.product(*(GRID[name] for name in names)):
        yield replace(base, **dict(zip(names, values, strict=True)))


def _profile_key(settings: GroupingSettings) -> tuple[object, ...]:
    return tuple(getattr(settings, name) for name in PROFILE_FIELDS)


class Scorer:
    """Scores settings on days, making each day's profiles once per profile settings."""

    def __init__(self, days: Sequence[Day]) -> None:
        self.days = days
        self._profiles: dict[tuple[object, ...], dict[date, list[Profile]]] = {}

    def profiles(self, settings: GroupingSettings) -> dict[date, list[Profile]]:
        """Each day's profiles under ``settings``."""
        key = _profile_key(settings)
        if key not in self._profiles:
            idf = default_idf()
            self._profiles[key] = {
                day.day: [profile(item.article, idf=idf, settings=settings) for item in day.articles]
                for day in self.days
            }
        return self._profiles[key]

    def grouping(self, settings: GroupingSettings, day: Day) -> dict[str, int]:
        """Article id -> story for ``day`` grouped alone under ``settings``."""
        index = StoryIndex(settings=settings)
        return {item.article_id: index.place(item) for item in self.profiles(settings)[day.day]}

    def score(self, settings: GroupingSettings, day: Day) -> GroupingScores:
        """How ``day`` grouped under ``settings`` agrees with its labels."""
        return score_grouping(self.grouping(settings, day), day.labels)


def _differences(settings: GroupingSettings) -> str:
    base = GroupingSettings()
    changed = [
        f"{item.name}={getattr(settings, item.name)}"
        for item in fields(settings)
        if getattr(settings, item.name) != getattr(base, item.name)
    ]
    return " ".join(changed) or "defaults"


def _row(name: str, scores: GroupingScores) -> str:
    pair, cube = scores.pairwise, scores.bcubed
    return (
        f"{name:<12}{scores.articles:>5}{pair.precision:>7.3f}{pair.recall:>7.3f}{pair.f1:>7.3f}"
        f"{cube.precision:>8.3f}{cube.recall:>7.3f}{cube.f1:>7.3f}"
    )


def _table(title: str, rows: Sequence[tuple[str, GroupingScores]]) -> None:
    print(f"\n{title}")
    print(f"{'day':<12}{'n':>5}{'pair P':>7}{'R':>7}{'F1':>7}{'b3 P':>8}{'R':>7}{'F1':>7}")
    for name, scores in rows:
        print(_row(name, scores))
    pair_f1 = statistics.fmean(scores.pairwise.f1 for _, scores in rows)
    cube = [scores.bcubed for _, scores in rows]
    print(
        f"{'mean':<12}{'':>5}{'':>7}{'':>7}{pair_f1:>7.3f}"
        f"{statistics.fmean(s.precision for s in cube):>8.3f}"
        f"{statistics.fmean(s.recall for s in cube):>7.3f}{statistics.fmean(s.f1 for s in cube):>7.3f}"
    )


def held_out(scorer: Scorer, candidates: Sequence[GroupingSettings]) -> list[tuple[str, GroupingScores]]:
    """For each day: the candidate with the best mean pairwise F1 on the other days, scored on it."""
    table = {
        settings: {day.day: scorer.score(settings, day) for day in scorer.days} for settings in candidates
    }
    rows = []
    for day in scorer.days:
        others = [other.day for other in scorer.days if other != day]

        def seen_f1(settings: GroupingSettings, others: list[date] = others) -> float:
            return statistics.fmean(table[settings][other].pairwise.f1 for other in others)

        # max keeps the first of equals: the grid's order, not chance, breaks ties.
        best = max(candidates, key=seen_f1)
        print(f"{day.day}: seen mean F1 {seen_f1(best):.3f} with {_differences(best)}")
        rows.append((str(day.day), table[best][day.day]))
    return rows


def _print_errors(scorer: Scorer, day: Day) -> None:
    grouping = scorer.grouping(GroupingSettings(), day)
    titles = {item.article.id: item.article.title for item in day.articles}
    by_label: dict[str, list[str]] = {}
    for article_id, label in day.labels.items():
        by_label.setdefault(label, []).append(article_id)
    print(f"\nerrors of the defaults on {day.day} (story: article, predicted story, title)")
    for label, members in sorted(by_label.items()):
        predicted = {grouping[member] for member in members}
        mixed = {
            other for other, story in grouping.items() if story in predicted and day.labels[other] != label
        }
        if len(predicted) > 1 or mixed:
            print(f"{label}")
            for member in sorted(members, key=lambda member: grouping[member]):
                print(f"    {member:<40} {grouping[member]:>4}  {titles[member][:90]}")
            for other in sorted(mixed):
                print(f"  + {other:<40} {grouping[other]:>4}  {titles[other][:90]} [{day.labels[other]}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labeled", type=Path, default=LABELED, help="Articles with 'story' labels.")
    parser.add_argument("--errors", type=date.fromisoformat, help="Print the defaults' errors of DAY.")
    arguments = parser.parse_args()
    with arguments.labeled.open(encoding="utf-8") as lines:
        scorer = Scorer(days_of(read_articles(lines)))
    candidates = list(grid_settings(GroupingSettings()))
    print(f"{len(scorer.days)} days, {len(candidates)} settings in the grid")
    _table("held out: grid searched on the other days", held_out(scorer, candidates))
    defaults = GroupingSettings()
    _table(
        "shipped defaults (chosen on every day)",
        [(str(d.day), scorer.score(defaults, d)) for d in scorer.days],
    )
    for day in scorer.days:
        if day.day == arguments.errors:
            _print_errors(scorer, day)


if __name__ == "__main__":
    main()
