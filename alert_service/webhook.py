"""Signed webhooks (Standard Webhooks): a JSON POST whose ``webhook-id`` is the same on every retry.

2xx is delivered. 408, 429, 5xx, timeouts and connection errors are retried. Redirects are not
followed and, like 410 and every other 4xx, fail the alert at once.

``RASID_WEBHOOK_TIMEOUT`` is a deadline for the whole POST (:func:`shared.net.deadline`): httpx times
each read only, so a receiver dripping its answer would hold the send past the claim's lease (and a
second worker would send the alert again). The response is streamed and at most :data:`RESPONSE_CAP`
bytes of its body are read.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from alert_service.content import AlertContent
from alert_service.errors import PermanentDeliveryError, RetryableDeliveryError
from alert_service.settings import AlertSettings
from shared.db import utc_now
from shared.net import TargetPolicy, deadline, guarded_client

USER_AGENT = "Rasid/0.1"
EVENT_TYPE = "article.tagged"
RETRYABLE_STATUSES = frozenset({408, 429})
# The statuses whose Retry-After means "come back then" (RFC 9110 §10.2.3).
RETRY_AFTER_STATUSES = frozenset({429, 503})
# The status decides; the body is read only so far, whatever the receiver sends.
RESPONSE_CAP = 64 * 1024


def webhook_id(content: AlertContent) -> str:
    """The message id receivers de-duplicate on: one per article and subscription."""
    return f"msg_{content.article_id}_{content.subscription_id}"


def webhook_payload(content: AlertContent) -> dict[str, Any]:
    """The JSON document POSTed to the receiver."""
    published = content.published_at.isoformat() if content.published_at else None
    return {
        "type": EVENT_TYPE,
        "alert_id": content.alert_id,
        "subscription_id": content.subscription_id,
        "article": {
            "id": content.article_id,
            "title": content.title,
            "source": content.source,
            "url": content.url,
            "published_at": published,
        },
        "topics": [{"topic": item.topic, "score": item.score} for item in content.topics],
        "evidence": list(content.evidence),
        "also_reported_by": list(content.also_reported_by),
    }


def signed_headers(content: AlertContent, body: str, *, timestamp: datetime) -> dict[str, str]:
    """Standard Webhooks headers for ``body``, signed with the subscription's secret."""
    return sign(content.secret, webhook_id(content), body, timestamp=timestamp)


def sign(secret: str | None, msg_id: str, body: str, *, timestamp: datetime) -> dict[str, str]:
    """Standard Webhooks headers for the message ``msg_id`` with ``body``, signed with ``secret``."""
    if not secret:
        raise PermanentDeliveryError("webhook subscription has no signing secret")
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, timestamp, body),
    }


def send_webhook(
    content: AlertContent, settings: AlertSettings, *, client: httpx.Client | None = None
) -> str:
    """POST the alert; returns ``HTTP <status>``, raises a :class:`DeliveryError`."""
    message = SignedPost(content.target, webhook_payload(content), webhook_id(content), content.secret)
    return post_signed(message, settings, client=client)


@dataclass(frozen=True)
class SignedPost:
    """One webhook message: where it goes, what it says, its id and the secret that signs it."""

    target: str
    payload: dict[str, Any]
    msg_id: str
    secret: str | None


def post_signed(message: SignedPost, settings: AlertSettings, *, client: httpx.Client | None = None) -> str:
    """POST a signed message (an alert's or a digest's) as :func:`send_webhook` describes."""
    body = json.dumps(message.payload, ensure_ascii=False, separators=(",", ":"))
    # Signed at send time: receivers reject timestamps more than a few minutes off.
    headers = sign(message.secret, message.msg_id, body, timestamp=utc_now().replace(microsecond=0))
    policy = TargetPolicy.from_settings(settings)
    client = client or shared_client(timeout=settings.webhook_timeout, policy=policy)
    limit = deadline(settings.webhook_timeout)
    try:
        with limit:
            response = _post(client, message.target, body=body, headers=headers)
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
        raise PermanentDeliveryError(f"HTTP: {type(error).__name__}: {error}") from error
    except httpx.TransportError as error:
        if limit.passed:
            detail = f"HTTP: Timeout: no answer within the {settings.webhook_timeout:g}s deadline"
            raise RetryableDeliveryError(detail) from error
        raise RetryableDeliveryError(f"HTTP: {type(error).__name__}: {error}") from error
    return check_response(response)


def _post(client: httpx.Client, url: str, *, body: str, headers: dict[str, str]) -> httpx.Response:
    """The receiver's response, its body read up to :data:`RESPONSE_CAP` within the deadline."""
    # A fresh connection per POST: the deadline watches the connections opened under it.
    request = client.build_request(
        "POST", url, content=body.encode("utf-8"), headers={**headers, "connection": "close"}
    )
    response = client.send(request, stream=True)
    try:
        read_capped(response)
    except httpx.TransportError:
        pass  # The status line came: the receiver's answer is known, however its body ends.
    finally:
        response.close()
    return response


def read_capped(response: httpx.Response) -> bytes:
    """At most :data:`RESPONSE_CAP` bytes of the body, as sent (never decompressed)."""
    received = bytearray()
    for chunk in response.iter_raw():
        received += chunk[: RESPONSE_CAP - len(received)]
        if len(received) >= RESPONSE_CAP:
            break
    return bytes(received)


def shared_client(*, timeout: float, policy: TargetPolicy) -> httpx.Client:
    """This process's webhook client: building one costs tens of milliseconds (its TLS context), and
    one client keeps connections to receivers open. Keyed by process id: a pool must not cross a fork.
    It refuses receivers on internal addresses unless ``policy`` allows them (:mod:`shared.net`)."""
    key = (os.getpid(), timeout, policy)
    client = _CLIENTS.get(key)
    if client is None:
        client = _CLIENTS[key] = guarded_client(policy, timeout=timeout, follow_redirects=False)
    return client


_CLIENTS: dict[tuple[int, float, TargetPolicy], httpx.Client] = {}


def check_response(response: httpx.Response) -> str:
    """``HTTP <status>`` for a 2xx; otherwise the error that status calls for."""
    status = response.status_code
    detail = f"HTTP {status}"
    if 200 <= status < 300:
        return detail
    if 300 <= status < 400:
        location = response.headers.get("location", "")
        raise PermanentDeliveryError(f"{detail} redirect not followed: {location}".strip())
    if status >= 500 or status in RETRYABLE_STATUSES:
        raise RetryableDeliveryError(detail, retry_after=_retry_after(response))
    raise PermanentDeliveryError(detail)


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the receiver asked us to wait (Retry-After: seconds or an HTTP date), if it did."""
    if response.status_code not in RETRY_AFTER_STATUSES:
        return None
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, as HTTP dates are
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - utc_now()).total_seconds())
