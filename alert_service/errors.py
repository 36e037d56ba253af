"""Errors the alert service raises on purpose.

RasidError                          (shared.errors)
 └── AlertError
      ├── DeliveryError               sending one alert failed; ``detail`` says how
      │    ├── RetryableDeliveryError may work later: SMTP 4xx, HTTP 5xx/429/408, timeouts, no connection
      │    └── PermanentDeliveryError will not: SMTP 5xx, HTTP 410 and other 4xx, redirects
      ├── SubscriptionError           a subscribe request is invalid (address, URL, topics)
      └── RuleError                   a watch rule cannot be read: bad syntax, unknown topic or entity
"""

from __future__ import annotations

from shared.errors import RasidError


class AlertError(RasidError):
    """Base class of the alert service's errors."""


class DeliveryError(AlertError):
    """Sending one alert failed. ``detail`` is what gets recorded (SMTP code, HTTP status, error)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class RetryableDeliveryError(DeliveryError):
    """The receiver may accept the alert later. ``retry_after`` is the receiver's own hint, if any."""

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """The receiver will not accept this alert; retrying would not help."""


class SubscriptionError(AlertError):
    """A subscription request is invalid; the message says which part."""


class RuleError(AlertError):
    """A watch rule cannot be read; the message names the criterion and, for an unknown entity, the
    closest names the gazetteer knows."""
