"""The dashboard's subscriptions page and rule editor: create and edit a subscription with every kind
of criterion, "test this rule" showing the backtest before anything is saved, an unknown entity's
error beside its field, pause, resume and delete, and the CSRF token every form needs."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from alert_service.models import Subscription
from alert_service.rule_editor import RuleForm, read_form
from alert_service.rule_text import RuleReader
from alert_service.subscriptions import rule_of, schedule_of, state_of
from shared.db import session_scope, utc_now
from shared.gazetteer import entity_finder
from shared.web.tokens import create_token
from tests.web.conftest import Api
from tests.web.test_api import NOW, store_article
from tests.web.test_dashboard import PASSWORD, _csrf, browser, sign_in

__all__ = ["browser"]  # the fixture, used by name

HOOK = "http://127.0.0.1:9/hook"
TITLE = "غارات جوية في الأنبار"
TEXT = "سقطت صواريخ بقاعدة عين الاسد فجر اليوم. وقالت مصادر إن الأضرار محدودة."


def _editor_form(page: str, **fields: Any) -> dict[str, Any]:
    """The rule editor's fields: nothing chosen, a webhook, immediate, and then ``fields``."""
    return {
        "csrf": _csrf(page),
        "channel": "webhook",
        "target": HOOK,
        "mode": "immediate",
        "zone": "UTC",
        "days": "30",
        **fields,
    }


def _subscriptions(api: Api) -> list[Subscription]:
    with session_scope(api.database_url) as session:
        rows = list(session.scalars(select(Subscription).order_by(Subscription.id)))
        session.expunge_all()
        return rows


def _store_recent(api: Api) -> str:
    """The article, stored now (the backtest reads the last days from the clock)."""
    return store_article(api, title=TITLE, text=TEXT, minutes=int((utc_now() - NOW).total_seconds() // 60))


@pytest.mark.parametrize(
    ("fields", "rule_text", "errors"),
    [
        ({"topic": ["strikes"], "score_strikes": ["0.8"]}, "topic:strikes>=0.8", {}),
        (
            {"entities": ["Iraq\nبغداد"], "keywords": ["عين الأسد"], "sources": ["folder\nhost:Example.org"]},
            "entity:country:iq entity:place:baghdad"
            ' keyword:"عين الأسد" source:folder source:host:example.org',
            {},
        ),
        (
            {"topic": ["strikes"], "exclude_topic": ["training"], "exclude_keywords": ["مناورات"]},
            "topic:strikes -topic:training -keyword:مناورات",
            {},
        ),
        ({"entities": ["Baghdadd"]}, "", {"entities": "did you mean place:baghdad"}),
        ({"topic": ["strikes"], "score_strikes": ["2"]}, "", {"topics": "between 0 and 1"}),
        ({"exclude_keywords": ["مناورات"]}, "", {"rule": "at least one topic"}),
        ({"keywords": ["x"], "mode": ["daily"]}, "keyword:x", {"schedule": "needs its time"}),
        ({"keywords": ["x"], "quiet_start": ["22:00"]}, "keyword:x", {"schedule": "a start and an end"}),
    ],
)
def test_the_editor_form_reads_into_a_rule_or_errors_by_field(
    fields: dict[str, list[str]], rule_text: str, errors: dict[str, str]
) -> None:
    reader = RuleReader(entity_finder(), known_topics={"strikes", "training"})
    read = read_form(RuleForm.from_fields(lambda name: fields.get(name, [])), reader)
    assert read.rule_text == rule_text
    assert set(read.errors) == set(errors)
    for name, message in errors.items():
        assert message in " ".join(read.errors[name])


def test_a_stored_rule_fills_the_editor_and_reads_back_the_same() -> None:
    reader = RuleReader(entity_finder(), known_topics={"strikes", "training"})
    fields = {
        "topic": ["strikes"],
        "score_strikes": ["0.7"],
        "entities": ["Iraq"],
        "keywords": ["عين الأسد"],
        "exclude_topic": ["training"],
        "mode": ["daily"],
        "at": ["08:00"],
        "zone": ["Asia/Baghdad"],
    }
    first = read_form(RuleForm.from_fields(lambda name: fields.get(name, [])), reader)
    assert first.rule is not None and first.schedule is not None
    again = read_form(RuleForm.of(first.rule, first.schedule), reader)
    assert (again.rule, again.schedule) == (first.rule, first.schedule)


def test_create_a_webhook_subscription_and_see_its_secret_once(api: Api, browser: TestClient) -> None:
    assert sign_in(browser, PASSWORD) == 303
    page = browser.get("/subscriptions/new")
    assert page.status_code == 200 and 'id="rule-editor"' in page.text
    fields = {
        "topic": "strikes",
        "score_strikes": "0.8",
        "entities": "Iraq",
        "mode": "daily",
        "at": "08:00",
        "zone": "Asia/Baghdad",
        "action": "save",
    }
    created = browser.post("/subscriptions/new", data=_editor_form(page.text, **fields))
    assert created.status_code == 201, created.text
    assert 'id="secret"' in created.text and "whsec_" in created.text
    [stored] = _subscriptions(api)
    assert stored.secret and stored.secret in created.text
    listed = browser.get("/subscriptions")
    assert "topic:strikes&gt;=0.8 entity:country:iq" in listed.text
    assert "daily at 08:00 (Asia/Baghdad)" in listed.text
    assert stored.secret not in listed.text
    assert stored.secret not in browser.get(f"/subscriptions/{stored.id}/edit").text


def test_test_this_rule_shows_the_match_with_its_evidence_and_saves_nothing(
    api: Api, browser: TestClient
) -> None:
    article_id = _store_recent(api)
    store_article(api, title="خبر آخر", text="لا شيء هنا عن القواعد.", minutes=1)
    assert sign_in(browser, PASSWORD) == 303
    page = browser.get("/subscriptions/new")
    tested = browser.post(
        "/subscriptions/new", data=_editor_form(page.text, keywords="قاعدة عين الأسد", action="test")
    )
    assert tested.status_code == 200, tested.text
    assert 'id="test-results"' in tested.text
    assert '<bdi class="ltr" id="match-count">1</bdi>' in tested.text
    assert f'href="/articles/{article_id}"' in tested.text and TITLE in tested.text
    assert '<mark class="evidence">سقطت صواريخ بقاعدة عين الاسد فجر اليوم</mark>' in (tested.text)
    assert "keyword قاعدة عين الأسد" in tested.text
    assert "قاعدة عين الأسد</textarea>" in tested.text  # the form comes back as it was sent
    assert _subscriptions(api) == []


def test_an_unknown_entity_is_shown_beside_its_field_and_nothing_is_saved(
    api: Api, browser: TestClient
) -> None:
    assert sign_in(browser, PASSWORD) == 303
    page = browser.get("/subscriptions/new")
    for action in ("test", "save"):
        refused = browser.post(
            "/subscriptions/new", data=_editor_form(page.text, entities="Baghdadd", action=action)
        )
        assert refused.status_code == 422
        assert (
            'data-field="entities">no actor or place is called &#39;Baghdadd&#39;; did you mean'
            in refused.text
        )
        assert "place:baghdad" in refused.text and ">Baghdadd</textarea>" in refused.text
    assert _subscriptions(api) == []


def test_a_bad_target_is_shown_and_nothing_is_saved(api: Api, browser: TestClient) -> None:
    assert sign_in(browser, PASSWORD) == 303
    page = browser.get("/subscriptions/new")
    form = _editor_form(page.text, channel="email", target="not an address", keywords="x", action="save")
    refused = browser.post("/subscriptions/new", data=form)
    assert refused.status_code == 422 and 'data-field="target"' in refused.text
    assert _subscriptions(api) == []


def test_edit_changes_the_rule_and_schedule(api: Api, browser: TestClient) -> None:
    assert sign_in(browser, PASSWORD) == 303
    page = browser.get("/subscriptions/new")
    browser.post("/subscriptions/new", data=_editor_form(page.text, topic="strikes", action="save"))
    [stored] = _subscriptions(api)
    editor = browser.get(f"/subscriptions/{stored.id}/edit")
    assert editor.status_code == 200
    assert 'name="topic" value="strikes" checked' in editor.text
    fields = {"keywords": "عين الأسد", "quiet_start": "22:00", "quiet_end": "07:00", "zone": "Asia/Baghdad"}
    saved = browser.post(
        f"/subscriptions/{stored.id}/edit", data=_editor_form(editor.text, **fields, action="save")
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"/subscriptions?saved={stored.id}"
    [changed] = _subscriptions(api)
    assert rule_of(changed).keywords == ("عين الأسد",) and rule_of(changed).topics == ()
    assert str(schedule_of(changed).quiet) == "(datetime.time(22, 0), datetime.time(7, 0))"
    assert changed.secret == stored.secret


def test_pause_resume_and_delete_from_the_list(api: Api, browser: TestClient) -> None:
    assert sign_in(browser, PASSWORD) == 303
    page = browser.get("/subscriptions/new")
    browser.post("/subscriptions/new", data=_editor_form(page.text, topic="strikes", action="save"))
    [stored] = _subscriptions(api)
    csrf = _csrf(browser.get("/subscriptions").text)
    assert browser.post(f"/subscriptions/{stored.id}/pause", data={"csrf": csrf}).status_code == 303
    assert [state_of(row) for row in _subscriptions(api)] == ["paused"]
    listed = browser.get("/subscriptions").text
    assert "موقوف مؤقتًا" in listed and 'class="resume"' in listed
    assert browser.post(f"/subscriptions/{stored.id}/resume", data={"csrf": csrf}).status_code == 303
    assert [state_of(row) for row in _subscriptions(api)] == ["active"]
    assert browser.post(f"/subscriptions/{stored.id}/delete", data={"csrf": csrf}).status_code == 303
    assert [state_of(row) for row in _subscriptions(api)] == ["removed"]
    assert "لا اشتراكات" in browser.get("/subscriptions").text
    assert browser.post(f"/subscriptions/{stored.id}/resume", data={"csrf": csrf}).status_code == 404
    assert browser.get(f"/subscriptions/{stored.id}/edit").status_code == 404


def test_every_form_needs_the_csrf_token_and_a_writer(api: Api, browser: TestClient) -> None:
    assert sign_in(browser, PASSWORD) == 303
    page = browser.get("/subscriptions/new")
    form = _editor_form(page.text, topic="strikes", action="save")
    assert browser.post("/subscriptions/new", data=form | {"csrf": "forged"}).status_code == 403
    without = {key: value for key, value in form.items() if key != "csrf"}
    assert browser.post("/subscriptions/new", data=without).status_code in (403, 422)
    assert _subscriptions(api) == []
    browser.post("/subscriptions/new", data=form)
    [stored] = _subscriptions(api)
    for action in ("pause", "delete"):
        assert (
            browser.post(f"/subscriptions/{stored.id}/{action}", data={"csrf": "forged"}).status_code == 403
        )
    assert [state_of(row) for row in _subscriptions(api)] == ["active"]
    browser.post("/sign-out", data={"csrf": _csrf(browser.get("/subscriptions").text)})
    with session_scope(api.database_url) as session:
        token = create_token(session, "viewer", read_only=True).token
    assert sign_in(browser, token) == 303
    viewer = _csrf(browser.get("/subscriptions").text)
    assert browser.post(f"/subscriptions/{stored.id}/pause", data={"csrf": viewer}).status_code == 403
    assert browser.post("/subscriptions/new", data=form | {"csrf": viewer}).status_code == 403


def test_signed_out_the_pages_redirect_to_sign_in(browser: TestClient) -> None:
    for path in ("/subscriptions", "/subscriptions/new", "/subscriptions/1/edit"):
        response = browser.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/sign-in"


def test_a_webhook_password_is_never_shown_and_an_edit_keeps_it(api: Api, browser: TestClient) -> None:
    assert sign_in(browser, PASSWORD) == 303
    page = browser.get("/subscriptions/new")
    secret_url = "http://rasid:s3cret-pass@127.0.0.1:9/hook"
    browser.post(
        "/subscriptions/new", data=_editor_form(page.text, target=secret_url, topic="strikes", action="save")
    )
    [stored] = _subscriptions(api)
    listed = browser.get("/subscriptions").text
    editor = browser.get(f"/subscriptions/{stored.id}/edit").text
    assert "rasid:***@127.0.0.1:9/hook" in listed and "rasid:***@127.0.0.1:9/hook" in editor
    assert "s3cret-pass" not in listed + editor
    form = _editor_form(
        editor, target="http://rasid:***@127.0.0.1:9/hook", keywords="عين الأسد", action="save"
    )
    assert browser.post(f"/subscriptions/{stored.id}/edit", data=form).status_code == 303
    [changed] = _subscriptions(api)
    assert changed.target == secret_url and rule_of(changed).keywords == ("عين الأسد",)
