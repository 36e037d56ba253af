"""``rasid import`` through the real ``rasid`` group against a migrated database, on SQLite and
PostgreSQL: a folder tree, a zip, a tar.gz and JSON lines, with the articles handed on collected in
place of the broker."""

from __future__ import annotations

import base64
import gzip
import json
import os
import signal
import subprocess
import sys
import tarfile
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from classifier_service.service import CLASSIFY_QUEUE
from ingest_service import import_run
from ingest_service.import_run import ImportRun
from ingest_service.models import ImportedItem, SeenArticle
from ingest_service.settings import IngestSettings
from shared.db import session_scope
from shared.messages import ArticleIngested, ArticlesIngested
from tests.commands import run
from tests.helpers import own_redis_database
from tests.ingest.helpers import FILE_FIXTURES
from tests.peers import wait_for

SEEDS = sorted((Path(__file__).parents[2] / "seeds").glob("*.txt"))


class Sent(list[ArticleIngested]):
    """The articles ``rasid import`` hands on, in place of the broker."""

    def __call__(self, articles: list[ArticleIngested]) -> None:
        self.extend(articles)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    collector = Sent()
    monkeypatch.setattr(import_run, "_hand_on", collector)
    return collector


def line(number: int, *, published: datetime | None = None) -> str:
    title = f"القوات تنسحب من المدينة في اليوم رقم {number}"
    text = SEEDS[0].read_text(encoding="utf-8") + f"\nتحديث رقم {number}."
    row = {
        "id": f"a-{number}",
        "title": title,
        "text": text,
        "source": "archive",
        "url": f"https://e.test/{number}",
    }
    if published is not None:
        row["published"] = published.isoformat()
    return json.dumps(row, ensure_ascii=False) + "\n"


def inputs(folder: Path) -> list[Path]:
    """A folder tree (seeds, a document in cp1256, an English file), a zip and a tar.gz holding the same
    seeds again, and JSON lines with one bad line."""
    tree = folder / "tree"
    (tree / "deeper").mkdir(parents=True)
    for seed in SEEDS[:3]:
        (tree / seed.name).write_bytes(seed.read_bytes())
    (tree / "deeper" / "cp1256.txt").write_bytes((FILE_FIXTURES / "cp1256.txt").read_bytes())
    (tree / "deeper" / "english.txt").write_bytes((FILE_FIXTURES / "english.txt").read_bytes())
    with zipfile.ZipFile(folder / "seeds.zip", "w") as archive:
        for seed in SEEDS:
            archive.write(seed, f"seeds/{seed.name}")
    with tarfile.open(folder / "seeds.tar.gz", "w:gz") as archive:
        archive.add(SEEDS[4], arcname=f"x/{SEEDS[4].name}")
    recent = datetime.now(UTC) - timedelta(days=1)
    lines = [line(1, published=recent), "{not json\n", line(2, published=datetime(2018, 3, 1, tzinfo=UTC))]
    (folder / "articles.jsonl.gz").write_bytes(gzip.compress("".join(lines).encode()))
    return [tree, folder / "seeds.zip", folder / "seeds.tar.gz", folder / "articles.jsonl.gz"]


def test_import_of_every_kind_of_input_then_a_second_run_imports_nothing(
    database_url: str, sent: Sent, tmp_path: Path
) -> None:
    paths = [str(path) for path in inputs(tmp_path)]

    first = run(database_url, "import", *paths)
    again = run(database_url, "import", *paths)

    assert first.exit_code == 0, first.output
    # 3 seeds + cp1256 from the tree, the 2 other seeds from the zip (3 seen), the tar's seed seen in
    # the zip, 2 good JSON lines.
    assert "8 imported, 4 duplicates, 2 rejected, 0 already imported before" in first.output
    assert "too little Arabic text" in first.output and "line 2 is not an article object" in first.output
    assert len(sent) == 8 and len({article.article_id for article in sent}) == 8
    assert "0 imported, 0 duplicates, 0 rejected, 14 already imported before" in again.output
    assert len(sent) == 8
    with session_scope(database_url) as session:
        assert session.scalar(select(func.count()).select_from(SeenArticle)) == 8
        assert session.scalar(select(func.count()).select_from(ImportedItem)) == 14


def test_alerts_follow_the_article_date_unless_asked(database_url: str, sent: Sent, tmp_path: Path) -> None:
    recent = datetime.now(UTC) - timedelta(hours=2)
    (tmp_path / "a.jsonl").write_text(line(1, published=recent) + line(2, published=datetime(2018, 1, 1)))
    (tmp_path / "b.jsonl").write_text(line(3, published=datetime(2018, 1, 1)))
    (tmp_path / "c.jsonl").write_text(line(4, published=recent))

    run(database_url, "import", str(tmp_path / "a.jsonl"))
    run(database_url, "import", "--alerts", str(tmp_path / "b.jsonl"))
    run(database_url, "import", "--no-alerts", str(tmp_path / "c.jsonl"))

    alerts = {article.title.rsplit(" ", 1)[-1]: article.alerts for article in sent}
    assert alerts == {"1": True, "2": False, "3": True, "4": False}
    first = next(article for article in sent if article.title.endswith(" 1"))
    assert (first.source, first.url, first.published_at) == ("archive", "https://e.test/1", recent)


def test_undated_items_are_stamped_in_the_order_they_are_read(
    database_url: str, sent: Sent, tmp_path: Path
) -> None:
    # As dropped files are: an undated article's moment orders it among the others (the story window
    # keeps the latest of its members).
    (tmp_path / "undated.jsonl").write_text("".join(line(number) for number in range(1, 6)))

    run(database_url, "import", str(tmp_path / "undated.jsonl"))

    assert [article.title.rsplit(" ", 1)[-1] for article in sent] == ["1", "2", "3", "4", "5"]
    moments = [article.ingested_at for article in sent]
    assert all(article.published_at is None for article in sent)
    assert moments == sorted(moments) and len(set(moments)) == len(moments)


def test_a_stopped_import_resumes_without_importing_twice(
    database_url: str, sent: Sent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "many.jsonl").write_text("".join(line(number) for number in range(10)))
    monkeypatch.setattr(import_run, "BATCH_SIZE", 3)
    settings = IngestSettings(database_url=database_url)
    stopped = ImportRun(settings, alerts=None)

    def stop_after_first_batch(articles: list[ArticleIngested]) -> None:
        sent(articles)
        stopped.stop()  # as Ctrl-C would, in the middle of the run

    monkeypatch.setattr(import_run, "_hand_on", stop_after_first_batch)
    stopped.run([tmp_path / "many.jsonl"])
    monkeypatch.setattr(import_run, "_hand_on", sent)
    resumed = ImportRun(settings, alerts=None)
    resumed.run([tmp_path / "many.jsonl"])

    assert stopped.stopped and stopped.tally.counts["ingested"] == 3
    assert "import stopped (run it again to resume)" in stopped.tally.summary(stopped=True)
    assert resumed.tally.counts["ingested"] == 7 and resumed.tally.counts["already_imported"] == 3
    assert sorted(article.title for article in sent) == sorted({article.title for article in sent})
    assert len(sent) == 10


def test_plain_progress_lines_when_not_a_terminal(
    database_url: str, sent: Sent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "many.jsonl").write_text("".join(line(number) for number in range(4)))
    monkeypatch.setattr(import_run, "BATCH_SIZE", 1)
    monkeypatch.setattr(import_run, "PLAIN_PROGRESS_SECONDS", 0.0)

    result = run(database_url, "import", str(tmp_path / "many.jsonl"))

    assert result.exit_code == 0, result.output
    assert "import: 4/4 items" in result.stderr and "\r" not in result.stderr
    assert len(sent) == 4


def test_ctrl_c_stops_a_running_import_and_a_second_run_sends_the_rest_once(
    database_url: str, tmp_path: Path
) -> None:
    """The real command in its own process, on a real broker: SIGINT once the first batch is recorded."""
    count = 2000
    (tmp_path / "many.jsonl").write_text("".join(line(number) for number in range(count)))
    with own_redis_database() as broker_url:
        env = {**os.environ, "RASID_DATABASE_URL": database_url, "RASID_BROKER_URL": broker_url}
        command = [sys.executable, "-m", "shared", "import", str(tmp_path / "many.jsonl")]
        first = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        wait_for(lambda: _imported(database_url) > 0, timeout=60, what="the first batch")
        first.send_signal(signal.SIGINT)
        stopped_output, _ = first.communicate(timeout=60)
        stopped_at = _imported(database_url)
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
        queued = _queued_article_ids(broker_url)

    assert first.returncode == 0 and "import stopped (run it again to resume)" in stopped_output
    assert 0 < stopped_at < count
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"{count - stopped_at} imported, 0 duplicates, 0 rejected, {stopped_at} already" in second.stdout
    # Every article sent once: none lost at the stop, none twice.
    assert len(queued) == len(set(queued)) == count


def _queued_article_ids(broker_url: str) -> list[str]:
    """The ids of the articles waiting for the classifier, in the batch messages Redis holds."""
    ids = []
    for entry in redis.Redis.from_url(broker_url).lrange(CLASSIFY_QUEUE, 0, -1):
        envelope = json.loads(entry)
        body = envelope["body"]
        # In base64 as earlier versions sent it, or the UTF-8 JSON itself.
        if envelope["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        _args, kwargs, _embed = json.loads(body)
        ids += [article.article_id for article in ArticlesIngested.from_payload(kwargs["payload"]).articles]
    return ids


def _imported(url: str) -> int:
    with session_scope(url) as session:
        return session.scalar(select(func.count()).select_from(ImportedItem)) or 0
