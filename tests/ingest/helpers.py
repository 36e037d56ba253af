"""What the ingest tests share: the fixture files, a collector standing in for the broker, and the
routes of the feed server (the sample feeds and every way a feed can fail)."""

from __future__ import annotations

from pathlib import Path

from shared.messages import ArticleIngested
from tests.peers import Route, answer, delayed, error, huge_body, serve_file, slow_drip

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ingest"
FEED_FIXTURES = FIXTURES / "feeds"
FILE_FIXTURES = FIXTURES / "files"
RSS = "application/rss+xml; charset=utf-8"
NOT_A_FEED = "<html><body><p>صفحة عادية</p></body></html>".encode()


class Forwarded(list[ArticleIngested]):
    """Collects the articles handed on, in place of the broker."""

    def __call__(self, article: ArticleIngested) -> None:
        self.append(article)


def feed_routes() -> dict[str, Route]:
    """The feed server's paths: the sample feeds (with ETag, Last-Modified and 304), and failures."""
    bbc = FEED_FIXTURES / "bbc_arabic_middleeast_2018_sample.rss.xml"
    return {
        "/bbc.xml": serve_file(bbc, content_type=RSS),
        "/bbc-mirror.xml": serve_file(bbc, content_type=RSS),
        "/cnn.xml": serve_file(FEED_FIXTURES / "cnnarabic_middleeast_2018_sample.rss.xml", content_type=RSS),
        "/atom.xml": serve_file(FEED_FIXTURES / "atom_html.xml", content_type=RSS),
        "/error.xml": error(500),
        "/huge.xml": huge_body(1_000_000, declare_length=False, content_type=RSS),
        "/huge-declared.xml": huge_body(50 * 1024 * 1024, declare_length=True, content_type=RSS),
        "/slow.xml": delayed(error(500), 10),
        "/drip.xml": slow_drip(bbc.read_bytes(), pause=0.05, content_type=RSS),
        "/page.html": answer(200, NOT_A_FEED, content_type="text/html; charset=utf-8"),
    }
