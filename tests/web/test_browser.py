"""The dashboard in a real browser: headless Chromium (Debian's package) driven by Playwright, against
``rasid web`` running as its own process. It signs in, finds an Arabic article on the articles page,
sees its page laid out right to left with the evidence highlighted, and marks a tag wrong.
Screenshots of the pages go to ``var/screenshots/`` (the test's artefacts).

Not yet covered here (the pages do not exist yet): the rule editor, uploading a file, and the alert
reaching a webhook receiver.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from classifier_service.feedback import FeedbackLabel
from shared.db import session_scope
from tests.web.conftest import Api
from tests.web.test_api import store_article

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
PASSWORD = "كلمة سر طويلة للاختبار"


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's chromium package is needed for the browser test")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


@pytest.fixture
def web_url(api: Api, tmp_path: Path) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = os.environ | {
        "RASID_DATABASE_URL": api.database_url,
        "RASID_DATA_DIR": str(tmp_path),
        "RASID_WEB_PORT": str(port),
        "RASID_ADMIN_PASSWORD": PASSWORD,
    }
    process = subprocess.Popen([sys.executable, "-m", "shared", "web"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "rasid web did not start"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_sign_in_read_an_article_right_to_left_and_mark_a_tag_wrong(api: Api, web_url: str) -> None:
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    title, text = (
        "غارات جوية على مواقع قرب الحدود",
        "شنت طائرات حربية غارات جوية على مواقع قرب الحدود فجر اليوم.",
    )
    article_id = store_article(api, title=title, text=text)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 800}, locale="ar")
        page.goto(f"{web_url}/articles")
        assert page.url.endswith("/sign-in")
        page.fill("input[name=secret]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{web_url}/articles")
        assert page.get_attribute("html", "dir") == "rtl"
        page.screenshot(path=str(SCREENSHOTS / "articles.png"), full_page=True)

        page.click(f"text={title}")
        page.wait_for_url(f"{web_url}/articles/{article_id}")
        assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        assert page.locator("#text mark").first.inner_text() == "غارات جوية"
        assert page.locator("#title mark").count() >= 1
        page.screenshot(path=str(SCREENSHOTS / "article.png"), full_page=True)

        page.locator("button.mark-wrong").first.click()
        page.wait_for_url(f"{web_url}/articles/{article_id}?feedback=saved")
        assert page.locator("[role=status]").inner_text() == "حُفظت ملاحظتك"
        browser.close()
    with session_scope(api.database_url) as session:
        labels = [(row.topic, row.label, row.given_by) for row in session.scalars(select(FeedbackLabel))]
    assert labels == [("strikes", False, "admin")]
