"""The topics the services can tag, as the web process uses them: read from the services'
declarations (:func:`shared.services.known_topics`, which reads the taxonomy: a few hundred
milliseconds) at most once a minute, not on every request."""

from __future__ import annotations

import threading
import time

from shared.services import known_topics

REFRESH_SECONDS = 60.0

_lock = threading.Lock()
_cached: tuple[float, frozenset[str] | None] | None = None


def web_topics() -> frozenset[str] | None:
    """Every known topic (None when no service declares any), refreshed once a minute."""
    global _cached  # noqa: PLW0603 -- one cache per process
    with _lock:
        now = time.monotonic()
        if _cached is None or now - _cached[0] > REFRESH_SECONDS:
            _cached = (now, known_topics())
        return _cached[1]
