"""The dashboard in a real browser, on the real pipeline: headless Chromium (Debian's package) driven by
Playwright against ``rasid run`` (the embedded stack: watcher, workers, beat and the web process,
on SQLite and the file broker), with a real HTTP receiver for webhooks.

The browser signs in and makes a webhook subscription with the rule editor (topic strikes, entity
Iraq; "test this rule" on the still empty store first), keeping the signing secret it is shown once.
It uploads an Arabic article through the upload page, waits for the pipeline to store it, opens it
(laid out right to left, its evidence highlighted), marks a tag wrong, and adds a feed; the alert
reaches the receiver exactly once, signed with that secret. Screenshots of the pages go to
``var/screenshots/`` (the test's artefacts). In CI the test never skips: without Chromium it fails.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from alert_service.models import Subscription
from classifier_service.feedback import FeedbackLabel
from shared.db import dispose_engines, session_scope
from tests.e2e.stack import Stack, embedded_stack, stack_env
from tests.peers import ACCEPT, HttpPeer, Request, error, http_peer, wait_for
from tests.web.browser import (
    PASSWORD,
    browser_page,
    open_the_editor,
    save_and_read_the_secret,
    shoot,
    sign_in,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

# The title names no attack: the evidence the page highlights is in the text.
TITLE = "تطورات أمنية قرب الموصل في شمال العراق"
TEXT = (
    "شنت طائرات حربية غارات جوية فجر اليوم على مواقع لمسلحين قرب مدينة الموصل في شمال العراق، "
    "وقال مصدر أمني إن القصف استهدف مخازن أسلحة ومقرات قيادة في منطقة جبلية وعرة. "
    "وأضاف المصدر أن العملية جاءت بعد رصد تحركات للمسلحين خلال الأيام الماضية قرب الحدود."
)
# The pipeline (watcher, three workers) may take a while on a loaded machine.
PIPELINE_SECONDS = 180
QUIET_SECONDS = 3.0


@pytest.fixture
def receiver() -> Iterator[HttpPeer]:
    with http_peer(fallback=ACCEPT) as peer:
        peer.route("/feed.xml", error(503))
        yield peer


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    env = stack_env(
        workdir=tmp_path,
        database_url="",
        broker_url="filesystem://",
        extra={
            "RASID_ADMIN_PASSWORD": PASSWORD,
            "RASID_RESCAN_SECONDS": "5",
            "RASID_FEED_POLL_SECONDS": "2",
        },
    )
    with embedded_stack(env, tmp_path) as running:
        try:
            yield running
        finally:
            print(running.logs())


def stack_url(stack: Stack) -> str:
    """The stack's web address, once it is ready."""
    url = f"http://127.0.0.1:{stack.env['RASID_WEB_PORT']}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            assert all(stack.alive().values()), stack.logs()
            return False

    wait_for(ready, timeout=120, what="rasid web to be ready", interval=0.5)
    return url


def subscribe_in_the_editor(page: Page, url: str, receiver: HttpPeer) -> str:
    """Strikes about Iraq to the receiver's webhook, made in the rule editor; the secret it signs with."""
    open_the_editor(page, url)
    page.check("input[name=topic][value=strikes]")
    page.fill("#entities", "Iraq")
    page.check("input[name=channel][value=webhook]")
    page.fill("#target", receiver.url("/hook"))
    page.select_option("#mode", "immediate")
    page.click("#test-rule")
    page.wait_for_selector("#test-results")
    assert page.inner_text("#match-count") == "0"
    shoot(page, "rule-editor-empty")
    secret = save_and_read_the_secret(page, url)
    [row] = page.locator("tr.subscription-row").all()
    # "Iraq" was resolved to its id when the rule was saved.
    assert "topic:strikes entity:country:iq" in row.inner_text()
    shoot(page, "subscriptions")
    return secret


def hooks_about(receiver: HttpPeer, title: str) -> list[Request]:
    return [
        request
        for request in receiver.received("/hook")
        if json.loads(request.body)["article"]["title"] == title
    ]


def upload(page: Page, url: str, article_file: Path) -> None:
    page.goto(f"{url}/upload")
    shoot(page, "upload")
    page.set_input_files("input[name=file]", str(article_file))
    page.click("form[action='/upload'] button[type=submit]")
    page.wait_for_url(f"{url}/files?uploaded=*")


def wait_until_listed(page: Page, url: str) -> None:
    def stored() -> bool:
        page.goto(f"{url}/articles")
        return page.locator(f"text={TITLE}").count() > 0

    wait_for(stored, timeout=PIPELINE_SECONDS, what="the uploaded article on the articles page", interval=1)
    shoot(page, "articles")
    page.goto(f"{url}/files")
    assert page.locator("tr.file-ingested").count() == 1
    shoot(page, "files")


def read_and_mark_a_tag_wrong(page: Page, url: str) -> str:
    """Open the article from the list, check its layout and evidence; its id."""
    page.goto(f"{url}/articles")
    page.click(f"text={TITLE}")
    page.wait_for_url(f"{url}/articles/*")
    article_id = page.url.rsplit("/", 1)[1]
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.evaluate("getComputedStyle(document.getElementById('text')).direction") == "rtl"
    assert page.locator("#text mark").first.inner_text() == "غارات"
    shoot(page, "article")
    page.locator("button.mark-wrong").first.click()
    page.wait_for_url(f"{url}/articles/{article_id}?feedback=saved")
    assert page.locator("[role=status]").count() == 1
    return article_id


def add_a_failing_feed(page: Page, url: str, feed_url: str) -> None:
    page.goto(f"{url}/feeds")
    page.fill("input[name=url]", feed_url)
    page.click("form[action='/feeds'] button[type=submit]")
    page.wait_for_url(f"{url}/feeds")

    def polled() -> bool:
        page.goto(f"{url}/feeds")
        return page.locator("text=HTTP 503").count() > 0

    wait_for(polled, timeout=60, what="the feed's failed poll on the feeds page", interval=1)
    shoot(page, "feeds")


def test_subscribe_in_the_editor_upload_an_article_see_it_right_to_left_mark_a_tag_wrong_and_get_one_alert(
    stack: Stack, receiver: HttpPeer, tmp_path: Path
) -> None:
    url = stack_url(stack)
    article_file = tmp_path / "غارة في العراق.txt"
    article_file.write_text(f"{TITLE}\n\n{TEXT}\n", encoding="utf-8")
    with browser_page() as page:
        sign_in(page, url)
        secret = subscribe_in_the_editor(page, url, receiver)
        upload(page, url, article_file)
        wait_until_listed(page, url)
        article_id = read_and_mark_a_tag_wrong(page, url)
        add_a_failing_feed(page, url, receiver.url("/feed.xml"))
        page.goto(f"{url}/overview")
        assert page.locator("#topic-chart .chart-row[data-topic=strikes]").count() == 1
        shoot(page, "overview")
        page.goto(f"{url}/articles/{article_id}?lang=en")
        assert page.get_attribute("html", "dir") == "ltr"
        shoot(page, "article-en")

    [request] = wait_for(lambda: hooks_about(receiver, TITLE), timeout=PIPELINE_SECONDS, what="the webhook")
    time.sleep(QUIET_SECONDS)
    assert len(hooks_about(receiver, TITLE)) == 1, "the alert reached the receiver exactly once"
    alert = Webhook(secret).verify(request.body, request.headers)
    assert alert["article"]["id"] == article_id
    assert "strikes" in [topic["topic"] for topic in alert["topics"]]
    database = f"sqlite:///{Path(stack.env['RASID_DATA_DIR']).resolve() / 'rasid.db'}"
    with session_scope(database) as session:
        labels = [(row.article_id, row.label, row.given_by) for row in session.scalars(select(FeedbackLabel))]
        [subscription_id] = session.scalars(select(Subscription.id)).all()
    dispose_engines()
    assert alert["subscription_id"] == subscription_id
    assert labels == [(article_id, False, "admin")]
