"""The rule editor in a real browser: headless Chromium (Debian's package) driven by Playwright, against
``rasid web`` running as its own process (the fixtures of :mod:`tests.web.test_browser`). It signs in,
sees an unknown entity's error with suggestions, fills the editor for a webhook subscription, runs
"test this rule" over a stored article, saves, and
sees the signing secret once and the subscription in the list. The editor's screenshot goes to
``var/screenshots/rule-editor.png``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from alert_service.models import Subscription
from alert_service.subscriptions import rule_of, schedule_of
from shared.db import session_scope, utc_now
from tests.web.conftest import Api
from tests.web.test_api import NOW, store_article
from tests.web.test_browser import PASSWORD, SCREENSHOTS, _chromium, web_url

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["web_url"]  # the fixture, used by name

TITLE = "سقوط صواريخ على قاعدة عين الأسد غرب العراق"
TEXT = "سقطت ثلاثة صواريخ بقاعدة عين الاسد الجوية في محافظة الأنبار فجر اليوم. ولم تُسجَّل إصابات."


def _sign_in_to_the_editor(page: Page, web_url: str) -> None:
    page.goto(f"{web_url}/subscriptions")
    page.fill("input[name=secret]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{web_url}/articles")
    page.click("header a[href='/subscriptions']")
    page.wait_for_url(f"{web_url}/subscriptions")
    page.click("#new-subscription")
    page.wait_for_url(f"{web_url}/subscriptions/new")


def _fill_the_rule(page: Page) -> None:
    """Strikes (score at least 0.5) mentioning Ain al-Asad, not exercises; a webhook, immediate, with
    quiet hours in Baghdad's time."""
    page.fill("#entities", "")
    page.check("input[name=topic][value=strikes]")
    page.fill("input[name=score_strikes]", "0.5")
    page.fill("#keywords", "قاعدة عين الأسد")
    page.fill("#exclude_keywords", "مناورات")
    page.check("input[name=channel][value=webhook]")
    page.fill("#target", "http://127.0.0.1:9/hook")
    page.select_option("#mode", "immediate")
    page.fill("input[name=zone]", "Asia/Baghdad")
    page.fill("input[name=quiet_start]", "23:00")
    page.fill("input[name=quiet_end]", "06:00")


def test_create_a_webhook_subscription_with_the_rule_editor(api: Api, web_url: str) -> None:
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    # Stored now: "test this rule" reads the last days by the clock.
    minutes = int((utc_now() - NOW).total_seconds() // 60)
    article_id = store_article(api, title=TITLE, text=TEXT, minutes=minutes, tags={"strikes": 0.9})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="ar")
        _sign_in_to_the_editor(page, web_url)
        assert page.get_attribute("html", "dir") == "rtl"

        page.fill("#entities", "Baghdadd")
        page.click("#test-rule")
        page.wait_for_selector("p.error[data-field=entities]")
        assert "place:baghdad" in page.inner_text("p.error[data-field=entities]")

        _fill_the_rule(page)
        page.click("#test-rule")
        page.wait_for_selector("#test-results")
        assert page.inner_text("#match-count") == "1"
        assert page.locator(f"#test-results a[href='/articles/{article_id}']").inner_text() == TITLE
        assert "قاعدة عين الأسد" in page.inner_text("#test-results mark.evidence")
        page.screenshot(path=str(SCREENSHOTS / "rule-editor.png"), full_page=True)

        page.click("#save")
        page.wait_for_selector("#secret")
        secret = page.inner_text("#secret")
        assert secret.startswith("whsec_")
        page.click("a[href='/subscriptions']")
        page.wait_for_url(f"{web_url}/subscriptions")
        assert page.locator("tr.subscription-row").count() == 1
        assert "keyword:" in page.inner_text("tr.subscription-row .rule-text")
        assert secret not in page.content()
        browser.close()
    with session_scope(api.database_url) as session:
        stored = session.scalars(select(Subscription)).one()
        assert (stored.channel, stored.target, stored.secret) == (
            "webhook",
            "http://127.0.0.1:9/hook",
            secret,
        )
        rule, schedule = rule_of(stored), schedule_of(stored)
    assert (rule.topics[0].min_score, rule.keywords, rule.exclude_keywords) == (
        0.5,
        ("قاعدة عين الأسد",),
        ("مناورات",),
    )
    assert (schedule.zone, str(schedule.quiet)) == (
        "Asia/Baghdad",
        "(datetime.time(23, 0), datetime.time(6, 0))",
    )
