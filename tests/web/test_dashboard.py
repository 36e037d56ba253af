"""The dashboard: sign-in (admin password or token; rate-limited; HttpOnly SameSite=Lax cookie),
nothing shown signed out, Arabic pages right to left, evidence highlighted in place, and a tag marked
wrong through a CSRF-protected form stored as feedback with who gave it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from alert_service.dashboard import highlighted
from classifier_service.feedback import FeedbackLabel
from shared.db import session_scope
from shared.web.app import create_app
from shared.web.settings import WebSettings
from shared.web.tokens import create_token
from tests.web.conftest import Api
from tests.web.test_api import store_article

PASSWORD = "correct horse battery staple"


@pytest.fixture
def browser(api: Api) -> Iterator[TestClient]:
    settings = WebSettings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=api.database_url,
        admin_password=SecretStr(PASSWORD),
    )
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(client: TestClient, secret: str) -> int:
    form = client.get("/sign-in")
    return client.post("/sign-in", data={"csrf": _csrf(form.text), "secret": secret}).status_code


@pytest.mark.parametrize(
    ("text", "spans", "pieces"),
    [
        ("abcdef", [(1, 3)], [("a", False), ("bc", True), ("def", False)]),
        ("abcdef", [(0, 2), (1, 4)], [("abcd", True), ("ef", False)]),
        ("abc", [(2, 9), (-1, 0)], [("ab", False), ("c", True)]),
        ("غارات جوية", [(0, 5)], [("غارات", True), (" جوية", False)]),
    ],
)
def test_highlighted_pieces(text: str, spans: list[tuple[int, int]], pieces: list[tuple[str, bool]]) -> None:
    assert highlighted(text, spans) == pieces


def test_nothing_is_shown_signed_out(browser: TestClient) -> None:
    for path in ("/", "/articles", "/articles/x"):
        response = browser.get(path)
        assert response.status_code == 303
        assert response.headers["location"] in ("/sign-in", "/articles")
    assert browser.get("/healthz").status_code == 200


def test_sign_in_sets_a_safe_cookie_and_pages_are_right_to_left(api: Api, browser: TestClient) -> None:
    article_id = store_article(
        api, title="غارات جوية على مواقع", text="شنت طائرات حربية غارات جوية على مواقع."
    )
    assert sign_in(browser, "wrong") == 401
    form = browser.get("/sign-in")
    answer = browser.post("/sign-in", data={"csrf": _csrf(form.text), "secret": PASSWORD})
    assert answer.status_code == 303 and answer.headers["location"] == "/articles"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    page = browser.get("/articles")
    assert page.status_code == 200
    assert '<html lang="ar" dir="rtl">' in page.text
    assert "غارات جوية على مواقع" in page.text
    article = browser.get(f"/articles/{article_id}").text
    assert "<mark>غارات جوية</mark>" in article
    assert "http://" not in article.split("<body>")[0].replace("http://www.w3.org", "")  # nothing fetched


def test_a_token_signs_in_and_a_read_only_one_cannot_send_forms(api: Api, browser: TestClient) -> None:
    with session_scope(api.database_url) as session:
        token = create_token(session, "viewer", read_only=True).token
    assert sign_in(browser, token) == 303
    article_id = store_article(api, title="خبر", text="نص.")
    page = browser.get(f"/articles/{article_id}")
    data = {
        "csrf": _csrf(page.text),
        "article_id": article_id,
        "title": "خبر",
        "text": "نص.",
        "topic": "strikes",
        "label": "0",
    }
    assert browser.post("/feedback", data=data).status_code == 403


def test_sign_in_is_rate_limited(browser: TestClient) -> None:
    codes = [sign_in(browser, f"guess {n}") for n in range(6)]
    assert codes == [401] * 5 + [429]


def test_marking_a_tag_wrong_is_stored_with_who_and_needs_the_csrf_token(
    api: Api, browser: TestClient
) -> None:
    title, text = "غارات جوية على مواقع", "شنت طائرات حربية غارات جوية على مواقع."
    article_id = store_article(api, title=title, text=text)
    assert sign_in(browser, PASSWORD) == 303
    page = browser.get(f"/articles/{article_id}")
    data = {"article_id": article_id, "title": title, "text": text, "topic": "strikes", "label": "0"}
    assert browser.post("/feedback", data=data | {"csrf": "forged"}).status_code == 403
    saved = browser.post("/feedback", data=data | {"csrf": _csrf(page.text)})
    assert saved.status_code == 303 and saved.headers["location"] == f"/articles/{article_id}?feedback=saved"
    with session_scope(api.database_url) as session:
        label = session.scalars(select(FeedbackLabel)).one()
        assert (label.article_id, label.topic, label.label, label.given_by) == (
            article_id,
            "strikes",
            False,
            "admin",
        )


def test_alerts_show_every_attempt_and_a_failed_one_is_retried_from_its_form(
    api: Api, browser: TestClient
) -> None:
    from alert_service.models import Alert, DeliveryAttempt
    from tests.web.test_api import NOW

    api.client.post(
        "/api/v1/subscriptions",
        json={"channel": "webhook", "target": "http://127.0.0.1:9/hook", "rule": "topic:strikes"},
        headers=api.writer,
    )
    store_article(api, title="غارة", text="غارة على موقع.", tags={"strikes": 0.9})
    with session_scope(api.database_url) as session:
        alert = session.scalars(select(Alert)).one()
        alert.status, alert.attempts, alert.last_error = "failed", 1, "HTTP 503"
        session.add(
            DeliveryAttempt(
                alert_id=alert.id,
                attempt=1,
                started_at=NOW,
                finished_at=NOW,
                outcome="failed",
                detail="HTTP 503",
            )
        )
        alert_id = alert.id
    assert sign_in(browser, PASSWORD) == 303
    page = browser.get("/alerts", params={"status": "failed"})
    assert "HTTP 503" in page.text and f'action="/alerts/{alert_id}/retry"' in page.text
    assert browser.post(f"/alerts/{alert_id}/retry", data={"csrf": "forged"}).status_code == 403
    retried = browser.post(f"/alerts/{alert_id}/retry", data={"csrf": _csrf(page.text)})
    assert retried.status_code == 303
    with session_scope(api.database_url) as session:
        assert session.get(Alert, alert_id).status == "pending"  # type: ignore[union-attr]
