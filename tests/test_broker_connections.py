"""Redis broker connections time out: a broker that accepts a connection and never answers (one that
died behind a NAT or a proxy, or hangs) fails a send with a broker error, so the caller's retry policy
and logs take over, instead of holding the sending process for ever."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest
from kombu.exceptions import OperationalError

from shared import celery_app
from shared.settings import RasidSettings, load_settings
from shared.task_names import INGEST_FILE

HANG_GUARD_SECONDS = 60  # not a timing assertion: only so that a hanging send fails the test


def _settings(**update: Any) -> RasidSettings:
    return load_settings(RasidSettings).model_copy(update=update)


def test_a_broker_that_never_answers_fails_the_send_instead_of_holding_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(celery_app, "BROKER_SOCKET_TIMEOUT_SECONDS", 0.5)
    # The kernel completes connections to a listening socket by itself: this broker is reached, and
    # never says a word.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        app = celery_app.create_celery_app("silent", _settings(broker_url=url))
        outcome: list[BaseException | None] = []

        def send() -> None:
            try:
                app.send_task(INGEST_FILE, kwargs={})
                outcome.append(None)
            except Exception as error:  # handed to the test's thread below
                outcome.append(error)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        sender.join(HANG_GUARD_SECONDS)
        assert not sender.is_alive(), "the send is still waiting for a broker that never answers"
    assert isinstance(outcome[0], OperationalError), outcome
