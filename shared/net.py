"""Outbound HTTP to addresses users give: one guard, so a URL cannot reach inside the host's network.

Feeds and webhooks fetch URLs that people type. Unguarded, such a URL (or a redirect it answers with,
or a name that resolves differently a second later) reaches the services beside Rasid: Redis on
127.0.0.1:6379, a cloud's metadata service on 169.254.169.254, anything on the private network. So:

- only ``http`` and ``https`` URLs with a host are targets (:func:`parse_target`);
- the host is resolved once and refused when any of its addresses is not a public unicast address:
  loopback, link-local, private, shared (CGNAT, 100.64/10), unique-local (fc00::/7), multicast,
  unspecified, reserved, and IPv4 addresses carried in IPv6 (mapped, translated, compatible, 6to4,
  NAT64, Teredo) are judged by the IPv4 address they carry (:func:`refusal_reason`);
- the client built by :func:`guarded_client` checks when it connects, on every connection (so every
  redirect hop), and connects to exactly the address it checked: no second lookup that a DNS server
  could answer differently. The Host header and the TLS server name stay the URL's host.

``RASID_ALLOW_PRIVATE_TARGETS=true`` lets private addresses through (tests, home labs); they are still
resolved once and connected to directly. Checking a URL when it is entered (:func:`check_target`) only
gives an early, clear refusal; the check when connecting is the one that protects.

:func:`deadline` bounds a whole exchange, of any protocol: every connect, read and write of a guarded
client inside it (redirects included) gets at most the time left, and when it passes every connection
it watches is shut down (a TLS handshake, smtplib's conversation), so a server that drips its headers
or its replies one byte at a time cannot outlast it. Feed downloads, webhook POSTs and alert emails
all use this one deadline.

Errors: :class:`InvalidTargetError` (not an http(s) URL) and :class:`TargetRefused` (an address the
policy refuses; an :class:`httpx.UnsupportedProtocol`, so every httpx caller treats it as a request that
can never succeed as addressed, not as a network failure worth retrying).
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import logging
import math
import os
import socket
import ssl
import threading
import time
import typing
from collections.abc import Callable, Iterable
from contextlib import suppress
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

import httpcore
import httpx

from shared.errors import RasidError
from shared.settings import RasidSettings

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
"""Answers ``(host, port)`` with the host's addresses, as strings; raises :class:`socket.gaierror`."""

SCHEMES = ("http", "https")
SETTING = "RASID_ALLOW_PRIVATE_TARGETS"

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
_COMPATIBLE = ipaddress.IPv6Network("::/96")
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")


class InvalidTargetError(RasidError, ValueError):
    """The text is not an absolute http(s) URL with a host."""


class TargetRefused(httpx.UnsupportedProtocol, RasidError):  # noqa: N818 -- reads as a verdict
    """The URL's host is, or resolves to, an address the policy refuses."""


def parse_target(url: str) -> httpx.URL:
    """``url`` as an absolute http(s) URL, normalised (scheme and host in lower case, IDNA host);
    :class:`InvalidTargetError` with a reason otherwise."""
    text = url.strip()
    if any(character.isspace() for character in text):
        raise InvalidTargetError(f"{url!r} contains a space or a line break; encode it as %20 if it is meant")
    try:
        parsed = httpx.URL(text)
    except httpx.InvalidURL as error:
        raise InvalidTargetError(f"{url!r} is not a URL: {error}") from error
    if parsed.scheme not in SCHEMES:
        raise InvalidTargetError(f"{url!r} is not an http:// or https:// URL")
    if not parsed.host:
        raise InvalidTargetError(f"{url!r} has no host")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise InvalidTargetError(f"{url!r} has no valid port (1 to 65535)")
    return parsed


def refusal_reason(address: IPAddress) -> str | None:
    """What kind of non-public address ``address`` is, or None for a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = _carried_ipv4(address)
        if carried is not None:
            reason = refusal_reason(carried)
            return f"{reason} (IPv4 {carried} inside IPv6)" if reason else None
    kinds = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("shared (CGNAT)", address in _CGNAT),
        ("unique-local", address in _UNIQUE_LOCAL),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("non-public", not address.is_global),
    )
    return next((kind for kind, found in kinds if found), None)


def _carried_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the forms that carry one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client: the address the packets end up at
    if address in _NAT64 or address in _TRANSLATED or (address in _COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses from the system resolver, in its order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class TargetPolicy:
    """Which addresses outbound requests may reach. ``trusted_hosts`` are names whose addresses are not
    checked (tests stand a public host in with them); ``resolver`` answers names (tests inject one)."""

    allow_private: bool = False
    resolver: Resolver = system_resolver
    trusted_hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, settings: RasidSettings) -> TargetPolicy:
        """The operator's policy: private targets only when ``RASID_ALLOW_PRIVATE_TARGETS`` is on."""
        return cls(allow_private=settings.allow_private_targets)

    def addresses(self, host: str, port: int, *, timeout: float | None = None) -> list[str]:
        """The addresses to connect to for ``host``, every one checked; :class:`TargetRefused` when any
        is refused, :class:`socket.gaierror` when the name does not resolve (within ``timeout``)."""
        literal = _ip_literal(host)
        found = [str(literal)] if literal is not None else _within(timeout, lambda: self.resolver(host, port))
        if self.allow_private or host.lower() in self.trusted_hosts:
            return found
        for address in found:
            reason = refusal_reason(ipaddress.ip_address(address))
            if reason:
                named = host if literal is not None else f"{host} resolves to {address}, which"
                article = "an" if reason[0] in "aeiou" else "a"
                raise TargetRefused(
                    f"{named} is {article} {reason} address: refused"
                    f" (set {SETTING}=true to allow private targets)"
                )
        return found


PUBLIC_ONLY = TargetPolicy()
"""The policy when a caller names none: public addresses only."""


def check_target(url: str, *, policy: TargetPolicy) -> str:
    """The normalised ``url`` if the policy lets it through now. A name that does not resolve here is
    accepted: it is checked again on every connection, from where the request is made."""
    parsed = parse_target(url)
    with suppress(socket.gaierror, UnicodeError):
        host = parsed.raw_host.decode("ascii")  # IDNA-encoded, as it is looked up when connecting
        policy.addresses(host, parsed.port or (443 if parsed.scheme == "https" else 80))
    return str(parsed)


def _ip_literal(host: str) -> IPAddress | None:
    """The address ``host`` spells, in any form the C library reads as one (``2130706433``,
    ``0x7f000001`` and ``127.1`` are all 127.0.0.1), or None for a name."""
    try:
        return ipaddress.ip_address(host.replace("%25", "%"))
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, UnicodeError, ValueError):
        return None


def _within(timeout: float | None, resolve: Callable[[], list[str]]) -> list[str]:
    """``resolve()``, given up after ``timeout``: the system resolver has no timeout of its own."""
    if timeout is None:
        return resolve()
    outcome: list[list[str] | BaseException] = []

    def run() -> None:
        try:
            outcome.append(resolve())
        except BaseException as error:  # handed to the caller's thread below
            outcome.append(error)

    worker = threading.Thread(target=run, daemon=True, name="rasid-resolve")
    worker.start()
    worker.join(timeout)
    if not outcome:
        raise httpcore.ConnectTimeout("the host name did not resolve in time")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


# -- the deadline ---------------------------------------------------------------------------------

SocketSource = Callable[[], socket.socket | None]
"""Answers the socket a conversation is using now (None before it connects); asked when the
deadline passes, so a socket replaced midway (wrapped by TLS) is the one shut down."""

_CURRENT: ContextVar[Deadline | None] = ContextVar("rasid_net_deadline", default=None)


class Deadline:
    """One wall-clock deadline for a whole exchange, whatever its protocol: ``seconds`` after the
    block starts (or at an enclosing deadline, if that is earlier) every connection it watches is
    shut down, wherever the exchange is (connecting, a TLS handshake, waiting for a reply, reading a
    body that drips). Client libraries time each read, not the whole, so without it a server that
    answers one byte at a time holds the caller for ever.

    Inside the block a :func:`guarded_client` watches every connection it opens and gives every
    read and write at most the time left; other clients call :meth:`watch` (smtplib's socket).
    :attr:`passed` tells a failure caused by the deadline from one the server caused."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = math.inf
        self._fired = False
        self._left_at = math.inf  # when the block ended: a failure judged later is judged as of then
        self._sources: list[SocketSource] = []
        self._lock = threading.Lock()
        self._token: Token[Deadline | None] | None = None

    def __enter__(self) -> Deadline:
        enclosing = _CURRENT.get()
        self.end = time.monotonic() + self.seconds
        if enclosing is not None:
            self.end = min(self.end, enclosing.end)
        self._token = _CURRENT.set(self)
        _WATCHDOG.add(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        # The watchdog drops a deadline whose block has ended instead of expiring it, when its end
        # comes: until then it keeps no connection alive.
        self._left_at = time.monotonic()
        with self._lock:
            self._sources.clear()
        if self._token is not None:
            _CURRENT.reset(self._token)

    @property
    def ended(self) -> bool:
        """Whether its block has ended."""
        return self._left_at != math.inf

    @property
    def passed(self) -> bool:
        """Whether the deadline has passed (a read timed out at it, or its connections were shut)."""
        return self._fired or min(time.monotonic(), self._left_at) >= self.end

    def watch(self, source: SocketSource) -> None:
        """Shut down the socket ``source`` answers when the deadline passes (at once if it has)."""
        with self._lock:
            self._sources.append(source)
            fired = self._fired
        if fired:
            _shut(source())

    def time_left(self, timeout: float | None, expired: type[Exception]) -> float | None:
        """``timeout`` shortened to what is left; ``expired`` raised once the deadline has passed."""
        left = self.end - time.monotonic()
        if self._fired or left <= 0:
            raise expired(f"the deadline of the whole exchange ({self.seconds:g} s) has passed")
        return left if timeout is None else min(timeout, left)

    def _expire(self) -> None:
        with self._lock:
            self._fired = True
            sources = list(self._sources)
        for source in sources:
            _shut(source())


class _Watchdog:
    """One thread that expires every deadline of the process when it passes, earliest first. A
    thread started (and cancelled) for each deadline cost a webhook more CPU than its POST did."""

    def __init__(self) -> None:
        self._reset()
        # A thread does not survive a fork (Celery's prefork pool): the child starts its own, with
        # a lock no thread of the parent could have held.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._condition = threading.Condition()
        self._queue: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()  # equal ends: first come, first expired (never compared)
        self._running = False

    def add(self, limit: Deadline) -> None:
        """Expire ``limit`` at its end, unless its block has ended by then."""
        with self._condition:
            if not self._running:
                threading.Thread(target=self._run, daemon=True, name="rasid-deadlines").start()
                self._running = True
            heapq.heappush(self._queue, (limit.end, next(self._order), limit))
            if self._queue[0][2] is limit:
                self._condition.notify()

    def _run(self) -> None:
        while True:
            for limit in self._due():
                try:
                    limit._expire()
                except Exception:  # one deadline's failure must not stop the others
                    log.exception("net.deadline_expiry_failed")

    def _due(self) -> list[Deadline]:
        """The deadlines that have passed, once there are any; ended ones are dropped."""
        with self._condition:
            while True:
                now = time.monotonic()
                due: list[Deadline] = []
                while self._queue and (self._queue[0][0] <= now or self._queue[0][2].ended):
                    limit = heapq.heappop(self._queue)[2]
                    if not limit.ended:
                        due.append(limit)
                if due:
                    return due
                # Capped: a deadline of days (or of math.inf) is beyond what a wait accepts.
                self._condition.wait(min(self._queue[0][0] - now, _LONGEST_WAIT) if self._queue else None)


_LONGEST_WAIT = 3600.0
_WATCHDOG = _Watchdog()


def deadline(seconds: float) -> Deadline:
    """A :class:`Deadline` of ``seconds``, to use as ``with deadline(seconds) as limit:``."""
    return Deadline(seconds)


def _shut(sock: socket.socket | None) -> None:
    if sock is None:
        return
    # shutdown(), not close(): it wakes a read blocked in another thread, and the owner still closes.
    with suppress(OSError):  # already closed: the exchange ended on its own
        sock.shutdown(socket.SHUT_RDWR)


def _time_left(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` shortened to what is left of the current deadline, if there is one."""
    current = _CURRENT.get()
    return timeout if current is None else current.time_left(timeout, expired)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection watched by the deadline it was opened under, whose every read and write gets at
    most the time left. A read cut short by the deadline is reported as a timeout, not as the
    server closing the connection."""

    def __init__(self, inner: httpcore.NetworkStream, limit: Deadline | None) -> None:
        self._inner = inner
        self._limit = limit
        if limit is not None:
            limit.watch(lambda: self._inner.get_extra_info("socket"))

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            data = self._inner.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))
        except httpcore.ReadError as error:
            self._raise_if_expired(httpcore.ReadTimeout, error)
            raise
        if not data:
            self._raise_if_expired(httpcore.ReadTimeout, None)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            self._inner.write(buffer, _time_left(timeout, httpcore.WriteTimeout))
        except httpcore.WriteError as error:
            self._raise_if_expired(httpcore.WriteTimeout, error)
            raise

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        # The handshake is several reads inside ssl: the deadline ends one that drips past it by
        # shutting the watched socket down. The wrapped stream replaces the plain one in place, so
        # the deadline then watches the TLS socket.
        try:
            self._inner = self._inner.start_tls(ssl_context, server_hostname, left)
        except httpcore.ConnectError as error:
            self._raise_if_expired(httpcore.ConnectTimeout, error)
            raise
        return self

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)

    def _raise_if_expired(self, expired: type[Exception], cause: Exception | None) -> None:
        if self._limit is not None and self._limit.passed:
            raise expired("the deadline of the whole exchange has passed") from cause


class _GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network layer with the policy in it: resolve once, check, connect to that address."""

    def __init__(self, policy: TargetPolicy) -> None:
        self._policy = policy
        self._system = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        try:
            addresses = self._policy.addresses(host, port, timeout=left)
        except (socket.gaierror, UnicodeError) as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from error
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                stream = self._system.connect_tcp(
                    address,
                    port,
                    timeout=_time_left(timeout, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
                continue
            return _DeadlineStream(stream, _CURRENT.get())
        raise failure or httpcore.ConnectError(f"no address for {host}")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[typing.Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("a Unix socket is not an outbound target")


def guarded_client(
    policy: TargetPolicy,
    *,
    timeout: float,
    headers: dict[str, str] | None = None,
    follow_redirects: bool = False,
) -> httpx.Client:
    """An httpx client that checks every connection against ``policy`` and honours :func:`deadline`.
    Proxy variables are ignored: a proxy would resolve and connect where the guard cannot see."""
    ssl_context = httpx.create_ssl_context()
    transport = httpx.HTTPTransport(verify=ssl_context)
    # httpx takes no network backend; its connection pool does. The versions are pinned and
    # tests/test_net.py fails if the guard stops taking effect.
    backend = _GuardedBackend(policy)
    transport._pool = httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=backend)
    return httpx.Client(
        transport=transport,
        timeout=timeout,
        headers=headers,
        follow_redirects=follow_redirects,
        trust_env=False,
    )
