"""An Atom feed per subscription (RFC 4287): the articles its rule alerted about, newest first, so a
feed reader can follow a rule. Arabic content is marked ``xml:lang="ar"`` and laid out right to left
(XHTML content in a ``dir="rtl"`` div)."""

from __future__ import annotations

from datetime import datetime
from xml.etree import ElementTree as ET

from alert_service.models import Alert, Article, Subscription
from alert_service.rule_text import format_rule
from alert_service.subscriptions import rule_of

ATOM = "http://www.w3.org/2005/Atom"
XHTML = "http://www.w3.org/1999/xhtml"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ENTRIES = 50
# Article text is cut for the feed: the reader links to the article for the rest.
SUMMARY_CHARS = 600


def _element(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    element.text = text
    return element


def _when(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def subscription_feed(
    subscription: Subscription, items: list[tuple[Alert, Article]], *, self_url: str
) -> bytes:
    """The Atom document of one subscription and the articles it was alerted about."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {XML_LANG: "ar"})
    _element(feed, "id", f"urn:rasid:subscription:{subscription.id}")
    _element(feed, "title", f"راصد: {format_rule(rule_of(subscription))}")
    _element(feed, "updated", _when(items[0][0].created_at if items else subscription.created_at))
    _element(feed, "link", rel="self", href=self_url)
    _element(_element(feed, "author"), "name", "Rasid")
    for alert, article in items:
        _entry(feed, alert, article)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


def _entry(feed: ET.Element, alert: Alert, article: Article) -> None:
    entry = _element(feed, "entry", **{XML_LANG: "ar"})
    _element(entry, "id", f"urn:rasid:article:{article.id}")
    _element(entry, "title", article.title)
    _element(entry, "updated", _when(alert.created_at))
    if article.published_at:
        _element(entry, "published", _when(article.published_at))
    if article.url:
        _element(entry, "link", rel="alternate", href=article.url)
    _element(entry, "category", term=article.source_kind, label=article.source)
    content = _element(entry, "content", type="xhtml")
    div = ET.SubElement(content, f"{{{XHTML}}}div", {"dir": "rtl", XML_LANG: "ar"})
    # Readers drop the container div (RFC 4287, 3.1.1.3): the paragraph carries the direction too.
    paragraph = ET.SubElement(div, f"{{{XHTML}}}p", {"dir": "rtl"})
    text = article.text
    paragraph.text = text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS].rstrip() + "…"
