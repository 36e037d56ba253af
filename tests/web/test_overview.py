"""The overview: articles per topic per day over the last 30 days (one GROUP BY on PostgreSQL and
SQLite, days in UTC), drawn as an SVG on the server in the page's reading direction, with the counts
per source; and the English labels every page has (``?lang=en``, kept in a cookie)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from alert_service.chart import LABEL_WIDTH, daily_counts, topic_chart
from alert_service.queries import TopicDay, source_counts, topic_days
from alert_service.store import store_classified
from shared.db import session_scope, utc_now
from shared.messages import ArticleClassified, content_id
from shared.web.app import create_app
from shared.web.labels import LabelError, Labels, checked_catalog
from shared.web.settings import WebSettings
from tests.alert.helpers import load_fixture
from tests.web.conftest import Api

PASSWORD = "correct horse battery staple"
DAYS = [date(2026, 11, 1) + timedelta(days=offset) for offset in range(3)]


def store(
    database_url: str, *, title: str, stored_at: datetime, tags: dict[str, float], source: str = "وكالة"
) -> str:
    payload = load_fixture("classified_article.json")
    text = f"{title}. نص الخبر كاملاً."
    article_id = content_id(title, text)
    payload["article"].update(article_id=article_id, title=title, text=text, source=source)
    payload["classification"].update(tags=list(tags), scores=tags, evidence=[])
    with session_scope(database_url) as session:
        store_classified(session, ArticleClassified.from_payload(payload), now=stored_at)
    return article_id


@pytest.fixture
def client(api: Api) -> Iterator[TestClient]:
    settings = WebSettings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=api.database_url,
        admin_password=SecretStr(PASSWORD),
    )
    with TestClient(create_app(settings), follow_redirects=False) as client:
        form = client.get("/sign-in").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf
        assert client.post("/sign-in", data={"csrf": csrf.group(1), "secret": PASSWORD}).status_code == 303
        yield client


@pytest.mark.parametrize(
    ("rtl", "oldest_is_right"),
    [(True, True), (False, False)],
)
def test_days_run_in_the_reading_direction(rtl: bool, oldest_is_right: bool) -> None:
    counts = {"strikes": {DAYS[0]: 2, DAYS[2]: 4}}
    [row] = topic_chart(counts, DAYS, rtl=rtl).rows
    oldest, _, newest = row.bars
    assert (oldest.x > newest.x) is oldest_is_right
    assert row.label_x > row.total_x if rtl else row.label_x < row.total_x


@pytest.mark.parametrize(
    ("counts", "topics", "heights"),
    [
        (
            {"a": {DAYS[0]: 1}, "b": {DAYS[1]: 4, DAYS[2]: 2}},
            ["b", "a"],
            {"a": [5.0, 0, 0], "b": [0, 20.0, 10.0]},
        ),
        ({"z": {DAYS[0]: 3}, "y": {DAYS[0]: 3}}, ["y", "z"], {"y": [20.0, 0, 0], "z": [20.0, 0, 0]}),
        ({}, [], {}),
    ],
)
def test_rows_busiest_first_on_one_scale(
    counts: dict[str, dict[date, int]], topics: list[str], heights: dict[str, list[float]]
) -> None:
    chart = topic_chart(counts, DAYS, rtl=True)
    assert [row.topic for row in chart.rows] == topics
    assert {row.topic: [bar.height for bar in row.bars] for row in chart.rows} == heights
    assert all(
        bar.x >= 0 and bar.x + bar.width <= chart.width - LABEL_WIDTH + 15
        for row in chart.rows
        for bar in row.bars
    )


def test_the_daily_counts_group_by_topic_and_utc_day(api: Api) -> None:
    late = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)  # 02:30 on the 3rd in Baghdad: still the 2nd in UTC
    store(api.database_url, title="غارة أولى", stored_at=late, tags={"strikes": 0.9})
    store(api.database_url, title="غارة ثانية", stored_at=late + timedelta(minutes=20), tags={"strikes": 0.8})
    store(
        api.database_url,
        title="انسحاب",
        stored_at=late + timedelta(hours=2),
        tags={"strikes": 0.7, "withdrawal": 0.9},
        source="مصدر آخر",
    )
    store(api.database_url, title="قديم", stored_at=late - timedelta(days=40), tags={"strikes": 0.9})
    since = datetime(2026, 10, 4, tzinfo=UTC)
    with session_scope(api.database_url) as session:
        rows = sorted(topic_days(session, since=since), key=lambda row: (row.topic, row.day))
        sources = source_counts(session, since=since)
    assert rows == [
        TopicDay("strikes", date(2026, 11, 2), 2),
        TopicDay("strikes", date(2026, 11, 3), 1),
        TopicDay("withdrawal", date(2026, 11, 3), 1),
    ]
    assert daily_counts(rows)["strikes"] == {date(2026, 11, 2): 2, date(2026, 11, 3): 1}
    assert sources == [("وكالة", 2), ("مصدر آخر", 1)]


def test_the_overview_draws_the_last_30_days_and_the_sources(api: Api, client: TestClient) -> None:
    now = utc_now()
    store(api.database_url, title="غارة على الموصل", stored_at=now, tags={"strikes": 0.9})
    store(api.database_url, title="غارة قرب كركوك", stored_at=now - timedelta(days=1), tags={"strikes": 0.9})
    store(api.database_url, title="خبر قديم جداً", stored_at=now - timedelta(days=45), tags={"strikes": 0.9})
    page = client.get("/overview").text
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert svg.count('<g class="chart-row"') == 1 and 'data-topic="strikes"' in svg
    assert svg.count("<rect") == 30
    assert f"strikes · {now.date().isoformat()}: 1" in svg
    assert re.search(r'fill="#667">2</text>', svg), "the row's total: the two recent articles"
    sources = page[page.index('<table id="sources">') :]
    assert "وكالة" in sources and '<bdi class="ltr">2</bdi>' in sources
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")


def test_the_overview_needs_a_sign_in(api: Api) -> None:
    settings = WebSettings(_env_file=None, database_url=api.database_url)  # type: ignore[call-arg]
    with TestClient(create_app(settings), follow_redirects=False) as anonymous:
        assert anonymous.get("/overview").headers["location"] == "/sign-in"


@pytest.mark.parametrize(
    ("path", "arabic", "english"),
    [
        ("/articles", "<h1>الأخبار</h1>", "<h1>Articles</h1>"),
        ("/articles/missing", "<h1>الخبر غير موجود</h1>", "<h1>No such article</h1>"),
        ("/overview", "<h1>الصورة</h1>", "<h1>Overview</h1>"),
        ("/alerts", "<h1>التنبيهات</h1>", "<h1>Alerts</h1>"),
        ("/subscriptions", "<h1>الاشتراكات</h1>", "<h1>Subscriptions</h1>"),
        (
            "/subscriptions/new",
            "<legend>المواضيع (أيّ منها)</legend>",
            "<legend>Topics (any of them)</legend>",
        ),
        ("/feeds", "<h1>الخلاصات</h1>", "<h1>Feeds</h1>"),
        ("/files", "<h1>الملفات</h1>", "<h1>Files</h1>"),
        ("/upload", "<h1>رفع خبر</h1>", "<h1>Upload an article</h1>"),
    ],
)
def test_every_page_speaks_english_when_asked_and_keeps_it(
    client: TestClient, path: str, arabic: str, english: str
) -> None:
    assert arabic in client.get(path).text
    asked = client.get(path, params={"lang": "en"})
    assert english in asked.text and '<html lang="en" dir="ltr">' in asked.text
    assert "rasid_lang=en" in asked.headers["set-cookie"]
    kept = client.get(path).text
    assert english in kept and '<html lang="en" dir="ltr">' in kept
    back = client.get(path, params={"lang": "ar"}).text
    assert arabic in back and '<html lang="ar" dir="rtl">' in back


def test_an_article_stays_right_to_left_on_an_english_page(api: Api, client: TestClient) -> None:
    article_id = store(api.database_url, title="غارة على الموصل", stored_at=utc_now(), tags={"strikes": 0.9})
    page = client.get(f"/articles/{article_id}", params={"lang": "en"}).text
    assert '<html lang="en" dir="ltr">' in page and "Wrong tag" in page
    assert '<h1 id="title" dir="rtl" lang="ar">' in page and 'id="text" dir="rtl" lang="ar"' in page


def test_the_sign_in_page_speaks_english_signed_out(api: Api) -> None:
    settings = WebSettings(_env_file=None, database_url=api.database_url)  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as anonymous:
        page = anonymous.get("/sign-in", params={"lang": "en"}).text
    assert "<h1>Sign in</h1>" in page and '<html lang="en" dir="ltr">' in page


@pytest.mark.parametrize("package", ["shared.web", "alert_service", "ingest_service"])
def test_every_label_has_both_languages(package: str) -> None:
    labels = Labels([package])
    assert labels.keys()
    for key in sorted(labels.keys()):
        assert labels.label(key, "ar") and labels.label(key, "en")


def test_a_label_missing_a_language_or_a_key_fails_loudly() -> None:
    with pytest.raises(LabelError, match="'feeds'"):
        checked_catalog({"feeds": {"ar": "الخلاصات"}}, origin="test")
    with pytest.raises(LabelError, match="no label 'nothing'"):
        Labels(["shared.web"]).label("nothing", "en")
