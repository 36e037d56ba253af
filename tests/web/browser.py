"""What the browser tests share: Debian's Chromium (which CI must have), the admin password the web
process is started with, where screenshots go, and the steps of the rule editor."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tests.e2e.stack import ROOT
from tests.helpers import required_program

if TYPE_CHECKING:
    from playwright.sync_api import Page

SCREENSHOTS = ROOT / "var" / "screenshots"
PASSWORD = "كلمة سر طويلة للاختبار"


def chromium() -> str:
    """The path of Debian's chromium; in CI its absence fails the test instead of skipping it."""
    return required_program("chromium", needed_for="for the browser test (apt-get install chromium)")


@contextmanager
def browser_page(*, height: int = 800) -> Iterator[Page]:
    """A page of headless Chromium in Arabic; screenshots' folder made."""
    from playwright.sync_api import sync_playwright

    executable = chromium()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield browser.new_page(viewport={"width": 1200, "height": height}, locale="ar")
        finally:
            browser.close()


def shoot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, url: str, *, landing: str = "/articles") -> None:
    """Ask for ``landing``, be sent to the sign-in form, sign in as admin; back on the articles page."""
    page.goto(f"{url}{landing}")
    assert page.url.endswith("/sign-in")
    page.fill("input[name=secret]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/articles")
    assert page.get_attribute("html", "dir") == "rtl"


def open_the_editor(page: Page, url: str) -> None:
    """From the header's link to the subscriptions, to a new subscription's rule editor."""
    page.click("header a[href='/subscriptions']")
    page.wait_for_url(f"{url}/subscriptions")
    page.click("#new-subscription")
    page.wait_for_url(f"{url}/subscriptions/new")
    assert page.get_attribute("html", "dir") == "rtl"


def save_and_read_the_secret(page: Page, url: str) -> str:
    """Save the editor's subscription; the signing secret it shows once. Back on the list, which
    must not show it again."""
    page.click("#save")
    page.wait_for_selector("#secret")
    secret = page.inner_text("#secret")
    assert secret.startswith("whsec_")
    page.click("a[href='/subscriptions']")
    page.wait_for_url(f"{url}/subscriptions")
    assert secret not in page.content()
    return secret
