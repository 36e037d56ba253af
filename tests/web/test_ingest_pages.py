"""The ingest pages of the dashboard: feeds with their health (added and removed through CSRF-protected
forms, with the API's URL checks and the reason shown on the page), the ledger of dropped files
newest first a page at a time, and an upload that lands in the watched folder under a safe name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from ingest_service.errors import UploadRefused, UploadTooLarge
from ingest_service.models import Feed, SeenArticle, SeenFile
from ingest_service.paths import path_text
from ingest_service.uploads import place_upload, upload_name
from shared.db import session_scope
from shared.web.app import create_app
from shared.web.settings import WebSettings
from shared.web.tokens import create_token
from tests.web.conftest import Api

PASSWORD = "correct horse battery staple"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ARTICLE = "قصفت طائرات مسيرة مواقع لمسلحين قرب الموصل في شمال العراق فجر اليوم.".encode()


@pytest.fixture
def watch_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "inbox"
    monkeypatch.setenv("RASID_WATCH_DIR", str(folder))
    return folder


@pytest.fixture
def client(api: Api, watch_dir: Path) -> Iterator[TestClient]:
    settings = WebSettings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=api.database_url,
        admin_password=SecretStr(PASSWORD),
    )
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


@pytest.fixture
def signed_in(client: TestClient) -> str:
    """Signs the client in with the admin password; the session's CSRF token."""
    form = client.get("/sign-in")
    assert client.post("/sign-in", data={"csrf": csrf_of(form.text), "secret": PASSWORD}).status_code == 303
    return csrf_of(client.get("/feeds").text)


def upload(client: TestClient, csrf: str, name: str, data: bytes) -> object:
    return client.post("/upload", data={"csrf": csrf}, files={"file": (name, data, "text/plain")})


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("report.txt", "report-20261129120000-abcd1234.txt"),
        ("../../etc/cron.d/evil.txt", "evil-20261129120000-abcd1234.txt"),
        ("..\\..\\Windows\\evil.HTML", "evil-20261129120000-abcd1234.html"),
        (".hidden.txt", "hidden-20261129120000-abcd1234.txt"),
        ("غارة على الموصل.txt", "غارة_على_الموصل-20261129120000-abcd1234.txt"),
        ("#draft~.htm", "draft-20261129120000-abcd1234.htm"),
        ("-_ .txt", "article-20261129120000-abcd1234.txt"),
        ("a\x00b;rm -rf.txt", "a_b_rm_-rf-20261129120000-abcd1234.txt"),
    ],
)
def test_an_upload_name_is_safe_unique_and_keeps_its_extension(filename: str, expected: str) -> None:
    assert upload_name(filename, now=NOW, token="abcd1234") == expected


@pytest.mark.parametrize("filename", ["tool.exe", "notes", "archive.txt.gz", "page.php"])
def test_an_upload_of_a_type_rasid_does_not_read_is_refused(filename: str) -> None:
    with pytest.raises(UploadRefused, match="unsupported file type"):
        upload_name(filename, now=NOW, token="abcd1234")


def test_an_upload_over_the_limit_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(UploadTooLarge):
        place_upload(tmp_path, "big.txt", [b"x" * 60, b"x" * 60], max_bytes=100, now=NOW)
    assert list(tmp_path.iterdir()) == []
    placed = place_upload(tmp_path, "ok.txt", [b"x" * 60, b"x" * 40], max_bytes=100, now=NOW)
    assert [path.name for path in tmp_path.iterdir()] == [placed.name]


def test_nothing_is_shown_or_changed_signed_out(client: TestClient, watch_dir: Path) -> None:
    for path in ("/feeds", "/files", "/upload"):
        response = client.get(path)
        assert (response.status_code, response.headers["location"]) == (303, "/sign-in"), path
    assert client.post("/upload", files={"file": ("a.txt", ARTICLE)}).status_code == 303
    assert client.post("/feeds", data={"csrf": "x", "url": "http://127.0.0.1:9/f"}).status_code == 303
    assert not watch_dir.exists() or list(watch_dir.iterdir()) == []


def test_a_feed_is_added_shown_with_its_health_and_removed(
    api: Api, client: TestClient, signed_in: str
) -> None:
    url = "http://127.0.0.1:9/feed.xml"
    assert client.post("/feeds", data={"csrf": "forged", "url": url}).status_code == 403
    assert client.post("/feeds", data={"csrf": signed_in, "url": url}).status_code == 303
    with session_scope(api.database_url) as session:
        feed = session.query(Feed).one()
        feed.title, feed.last_polled_at, feed.last_success_at = "أخبار العراق", NOW, NOW - timedelta(hours=1)
        feed.last_error, feed.error_count = "HTTP 503 Service Unavailable", 2
        for number in range(3):
            session.add(
                SeenArticle(
                    article_id=f"a{number}",
                    source="أخبار العراق",
                    source_kind="feed",
                    first_seen_at=NOW,
                    sends=1,
                )
            )
        feed_id = feed.id
    page = client.get("/feeds").text
    assert url in page and "أخبار العراق" in page
    assert "2026-11-29 12:00" in page and "2026-11-29 11:00" in page
    assert "HTTP 503 Service Unavailable" in page and "(2 متتالية)" in page
    assert '<td><bdi class="ltr">3</bdi></td>' in page
    assert client.post(f"/feeds/{feed_id}/remove", data={"csrf": "forged"}).status_code == 403
    assert client.post(f"/feeds/{feed_id}/remove", data={"csrf": signed_in}).status_code == 303
    assert url not in client.get("/feeds").text


@pytest.mark.parametrize(
    ("url", "reason"),
    [("ftp://example.org/feed", "http"), ("http://169.254.169.254/latest", "169.254.169.254")],
)
def test_a_refused_feed_url_is_explained_on_the_page(
    client: TestClient, signed_in: str, monkeypatch: pytest.MonkeyPatch, url: str, reason: str
) -> None:
    monkeypatch.setenv("RASID_ALLOW_PRIVATE_TARGETS", "false")
    answer = client.post("/feeds", data={"csrf": signed_in, "url": url})
    assert answer.status_code == 422
    error = re.search(r'<p class="error" role="alert">(.*?)</p>', answer.text, re.S)
    assert error and reason in error.group(1), answer.text
    assert f'value="{url}"' in answer.text


def test_files_are_listed_newest_first_with_reasons_a_page_at_a_time(
    api: Api, client: TestClient, signed_in: str, watch_dir: Path
) -> None:
    with session_scope(api.database_url) as session:
        for number in range(52):
            rejected = number % 2 == 1
            session.add(
                SeenFile(
                    path=path_text(watch_dir / f"file-{number:02d}.txt"),
                    size=100 + number,
                    mtime_ns=number,
                    status="rejected" if rejected else "ingested",
                    reason=f"too few Arabic letters ({number})" if rejected else None,
                    article_id=None if rejected else f"article{number}",
                    seen_at=NOW + timedelta(seconds=number),
                )
            )
    first = client.get("/files").text
    names = re.findall(r"file-(\d\d)\.txt</bdi>", first)
    assert names[:3] == ["51", "50", "49"] and len(names) == 50
    assert "too few Arabic letters (51)" in first and 'href="/articles/article50"' in first
    older = re.search(r'rel="next" href="([^"]+)"', first)
    assert older
    second = client.get(older.group(1).replace("&amp;", "&")).text
    assert re.findall(r"file-(\d\d)\.txt</bdi>", second) == ["01", "00"]
    rejected = client.get("/files", params={"status": "rejected"}).text
    assert "file-50.txt" not in rejected and "file-51.txt" in rejected


def test_an_upload_lands_in_the_watched_folder_under_a_safe_name(
    client: TestClient, signed_in: str, watch_dir: Path
) -> None:
    assert upload(client, "forged", "a.txt", ARTICLE).status_code == 403  # type: ignore[attr-defined]
    answer = client.post(
        "/upload", data={"csrf": signed_in}, files={"file": ("../../../outside.txt", ARTICLE, "text/plain")}
    )
    assert answer.status_code == 303 and answer.headers["location"].startswith("/files?uploaded=outside-")
    [placed] = list(watch_dir.iterdir())
    assert placed.name.startswith("outside-") and placed.suffix == ".txt"
    assert placed.read_bytes() == ARTICLE
    assert not (watch_dir.parent.parent / "outside.txt").exists()
    shown = client.get(answer.headers["location"]).text
    assert placed.name in shown


def test_an_upload_over_the_ingest_limit_or_of_another_type_is_refused_on_the_page(
    client: TestClient, signed_in: str, watch_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RASID_MAX_FILE_BYTES", "50")
    large = client.post("/upload", data={"csrf": signed_in}, files={"file": ("big.txt", ARTICLE)})
    assert large.status_code == 413 and "50-byte limit" in large.text
    monkeypatch.setenv("RASID_MAX_FILE_BYTES", str(200 * 1024))
    huge = client.post("/upload", data={"csrf": signed_in}, files={"file": ("big.txt", b"x" * 300 * 1024)})
    assert huge.status_code == 413  # refused on its declared length, before the form is read
    other = client.post("/upload", data={"csrf": signed_in}, files={"file": ("tool.exe", ARTICLE)})
    assert other.status_code == 400 and "unsupported file type .exe" in other.text
    assert not watch_dir.exists() or list(watch_dir.iterdir()) == []


def test_a_read_only_token_cannot_upload_or_change_feeds(
    api: Api, client: TestClient, watch_dir: Path
) -> None:
    with session_scope(api.database_url) as session:
        token = create_token(session, "viewer", read_only=True).token
    form = client.get("/sign-in")
    assert client.post("/sign-in", data={"csrf": csrf_of(form.text), "secret": token}).status_code == 303
    csrf = csrf_of(client.get("/upload").text)
    answer = client.post("/upload", data={"csrf": csrf}, files={"file": ("a.txt", ARTICLE)})
    assert answer.status_code == 403 and answer.json()["type"].endswith("/read-only-token")
    assert client.post("/feeds", data={"csrf": csrf, "url": "http://127.0.0.1:9/f"}).status_code == 403
    assert not watch_dir.exists() or list(watch_dir.iterdir()) == []
