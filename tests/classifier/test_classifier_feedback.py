"""Analysts' labels through ``rasid feedback`` into the classifier's table and back out for
training, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from classifier_service.feedback import Label, latest_labels, record_label
from classifier_service.trainer import labeled_texts
from shared.db import session_scope
from shared.messages import content_id
from tests.commands import run

TITLE = "غارات على مواقع المسلحين"
TEXT = "شنت طائرات التحالف غارات جوية على مواقع المسلحين في ريف المدينة."
ARTICLE_ID = content_id(TITLE, TEXT)
TOPICS = ("withdrawal", "training", "strikes")


def _article_file(tmp_path: Path) -> Path:
    path = tmp_path / "article.jsonl"
    path.write_text(json.dumps({"id": "a", "title": TITLE, "text": TEXT}, ensure_ascii=False) + "\n")
    return path


def test_a_later_label_supersedes_an_earlier_one(database_url: str, tmp_path: Path) -> None:
    article = str(_article_file(tmp_path))
    first = run(database_url, "feedback", ARTICLE_ID, "--topic", "strikes", "--is", "1", "--jsonl", article)
    assert first.exit_code == 0, first.output
    second = run(
        database_url, "feedback", ARTICLE_ID, "--topic", "strikes", "--is", "0",
        "--jsonl", article, "--by", "analyst-2", "--note", "a drill, not an attack",
    )  # fmt: skip
    assert second.exit_code == 0, second.output
    assert "strikes=0 by analyst-2" in second.output
    with session_scope(database_url) as session:
        (label,) = latest_labels(session)
    assert (label.article_id, label.topic, label.label) == (ARTICLE_ID, "strikes", False)
    assert (label.given_by, label.note) == ("analyst-2", "a drill, not an attack")
    assert (label.title, label.text) == (TITLE, TEXT)
    assert label.given_at.tzinfo is not None


def test_labels_of_several_topics_are_each_kept(database_url: str) -> None:
    moment = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    with session_scope(database_url) as session:
        for topic, value in (("strikes", True), ("training", False), ("strikes", False), ("strikes", True)):
            record_label(session, Label(ARTICLE_ID, TITLE, TEXT, topic, value, "analyst", moment))
    with session_scope(database_url) as session:
        labels = {(label.topic, label.label) for label in latest_labels(session)}
    # Same time: the last stored wins.
    assert labels == {("strikes", True), ("training", False)}


def test_a_label_is_refused_when_the_words_given_are_another_article(
    database_url: str, tmp_path: Path
) -> None:
    article = str(_article_file(tmp_path))
    result = run(database_url, "feedback", "0" * 32, "--topic", "strikes", "--is", "1", "--jsonl", article)
    assert result.exit_code == 1
    assert f"no article with id {'0' * 32}" in result.output
    unknown = run(database_url, "feedback", ARTICLE_ID, "--topic", "sports", "--is", "1", "--jsonl", article)
    assert unknown.exit_code == 2 and "not a topic of the taxonomy" in unknown.output
    with session_scope(database_url) as session:
        assert latest_labels(session) == []


def test_feedback_overrides_the_labeled_file_for_training(tmp_path: Path) -> None:
    labeled = tmp_path / "labeled.jsonl"
    row = {"id": "x", "title": TITLE, "text": TEXT, "withdrawal": 0, "training": 0, "strikes": 1}
    labeled.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    moment = datetime(2026, 11, 29, tzinfo=UTC)
    feedback = [
        Label(ARTICLE_ID, TITLE, TEXT, "strikes", False, "analyst", moment),
        Label("f" * 32, "عنوان", "نص آخر", "training", True, "analyst", moment),
    ]
    texts = {text.article_id: text for text in labeled_texts([labeled], feedback, topics=TOPICS)}
    assert texts[ARTICLE_ID].labels == {"withdrawal": False, "training": False, "strikes": False}
    assert texts["f" * 32].labels == {"training": True}


def test_training_reads_the_stored_feedback(database_url: str, tmp_path: Path) -> None:
    labeled = tmp_path / "labeled.jsonl"
    rows = [
        {"id": str(number), "title": "", "text": text, "withdrawal": 0, "training": 0, "strikes": label}
        for number in range(25)
        for text, label in ((f"{TEXT} {number}", 1), (f"أعلن العمال الإضراب عن العمل {number}.", 0))
    ]
    labeled.write_text(
        "\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n", encoding="utf-8"
    )
    article = str(_article_file(tmp_path))
    assert (
        run(
            database_url, "feedback", ARTICLE_ID, "--topic", "strikes", "--is", "1", "--jsonl", article
        ).exit_code
        == 0
    )
    output = tmp_path / "model.json"
    result = run(database_url, "train", "--labeled", str(labeled), "--output", str(output))
    assert result.exit_code == 0, result.output
    # 50 articles of the file and the one labeled through feedback; only strikes has labels of both kinds.
    assert "labeled articles: 51; topics trained: strikes" in result.output
    assert output.exists()
