"""The outbound-HTTP guard (``shared.net``): which targets are refused, that the client connects to the
address it checked, that every redirect hop is checked, and that one deadline bounds a whole exchange.

The guard is tested with ``RASID_ALLOW_PRIVATE_TARGETS`` off. Every peer runs on 127.0.0.1, which the
guard refuses, so a "public" host is a name that an injected resolver answers and the policy trusts.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from alert_service.content import AlertContent
from alert_service.errors import PermanentDeliveryError
from alert_service.settings import AlertSettings
from alert_service.webhook import send_webhook
from shared.cli import cli
from shared.net import (
    InvalidTargetError,
    TargetPolicy,
    TargetRefused,
    check_target,
    deadline,
    guarded_client,
    parse_target,
)
from shared.settings import RasidSettings
from tests.helpers import required_program
from tests.peers import ACCEPT, HttpPeer, header_dripper, http_peer, redirect

STRICT = TargetPolicy()

REFUSED = [
    "http://127.0.0.1:6379/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://[::1]/",
    "http://localhost/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://127.1/",
    "http://[::ffff:169.254.169.254]/",  # IPv4-mapped
    "http://[::ffff:0:a00:1]/",  # IPv4-translated 10.0.0.1
    "http://[::127.0.0.1]/",  # IPv4-compatible (deprecated)
    "http://[2002:a9fe:a9fe::]/",  # 6to4 of 169.254.169.254
    "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "http://100.64.0.1/",  # CGNAT shared address space
    "http://[fd00::1]/",  # unique local
    "http://[fe80::1]/",  # link-local
    "http://224.0.0.1/",  # multicast
    "http://[ff02::1]/",
    "http://0.0.0.0/",
    "http://[::]/",
    "http://240.0.0.1/",  # reserved
    "http://255.255.255.255/",
    "https://metadata.example.test/",  # a name that resolves to the metadata service
    "https://mixed.example.test/",  # one public and one private address
]
ALLOWED = [
    "https://93.184.215.14/feed.xml",
    "http://[2606:4700:4700::1111]/",
    "https://news.example.test/rss",
    "https://unresolvable.example.test/rss",  # decided when connecting, not now
]
NAMES = {
    "metadata.example.test": ["169.254.169.254"],
    "mixed.example.test": ["93.184.215.14", "10.0.0.7"],
    "news.example.test": ["93.184.215.14", "2606:4700:4700::1111"],
}


def fake_resolver(host: str, port: int) -> list[str]:
    if host in NAMES:
        return NAMES[host]
    if host == "localhost":
        return ["127.0.0.1", "::1"]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@pytest.mark.parametrize("url", REFUSED)
def test_internal_targets_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused, match="RASID_ALLOW_PRIVATE_TARGETS"):
        check_target(url, policy=TargetPolicy(resolver=fake_resolver))


@pytest.mark.parametrize("url", REFUSED[:10])
def test_the_system_resolver_refuses_numeric_and_local_names(url: str) -> None:
    with pytest.raises(TargetRefused):
        check_target(url, policy=STRICT)


@pytest.mark.parametrize("url", ALLOWED)
def test_public_targets_are_allowed(url: str) -> None:
    assert check_target(url, policy=TargetPolicy(resolver=fake_resolver)) == str(httpx.URL(url))


@pytest.mark.parametrize("url", REFUSED)
def test_the_operator_setting_opens_private_targets(url: str) -> None:
    assert check_target(url, policy=TargetPolicy(allow_private=True, resolver=fake_resolver))


def test_the_setting_is_off_unless_the_operator_turns_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RASID_ALLOW_PRIVATE_TARGETS", raising=False)
    assert TargetPolicy.from_settings(RasidSettings(_env_file=None)).allow_private is False  # type: ignore[call-arg]
    monkeypatch.setenv("RASID_ALLOW_PRIVATE_TARGETS", "true")
    assert TargetPolicy.from_settings(RasidSettings(_env_file=None)).allow_private is True  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("HTTP://Example.ORG/rss.xml", "http://example.org/rss.xml"),
        ("  https://example.org/a?b=c  ", "https://example.org/a?b=c"),
        ("https://مثال.example/rss", "https://xn--mgbh0fb.example/rss"),
    ],
)
def test_urls_are_normalised(url: str, normalised: str) -> None:
    assert str(parse_target(url)) == normalised


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/feed", "http:// or https://"),
        ("example.org/feed", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("http:///feed.xml", "no host"),
        ("http://example.org/a b.xml", "space"),
        ("http://example.org/a\tb", "space"),
        ("http://exa mple.org/", "space"),
        ("http://example.org:99999/", "port"),
        ("http://example.org:0/", "port"),
        ("", "http:// or https://"),
    ],
)
def test_malformed_urls_are_refused_with_a_reason(url: str, message: str) -> None:
    with pytest.raises(InvalidTargetError, match=message):
        parse_target(url)


@pytest.fixture
def peer() -> Iterator[HttpPeer]:
    with http_peer(fallback=ACCEPT) as peer:
        yield peer


def test_the_client_refuses_a_private_address_before_connecting(peer: HttpPeer) -> None:
    with guarded_client(STRICT, timeout=2) as client, pytest.raises(TargetRefused, match=r"127\.0\.0\.1"):
        client.get(peer.url("/hook"))
    assert peer.received() == []
    with guarded_client(TargetPolicy(allow_private=True), timeout=2) as client:
        assert client.get(peer.url("/hook")).status_code == 200
    assert len(peer.received("/hook")) == 1


class CountingResolver:
    """Answers one name with 127.0.0.1 and counts the questions."""

    def __init__(self, name: str) -> None:
        self.name, self.calls = name, 0

    def __call__(self, host: str, port: int) -> list[str]:
        assert host == self.name, f"unexpected lookup of {host}"
        self.calls += 1
        return ["127.0.0.1"]


def test_the_client_connects_to_the_address_it_checked_and_keeps_the_host(peer: HttpPeer) -> None:
    resolver = CountingResolver("feeds.example.test")
    policy = TargetPolicy(resolver=resolver, trusted_hosts=frozenset({"feeds.example.test"}))
    with guarded_client(policy, timeout=2) as client:
        response = client.get(f"http://feeds.example.test:{peer.port}/hook")
    assert response.status_code == 200
    # The name does not exist outside the resolver: a second lookup by anyone else would have failed.
    assert resolver.calls == 1
    [request] = peer.received("/hook")
    assert request.headers["host"] == f"feeds.example.test:{peer.port}"


@pytest.mark.parametrize(
    "location",
    ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:{port}/secret", "http://[::1]:{port}/"],
)
def test_every_redirect_hop_is_checked(peer: HttpPeer, location: str) -> None:
    peer.route("/moved", redirect(location.format(port=peer.port)))
    policy = TargetPolicy(
        resolver=CountingResolver("feeds.example.test"), trusted_hosts=frozenset({"feeds.example.test"})
    )
    with guarded_client(policy, timeout=2, follow_redirects=True) as client, pytest.raises(TargetRefused):
        client.get(f"http://feeds.example.test:{peer.port}/moved")
    assert [request.path for request in peer.received()] == ["/moved"]


def test_one_deadline_bounds_the_whole_exchange_even_while_headers_drip() -> None:
    with header_dripper(pause=0.05) as port:
        client = guarded_client(TargetPolicy(allow_private=True), timeout=5)
        started = time.monotonic()
        with client, deadline(0.6), pytest.raises(httpx.TimeoutException):
            client.get(f"http://127.0.0.1:{port}/feed.xml")
        # Each read of the drip takes 0.05 s, far under the 5 s read timeout: only the deadline ends it.
        assert time.monotonic() - started < 3


def test_an_enclosing_earlier_deadline_shuts_what_an_inner_one_watches() -> None:
    # What smtplib does: a plain socket, watched by the deadline, read with no timeout of its own.
    ours, theirs = socket.socketpair()
    with ours, theirs, deadline(0.3) as outer:
        with deadline(60) as inner:
            inner.watch(lambda: ours)
            assert ours.recv(1) == b"", "the socket was not shut down at the outer deadline"
        assert inner.passed and outer.passed


def test_a_deadline_that_did_not_pass_says_so() -> None:
    client = guarded_client(TargetPolicy(allow_private=True), timeout=5)
    with http_peer(fallback=ACCEPT) as peer, client, deadline(30) as limit:
        assert client.get(peer.url("/quick")).status_code == 200
    assert not limit.passed


def _shut_within(seconds: float) -> bool:
    """Whether a socket read under a deadline of ``seconds`` is cut off by it (a read of its own
    times out after 5 s, so a deadline that never fires fails instead of hanging)."""
    ours, theirs = socket.socketpair()
    ours.settimeout(5)
    with ours, theirs, deadline(seconds) as limit:
        limit.watch(lambda: ours)
        try:
            return ours.recv(1) == b"" and limit.passed
        except TimeoutError:
            return False


def test_a_shorter_deadline_begun_after_a_longer_one_passes_first() -> None:
    # Another thread's deadline is not enclosing: the later, shorter one must not wait for the first.
    cut_off: list[bool] = []
    with deadline(60) as long:
        worker = threading.Thread(target=lambda: cut_off.append(_shut_within(0.2)))
        worker.start()
        worker.join(10)
    assert cut_off == [True]
    assert not long.passed


def test_many_deadlines_that_ended_in_time_do_not_pass() -> None:
    limits = []
    for _ in range(200):
        with deadline(0.05) as limit:
            limits.append(limit)
    time.sleep(0.2)
    assert not any(limit.passed for limit in limits)
    assert _shut_within(0.1)


def test_deadlines_pass_in_a_forked_child() -> None:
    # Celery's prefork pool forks a parent that may have used deadlines already.
    assert _shut_within(0.1)
    child = os.fork()
    if child == 0:  # pragma: no cover -- the child's outcome is its exit status
        os._exit(0 if _shut_within(0.2) else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_subscribe_webhook_refuses_an_internal_url(tmp_path: object, database_url: str) -> None:
    runner = CliRunner()
    env = {"RASID_DATABASE_URL": database_url, "RASID_ALLOW_PRIVATE_TARGETS": "false"}
    for url in ("http://127.0.0.1:6379/", "http://169.254.169.254/", "http://[::ffff:10.0.0.1]/"):
        result = runner.invoke(cli, ["subscribe", "webhook", url, "--topics", "strikes"], env=env)
        assert result.exit_code != 0
        assert "refused" in result.output and "RASID_ALLOW_PRIVATE_TARGETS" in result.output
    allowed = runner.invoke(
        cli,
        ["subscribe", "webhook", "http://127.0.0.1:9000/hook", "--topics", "strikes"],
        env={**env, "RASID_ALLOW_PRIVATE_TARGETS": "true"},
    )
    assert allowed.exit_code == 0, allowed.output


def test_feeds_add_refuses_an_internal_url_and_normalises_the_rest(database_url: str) -> None:
    runner = CliRunner()
    env = {"RASID_DATABASE_URL": database_url, "RASID_ALLOW_PRIVATE_TARGETS": "false"}
    refused = runner.invoke(cli, ["feeds", "add", "http://169.254.169.254/latest/meta-data/"], env=env)
    assert refused.exit_code != 0
    assert "refused" in refused.output and "link-local" in refused.output
    spaced = runner.invoke(cli, ["feeds", "add", "https://example.org/arabic rss.xml"], env=env)
    assert spaced.exit_code != 0 and "space" in spaced.output
    upper = runner.invoke(cli, ["feeds", "add", "HTTP://Feeds.Example.ORG/rss.xml"], env=env)
    assert upper.exit_code == 0, upper.output
    assert "http://feeds.example.org/rss.xml" in upper.output


def test_the_webhook_sender_refuses_an_internal_receiver(peer: HttpPeer) -> None:
    settings = AlertSettings(_env_file=None, allow_private_targets=False)  # type: ignore[call-arg]
    content = AlertContent(
        alert_id=1,
        subscription_id=1,
        channel="webhook",
        target=peer.url("/hook"),
        secret="whsec_" + "A" * 44,
        subscribed_topics=("strikes",),
        article_id="a" * 64,
        title="عنوان",
        source="test",
        url=None,
        published_at=None,
        topics=(),
        evidence=(),
    )
    with pytest.raises(PermanentDeliveryError, match="refused"):
        send_webhook(content, settings)
    assert peer.received() == []


def test_tls_names_the_host_not_the_address(tmp_path: Path) -> None:
    """The client connects to the checked address, but the TLS handshake names the URL's host (SNI),
    so a certificate is verified against the host. The server's certificate is self-signed, so the
    handshake then fails verification, as it must."""
    required_program("openssl", needed_for="to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=x",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda _socket, name, _context: names.append(name)  # type: ignore[assignment,func-returns-value]
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = server.accept()
        with contextlib.suppress(OSError), context.wrap_socket(connection, server_side=True):
            pass

    threading.Thread(target=serve, daemon=True).start()
    policy = TargetPolicy(
        resolver=CountingResolver("feeds.example.test"), trusted_hosts=frozenset({"feeds.example.test"})
    )
    with server, guarded_client(policy, timeout=5) as client, pytest.raises(httpx.ConnectError, match="CERT"):
        client.get(f"https://feeds.example.test:{server.getsockname()[1]}/rss.xml")
    assert names == ["feeds.example.test"]
