"""The API against a real database (SQLite and PostgreSQL): every route needs a token, read-only
tokens cannot write, lists page by keyset cursors, and errors are RFC 9457 problem details."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from alert_service.models import Alert, DeliveryAttempt
from alert_service.store import store_classified
from classifier_service.feedback import FeedbackLabel
from ingest_service.models import SeenFile
from shared.db import session_scope
from shared.messages import ArticleClassified, content_id
from shared.web.app import API_PREFIX, create_app
from shared.web.settings import WebSettings
from shared.web.tokens import revoke_token
from tests.alert.helpers import load_fixture
from tests.web.conftest import Api, bearer

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}


def _api_routes() -> list[tuple[str, str]]:
    """Every API operation the app documents (the routes every service contributes), ids set to 1."""
    paths = create_app(WebSettings(_env_file=None)).openapi()["paths"]  # type: ignore[call-arg]
    return sorted(
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, operations in paths.items()
        if path.startswith(API_PREFIX)
        for method in operations
    )


API_ROUTES = _api_routes()


def store_article(
    api: Api, *, title: str, text: str, minutes: int = 0, tags: dict[str, float] | None = None
) -> str:
    """Store a classified article (as the alert worker does) ``minutes`` after NOW; returns its id."""
    payload = load_fixture("classified_article.json")
    article_id = content_id(title, text)
    payload["article"].update(article_id=article_id, title=title, text=text)
    if tags is not None:
        payload["classification"].update(tags=list(tags), scores=tags, evidence=[])
    with session_scope(api.database_url) as session:
        store_classified(
            session, ArticleClassified.from_payload(payload), now=NOW + timedelta(minutes=minutes)
        )
    return article_id


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"] and "type" in body
    return body


def test_the_routes_each_service_contributes_are_mounted() -> None:
    paths = {path for _method, path in API_ROUTES}
    assert {
        f"{API_PREFIX}/articles",
        f"{API_PREFIX}/subscriptions",
        f"{API_PREFIX}/alerts",
        f"{API_PREFIX}/feeds",
        f"{API_PREFIX}/files",
        f"{API_PREFIX}/feedback",
    } <= paths


def test_every_api_route_needs_a_token(api: Api) -> None:
    for method, path in API_ROUTES:
        body = assert_problem(api.client.request(method, path), 401)
        assert body["type"].endswith("/unauthenticated"), (method, path)
        assert_problem(api.client.request(method, path, headers=bearer("rsd_not-a-token")), 401)


def test_a_read_only_token_cannot_write(api: Api) -> None:
    writes = [(method, path) for method, path in API_ROUTES if method in WRITE_METHODS]
    assert len(writes) >= 6
    for method, path in writes:
        body = assert_problem(api.client.request(method, path, headers=api.reader, json={}), 403)
        assert body["type"].endswith("/read-only-token"), (method, path)


def test_a_revoked_token_is_refused(api: Api) -> None:
    assert api.client.get(f"{API_PREFIX}/articles", headers=api.reader).status_code == 200
    with session_scope(api.database_url) as session:
        revoke_token(session, 2)
    assert_problem(api.client.get(f"{API_PREFIX}/articles", headers=api.reader), 401)


def test_health_needs_no_token_and_readiness_checks_database_and_broker(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    # The embedded broker's folder does not exist until a stack runs: not ready, and it says why.
    assert ready.status_code == 503
    assert any("broker" in problem for problem in ready.json()["problems"])
    (api.client.app.state.settings.broker_folder).mkdir(parents=True)  # type: ignore[attr-defined]
    assert api.client.get("/readyz").status_code == 200


def test_articles_page_newest_first_with_a_cursor(api: Api) -> None:
    ids = [store_article(api, title=f"خبر {n}", text=f"نص الخبر رقم {n}.", minutes=n) for n in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.client.get(f"{API_PREFIX}/articles", params=params, headers=api.reader).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))


def test_articles_filter_by_topic_entity_source_and_dates(api: Api) -> None:
    strike = store_article(api, title="غارة", text="غارة على موقع.", tags={"strikes": 0.9})
    withdrawal = store_article(
        api, title="انسحاب", text="انسحاب القوات.", minutes=10, tags={"withdrawal": 0.7}
    )

    def ids(**params: Any) -> list[str]:
        response = api.client.get(f"{API_PREFIX}/articles", params=params, headers=api.reader)
        return [item["id"] for item in response.json()["items"]]

    assert ids(topic="strikes") == [strike]
    assert ids(entity="place:border") == [withdrawal, strike]
    assert ids(entity="country:iq") == []
    assert ids(source="feed: أخبار الشرق") == [withdrawal, strike]
    assert ids(since=(NOW + timedelta(minutes=5)).isoformat()) == [withdrawal]
    assert ids(until=(NOW + timedelta(minutes=5)).isoformat()) == [strike]


def test_search_folds_arabic_like_the_classifier(api: Api) -> None:
    with_article = store_article(api, title="بيان", text="أعلن الجيش الانسحاب من البلدة.")
    with_hamza = store_article(api, title="خبر", text="بدأ إنسحاب القوات فجراً.", minutes=1)
    store_article(api, title="غارة", text="غارة جوية على موقع.", minutes=2)
    response = api.client.get(f"{API_PREFIX}/articles", params={"q": "انسحاب"}, headers=api.reader)
    assert [item["id"] for item in response.json()["items"]] == [with_hamza, with_article]


def test_an_article_shows_tags_evidence_entities_and_alerts(api: Api) -> None:
    created = api.client.post(
        f"{API_PREFIX}/subscriptions",
        json={"channel": "webhook", "target": "http://127.0.0.1:9/hook", "rule": "topic:strikes"},
        headers=api.writer,
    ).json()
    article_id = store_article(
        api, title="غارات جوية على مواقع", text="شنت طائرات حربية غارات جوية على مواقع."
    )
    article = api.client.get(f"{API_PREFIX}/articles/{article_id}", headers=api.reader).json()
    assert article["text"].startswith("شنت")
    assert [tag["topic"] for tag in article["tags"]] == ["strikes", "withdrawal"]
    evidence = article["tags"][0]["evidence"][0]
    assert {"start", "end", "matched", "field"} <= set(evidence)
    assert article["entities"] == [{"id": "place:border", "kind": "place", "name": "الحدود", "mentions": 2}]
    assert [(alert["subscription_id"], alert["status"]) for alert in article["alerts"]] == [
        (created["id"], "pending")
    ]
    assert_problem(api.client.get(f"{API_PREFIX}/articles/nope", headers=api.reader), 404)


def test_subscriptions_crud_and_the_secret_shown_once(api: Api) -> None:
    url = f"{API_PREFIX}/subscriptions"
    created = api.client.post(
        url,
        json={
            "channel": "webhook",
            "target": "http://127.0.0.1:9/hook",
            "rule": "topic:strikes>=0.8 entity:Iraq",
        },
        headers=api.writer,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["rule_text"] == "topic:strikes>=0.8 entity:country:iq"
    shown = api.client.get(f"{url}/{body['id']}", headers=api.reader).json()
    assert "secret" not in shown and shown["rule"]["entities"] == ["country:iq"]
    listed = api.client.get(url, headers=api.reader).json()
    assert body["secret"] not in str(listed)

    paused = api.client.patch(
        f"{url}/{body['id']}", json={"active": False, "rule": "keyword:انسحاب"}, headers=api.writer
    )
    assert paused.json()["active"] is False and paused.json()["rule_text"] == "keyword:انسحاب"
    resumed = api.client.patch(f"{url}/{body['id']}", json={"active": True}, headers=api.writer)
    assert resumed.json()["active"] is True
    assert api.client.delete(f"{url}/{body['id']}", headers=api.writer).status_code == 204
    assert_problem(api.client.delete(f"{url}/{body['id']}", headers=api.writer), 404)
    assert_problem(api.client.get(f"{url}/999", headers=api.reader), 404)


def test_patch_changes_rule_schedule_and_target_and_pauses(api: Api) -> None:
    url = f"{API_PREFIX}/subscriptions"
    payload = {"channel": "email", "target": "a@example.org", "rule": "topic:strikes", "schedule": "hourly"}
    created = api.client.post(url, json=payload, headers=api.writer).json()
    assert created["delivery"] == "hourly (UTC)" and created["state"] == "active"
    one = f"{url}/{created['id']}"
    changed = api.client.patch(
        one,
        json={
            "rule": "topic:strikes>=0.8 entity:بغداد",
            "schedule": "daily@08:00",
            "time_zone": "Asia/Baghdad",
        },
        headers=api.writer,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["rule_text"] == "topic:strikes>=0.8 entity:place:baghdad"
    assert body["delivery"] == "daily at 08:00 (Asia/Baghdad)"
    assert body["schedule"]["at"] == "08:00:00"
    quiet = {"schedule": "immediate", "quiet_hours": "22:00-07:00", "target": "b@example.org"}
    body = api.client.patch(one, json=quiet, headers=api.writer).json()
    assert body["delivery"] == "immediate (Asia/Baghdad), quiet 22:00-07:00"
    assert body["target"] == "b@example.org" and body["rule_text"].startswith("topic:strikes>=0.8")
    paused = api.client.patch(one, json={"active": False}, headers=api.writer).json()
    assert (paused["state"], paused["active"]) == ("paused", False)
    listed = api.client.get(url, headers=api.reader).json()["items"]
    assert [(item["id"], item["state"]) for item in listed] == [(created["id"], "paused")]
    assert api.client.delete(one, headers=api.writer).status_code == 204
    assert api.client.get(url, headers=api.reader).json()["items"] == []
    assert_problem(api.client.get(one, headers=api.reader), 404)
    assert_problem(api.client.patch(one, json={"active": True}, headers=api.writer), 404)


@pytest.mark.parametrize(
    ("patch", "status", "kind", "detail"),
    [
        ({"rule": "entity:Baghdadd"}, 422, "bad-rule", "did you mean place:baghdad"),
        ({"rule": "topic:no_such_topic"}, 422, "bad-rule", "unknown topic"),
        ({"rule": "-keyword:مناورات"}, 422, "bad-rule", "at least one topic"),
        ({"schedule": "weekly"}, 422, "bad-schedule", "immediate, hourly or daily"),
        ({"time_zone": "Baghdad"}, 422, "bad-schedule", "not an IANA time zone"),
        ({"schedule": "hourly", "quiet_hours": "22:00-07:00"}, 422, "bad-schedule", "quiet hours"),
        ({"target": "not an address"}, 422, "bad-target", "not an email address"),
        ({"active": "maybe"}, 422, "invalid-request", "not valid"),
    ],
)
def test_a_bad_patch_is_a_problem_and_changes_nothing(
    api: Api, patch: dict[str, Any], status: int, kind: str, detail: str
) -> None:
    url = f"{API_PREFIX}/subscriptions"
    payload = {"channel": "email", "target": "a@example.org", "rule": "topic:strikes"}
    created = api.client.post(url, json=payload, headers=api.writer).json()
    body = assert_problem(api.client.patch(f"{url}/{created['id']}", json=patch, headers=api.writer), status)
    assert body["type"].endswith(f"/{kind}") and detail in body["detail"], body
    shown = api.client.get(f"{url}/{created['id']}", headers=api.reader).json()
    assert (shown["rule_text"], shown["delivery"], shown["target"]) == (
        "topic:strikes",
        "immediate",
        "a@example.org",
    )


def test_patch_needs_a_writer_and_an_existing_subscription(api: Api) -> None:
    url = f"{API_PREFIX}/subscriptions"
    payload = {"channel": "email", "target": "a@example.org", "rule": "topic:strikes"}
    created = api.client.post(url, json=payload, headers=api.writer).json()
    refused = api.client.patch(f"{url}/{created['id']}", json={"active": False}, headers=api.reader)
    assert assert_problem(refused, 403)["type"].endswith("/read-only-token")
    missing = api.client.patch(f"{url}/999", json={"active": False}, headers=api.writer)
    assert assert_problem(missing, 404)["type"].endswith("/not-found")


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ({"channel": "email", "target": "a@example.org", "rule": "topic:no_such_topic"}, "bad-rule"),
        ({"channel": "email", "target": "a@example.org", "rule": "entity:Atlantis"}, "bad-rule"),
        ({"channel": "email", "target": "a@example.org", "rule": "colour:blue"}, "bad-rule"),
        ({"channel": "webhook", "target": "ftp://example.org/x", "rule": "topic:strikes"}, "bad-target"),
        ({"channel": "email", "target": "not an address", "rule": "topic:strikes"}, "bad-target"),
        ({"channel": "pigeon", "target": "x", "rule": "topic:strikes"}, "invalid-request"),
    ],
)
def test_bad_subscriptions_are_problem_details(api: Api, payload: dict[str, str], kind: str) -> None:
    body = assert_problem(
        api.client.post(f"{API_PREFIX}/subscriptions", json=payload, headers=api.writer), 422
    )
    assert body["type"].endswith(f"/{kind}")
    assert body["detail"]


def test_subscriptions_page_by_cursor(api: Api) -> None:
    for n in range(3):
        payload = {"channel": "email", "target": f"a{n}@example.org", "rule": "topic:strikes"}
        api.client.post(f"{API_PREFIX}/subscriptions", json=payload, headers=api.writer)
    first = api.client.get(f"{API_PREFIX}/subscriptions", params={"limit": 2}, headers=api.reader).json()
    rest = api.client.get(
        f"{API_PREFIX}/subscriptions", params={"limit": 2, "cursor": first["next_cursor"]}, headers=api.reader
    ).json()
    targets = [item["target"] for item in first["items"] + rest["items"]]
    assert targets == ["a0@example.org", "a1@example.org", "a2@example.org"]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", "WzEsMl0", "WyJ4Il0"])
def test_a_cursor_not_given_by_the_api_is_a_bad_request(api: Api, cursor: str) -> None:
    for path in ("subscriptions", "alerts", "feeds", "files", "articles"):
        response = api.client.get(f"{API_PREFIX}/{path}", params={"cursor": cursor}, headers=api.reader)
        assert_problem(response, 400)


def test_alerts_show_their_attempts_and_a_failed_one_is_retried(api: Api) -> None:
    api.client.post(
        f"{API_PREFIX}/subscriptions",
        json={"channel": "webhook", "target": "http://127.0.0.1:9/hook", "rule": "topic:strikes"},
        headers=api.writer,
    )
    store_article(api, title="غارة", text="غارة على موقع.", tags={"strikes": 0.9})
    with session_scope(api.database_url) as session:
        alert = session.scalars(select(Alert)).one()
        alert.status, alert.attempts, alert.last_error = "failed", 1, "HTTP 500"
        session.add(
            DeliveryAttempt(
                alert_id=alert.id,
                attempt=1,
                started_at=NOW,
                finished_at=NOW,
                outcome="failed",
                detail="HTTP 500",
            )
        )
        alert_id = alert.id
    listed = api.client.get(f"{API_PREFIX}/alerts", params={"status": "failed"}, headers=api.reader).json()
    assert [item["id"] for item in listed["items"]] == [alert_id]
    assert listed["items"][0]["attempt_history"][0]["detail"] == "HTTP 500"
    retried = api.client.post(f"{API_PREFIX}/alerts/{alert_id}/retry", headers=api.writer)
    assert retried.json() == {"alert_ids": [alert_id]}
    assert api.client.get(f"{API_PREFIX}/alerts/{alert_id}", headers=api.reader).json()["status"] == "pending"
    assert_problem(api.client.post(f"{API_PREFIX}/alerts/999/retry", headers=api.writer), 404)
    assert_problem(api.client.get(f"{API_PREFIX}/alerts", params={"status": "lost"}, headers=api.reader), 422)


def test_feeds_added_listed_with_health_and_removed(api: Api) -> None:
    added = api.client.post(
        f"{API_PREFIX}/feeds", json={"url": "http://127.0.0.1:9/rss.xml"}, headers=api.writer
    )
    assert added.status_code == 201, added.text
    feed = added.json()
    assert feed["last_polled_at"] is None and feed["error_count"] == 0
    listed = api.client.get(f"{API_PREFIX}/feeds", headers=api.reader).json()
    assert [item["url"] for item in listed["items"]] == ["http://127.0.0.1:9/rss.xml"]
    body = assert_problem(
        api.client.post(f"{API_PREFIX}/feeds", json={"url": "gopher://x"}, headers=api.writer), 422
    )
    assert body["type"].endswith("/bad-url")
    assert api.client.delete(f"{API_PREFIX}/feeds/{feed['id']}", headers=api.writer).status_code == 204
    assert_problem(api.client.delete(f"{API_PREFIX}/feeds/{feed['id']}", headers=api.writer), 404)


def test_files_list_the_rejected_with_their_reasons(api: Api) -> None:
    with session_scope(api.database_url) as session:
        for n, (status, reason) in enumerate(
            [("ingested", None), ("rejected", "not UTF-8 or Windows-1256"), ("duplicate", None)]
        ):
            session.add(
                SeenFile(
                    path=f"inbox/{n}.txt", size=10, mtime_ns=n, status=status, reason=reason, seen_at=NOW
                )
            )
    rejected = api.client.get(f"{API_PREFIX}/files", params={"status": "rejected"}, headers=api.reader).json()
    assert [(item["path"], item["reason"]) for item in rejected["items"]] == [
        ("inbox/1.txt", "not UTF-8 or Windows-1256")
    ]
    everything = api.client.get(f"{API_PREFIX}/files", params={"limit": 2}, headers=api.reader).json()
    assert [item["path"] for item in everything["items"]] == ["inbox/2.txt", "inbox/1.txt"]
    assert everything["next_cursor"]


def test_feedback_marks_a_tag_wrong_and_is_stored_with_who(api: Api) -> None:
    title, text = "مناورات", "أجرت القوات مناورات عسكرية."
    article_id = content_id(title, text)
    payload = {"article_id": article_id, "title": title, "text": text, "topic": "strikes", "label": False}
    created = api.client.post(f"{API_PREFIX}/feedback", json=payload, headers=api.writer)
    assert created.status_code == 201, created.text
    assert created.json()["given_by"] == "token:analyst"
    with session_scope(api.database_url) as session:
        stored = session.scalars(select(FeedbackLabel)).one()
        assert (stored.article_id, stored.topic, stored.label) == (article_id, "strikes", False)
    wrong = payload | {"article_id": "0" * 32}
    assert_problem(api.client.post(f"{API_PREFIX}/feedback", json=wrong, headers=api.writer), 422)
    unknown = payload | {"topic": "no_such_topic"}
    assert_problem(api.client.post(f"{API_PREFIX}/feedback", json=unknown, headers=api.writer), 422)


def test_the_openapi_schema_is_valid_and_documents_problems(api: Api) -> None:
    from openapi_spec_validator import validate

    schema = api.client.get(f"{API_PREFIX}/openapi.json").json()
    validate(schema)
    articles = schema["paths"][f"{API_PREFIX}/articles"]["get"]
    assert "application/problem+json" in articles["responses"]["401"]["content"]
    assert api.client.get(f"{API_PREFIX}/docs").status_code == 200


def test_a_subscription_is_an_atom_feed_read_with_a_token_in_the_url(api: Api) -> None:
    import feedparser

    created = api.client.post(
        f"{API_PREFIX}/subscriptions",
        json={"channel": "email", "target": "a@example.org", "rule": "topic:strikes"},
        headers=api.writer,
    ).json()
    article_id = store_article(
        api, title="غارة جوية على موقع", text="شنت طائرات غارة جوية.", tags={"strikes": 0.9}
    )
    store_article(api, title="مناورات", text="أجرت القوات مناورات.", minutes=1, tags={"training": 0.9})
    url = f"/feeds/subscriptions/{created['id']}.atom"
    assert_problem(api.client.get(url), 401)
    token = api.reader["Authorization"].removeprefix("Bearer ")
    response = api.client.get(url, params={"token": token})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert [entry.id for entry in parsed.entries] == [f"urn:rasid:article:{article_id}"]
    assert parsed.entries[0].title == "غارة جوية على موقع"
    assert 'dir="rtl"' in parsed.entries[0].content[0].value
    assert token not in response.text
    assert_problem(api.client.get("/feeds/subscriptions/999.atom", params={"token": token}), 404)


def test_metrics_count_what_each_service_stored_and_need_a_token(api: Api) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    assert_problem(api.client.get("/metrics"), 401)
    store_article(api, title="غارة", text="غارة على موقع.", tags={"strikes": 0.9})
    with session_scope(api.database_url) as session:
        session.add(
            SeenFile(
                path="inbox/x.bin", size=1, mtime_ns=1, status="rejected", reason="empty file", seen_at=NOW
            )
        )
    response = api.client.get("/metrics", headers=api.reader)
    assert response.status_code == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    assert samples[("rasid_articles_stored_total", (("source", "feed: أخبار الشرق"),))] == 1
    assert samples[("rasid_articles_tagged_total", (("topic", "strikes"),))] == 1
    assert samples[("rasid_files_rejected_total", (("reason", "empty file"),))] == 1
    assert samples[("rasid_broker_up", ())] == 0  # no embedded broker folder in this test


def test_an_article_shows_its_story_from_every_outlet_and_lists_filter_by_story(api: Api) -> None:
    text = "قصفت طائرات مسيرة مخزن أسلحة قرب مطار الموصل فجر الأحد وقتل ثلاثة عناصر في الهجوم على المخزن."
    first = store_article(api, title="غارة بمسيرة على مخزن أسلحة قرب مطار الموصل", text=text)
    second = store_article(
        api, title="مسيرة تقصف مخزن أسلحة قرب مطار الموصل", text=text + " وأكد مصدر أمني الخبر.", minutes=5
    )
    store_article(
        api,
        title="مناورات بحرية في الخليج",
        text="أجرت القوات البحرية مناورات واسعة في مياه الخليج.",
        minutes=6,
    )
    article = api.client.get(f"{API_PREFIX}/articles/{second}", headers=api.reader).json()
    assert article["story_id"] is not None
    assert [item["id"] for item in article["story"]] == [first, second]
    listed = api.client.get(
        f"{API_PREFIX}/articles", params={"story": article["story_id"]}, headers=api.reader
    )
    assert [item["id"] for item in listed.json()["items"]] == [second, first]


def test_a_search_reads_a_bounded_share_per_page_and_the_cursor_reads_on(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alert_service import queries

    monkeypatch.setattr(queries, "SEARCH_BATCH", 2)
    monkeypatch.setattr(queries, "SEARCH_SCAN", 4)
    wanted = store_article(api, title="بيان", text="أعلن الجيش الانسحاب من البلدة.")
    for n in range(6):
        store_article(api, title=f"خبر {n}", text=f"غارة على موقع رقم {n}.", minutes=n + 1)
    found: list[str] = []
    pages = 0
    cursor = None
    while True:
        params: dict[str, Any] = {"q": "انسحاب"} | ({"cursor": cursor} if cursor else {})
        page = api.client.get(f"{API_PREFIX}/articles", params=params, headers=api.reader).json()
        found += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert found == [wanted]
    assert pages == 2  # the first page read four articles and came back empty, with a cursor
