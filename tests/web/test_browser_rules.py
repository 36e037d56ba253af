"""The rule editor in a real browser: headless Chromium (Debian's package) driven by Playwright, against
``rasid web`` running as its own process over articles the test stores itself. It signs in,
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
from tests.web.browser import browser_page, open_the_editor, save_and_read_the_secret, shoot, sign_in
from tests.web.conftest import Api
from tests.web.test_api import NOW, store_article

if TYPE_CHECKING:
    from playwright.sync_api import Page

TITLE = "سقوط صواريخ على قاعدة عين الأسد غرب العراق"
TEXT = "سقطت ثلاثة صواريخ بقاعدة عين الاسد الجوية في محافظة الأنبار فجر اليوم. ولم تُسجَّل إصابات."


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
    # Stored now: "test this rule" reads the last days by the clock.
    minutes = int((utc_now() - NOW).total_seconds() // 60)
    article_id = store_article(api, title=TITLE, text=TEXT, minutes=minutes, tags={"strikes": 0.9})
    with browser_page(height=900) as page:
        sign_in(page, web_url, landing="/subscriptions")
        open_the_editor(page, web_url)

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
        shoot(page, "rule-editor")

        secret = save_and_read_the_secret(page, web_url)
        assert page.locator("tr.subscription-row").count() == 1
        assert "keyword:" in page.inner_text("tr.subscription-row .rule-text")
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
