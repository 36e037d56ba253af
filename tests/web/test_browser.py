"""The dashboard in a real browser, on the real pipeline: headless Chromium (Debian's package) driven by
Playwright against ``rasid run`` (the embedded stack: watcher, workers, beat and the web process,
on SQLite and the file broker), with a real HTTP receiver for webhooks.

A webhook subscription is made through the API; the browser signs in, uploads an Arabic article
through the upload page, waits for the pipeline to store it, opens it (laid out right to left, its
evidence highlighted), marks a tag wrong, and adds a feed; the alert reaches the receiver exactly
once. Screenshots of the pages go to ``var/screenshots/`` (the test's artefacts). In CI the test
never skips: without Chromium it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import select

from classifier_service.feedback import FeedbackLabel
from shared.db import dispose_engines, session_scope
from tests.e2e.stack import ROOT, Stack, embedded_stack, free_port, stack_env
from tests.peers import ACCEPT, HttpPeer, error, http_peer, wait_for
from tests.web.conftest import Api

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

SCREENSHOTS = ROOT / "var" / "screenshots"
PASSWORD = "كلمة سر طويلة للاختبار"
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


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's chromium package is needed for the browser test")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


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


@pytest.fixture
def web_url(api: Api, tmp_path: Path) -> Iterator[str]:
    """``rasid web`` alone, as its own process, on the database of ``api``: for browser tests of
    pages over articles a test stores itself (the rule editor's)."""
    port = free_port()
    env = os.environ | {
        "RASID_DATABASE_URL": api.database_url,
        "RASID_DATA_DIR": str(tmp_path),
        "RASID_WEB_PORT": str(port),
        "RASID_ADMIN_PASSWORD": PASSWORD,
    }
    process = subprocess.Popen([sys.executable, "-m", "shared", "web"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:

        def answers() -> bool:
            try:
                httpx.get(f"{url}/healthz", timeout=2)
            except httpx.TransportError:
                assert process.poll() is None, "rasid web stopped"
                return False
            return True

        wait_for(answers, timeout=60, what="rasid web to answer", interval=0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


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


def subscribe_through_the_api(stack: Stack, url: str, receiver: HttpPeer) -> int:
    token = json.loads(stack.rasid("tokens", "create", "--name", "browser-test", "--json").stdout)["token"]
    answer = httpx.post(
        f"{url}/api/v1/subscriptions",
        json={"channel": "webhook", "target": receiver.url("/hook"), "rule": "topic:strikes"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    subscription_id: int = answer.json()["id"]
    return subscription_id


def hooks_about(receiver: HttpPeer, title: str) -> list[dict[str, Any]]:
    bodies = [json.loads(request.body) for request in receiver.received("/hook")]
    return [body for body in bodies if body["article"]["title"] == title]


def shoot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, url: str) -> None:
    page.goto(f"{url}/articles")
    assert page.url.endswith("/sign-in")
    page.fill("input[name=secret]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/articles")
    assert page.get_attribute("html", "dir") == "rtl"


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


def test_upload_an_article_see_it_tagged_right_to_left_mark_a_tag_wrong_and_get_one_alert(
    stack: Stack, receiver: HttpPeer, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    url = stack_url(stack)
    subscription_id = subscribe_through_the_api(stack, url, receiver)
    article_file = tmp_path / "غارة في العراق.txt"
    article_file.write_text(f"{TITLE}\n\n{TEXT}\n", encoding="utf-8")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 800}, locale="ar")
        sign_in(page, url)
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
        browser.close()

    [alert] = wait_for(lambda: hooks_about(receiver, TITLE), timeout=PIPELINE_SECONDS, what="the webhook")
    time.sleep(QUIET_SECONDS)
    assert len(hooks_about(receiver, TITLE)) == 1, "the alert reached the receiver exactly once"
    assert (alert["subscription_id"], alert["article"]["id"]) == (subscription_id, article_id)
    assert "strikes" in [topic["topic"] for topic in alert["topics"]]
    database = f"sqlite:///{Path(stack.env['RASID_DATA_DIR']).resolve() / 'rasid.db'}"
    with session_scope(database) as session:
        labels = [(row.article_id, row.label, row.given_by) for row in session.scalars(select(FeedbackLabel))]
    dispose_engines()
    assert labels == [(article_id, False, "admin")]
