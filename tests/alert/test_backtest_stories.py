"""Backtests group what a rule would have sent by story, as the pipeline grouped the stored articles:
three outlets reporting one strike are one alert, another strike is another; the commands print the
alerts and matches per day and each story with its outlets."""

from __future__ import annotations

from pathlib import Path

from shared.messages import ArticleClassified
from tests.alert.helpers import classified_message, store
from tests.commands import json_rows, run

STORIES = sorted((Path(__file__).parents[1] / "fixtures" / "stories").glob("*.txt"))
SYRIA = Path(__file__).parents[1] / "fixtures" / "alert" / "articles" / "syria_strike.txt"


def _report(path: Path, article_id: str, *, published: str) -> ArticleClassified:
    """A strike report of the fixtures, from the outlet its file names."""
    title, _, text = path.read_text(encoding="utf-8").partition("\n")
    payload = classified_message(article_id, tags=["strikes"]).model_dump(mode="json")
    article = {"title": title.strip(), "text": text.strip(), "source": path.stem, "published_at": published}
    payload["article"].update(article)
    return ArticleClassified.from_payload(payload)


def test_a_backtest_groups_matches_by_story(database_url: str) -> None:
    for number, path in enumerate(STORIES, 1):
        # Ids of their own: grouping keeps the profiles of articles it read by id, for the whole process.
        article_id = "b4c7e5" * 5 + f"{number:02d}"
        store(database_url, _report(path, article_id, published="2026-11-20T05:30:00+03:00"))
    # Another strike, days later: another story.
    store(database_url, _report(SYRIA, "b4c7e5" * 5 + "09", published="2026-11-26T05:30:00+03:00"))
    hits = json_rows(database_url, "rules", "test", "topic:strikes", "--since", "3650d")
    groups: dict[int, set[str]] = {}
    for hit in hits:
        groups.setdefault(hit["group"], set()).add(hit["source"])
    assert sorted(groups.values(), key=len) == [{SYRIA.stem}, {path.stem for path in STORIES}]

    human = run(database_url, "rules", "test", "topic:strikes", "--since", "3650d")
    assert human.exit_code == 0, human.output
    assert "4 matching article(s) in 2 stor(ies): 2 alert(s) would have been sent" in human.output
    assert "  2026-11-20       1        3\n" in human.output
    assert "  2026-11-26       1        1\n" in human.output
    assert f"story of 3 article(s) from {', '.join(path.stem for path in STORIES)}" in human.output
    assert f"story of 1 article(s) from {SYRIA.stem}" in human.output
