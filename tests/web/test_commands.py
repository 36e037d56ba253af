"""``rasid tokens`` (a token printed once, kept hashed, listed, revoked) and ``rasid web`` serving the
app on the host and port of its settings."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from shared.db import session_scope
from shared.web.tokens import ApiToken, find_caller, hash_token
from tests.commands import json_rows, run


def test_a_token_is_printed_once_and_kept_hashed(database_url: str) -> None:
    result = run(database_url, "tokens", "create", "--name", "grafana", "--read-only", "--json")
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert made["token"].startswith("rsd_") and made["read_only"] is True
    with session_scope(database_url) as session:
        stored = session.scalars(select(ApiToken)).one()
        assert stored.token_hash == hash_token(made["token"]) != made["token"]
        caller = find_caller(session, made["token"])
        assert caller is not None and (caller.token_id, caller.read_only) == (made["id"], True)
    listed = json_rows(database_url, "tokens", "list")
    assert [(row["id"], row["name"], row["revoked_at"]) for row in listed] == [(made["id"], "grafana", None)]
    assert made["token"] not in run(database_url, "tokens", "list").output


def test_a_revoked_token_finds_no_caller(database_url: str) -> None:
    made = json.loads(run(database_url, "tokens", "create", "--name", "ci", "--json").stdout)
    assert run(database_url, "tokens", "revoke", str(made["id"])).exit_code == 0
    with session_scope(database_url) as session:
        assert find_caller(session, made["token"]) is None
    again = run(database_url, "tokens", "revoke", str(made["id"]))
    assert again.exit_code != 0 and f"no active token {made['id']}" in again.output
    assert json_rows(database_url, "tokens", "list")[0]["revoked_at"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_rasid_web_serves_health_on_its_configured_port(database_url: str, tmp_path: Path) -> None:
    port = _free_port()
    env = os.environ | {
        "RASID_DATABASE_URL": database_url,
        "RASID_DATA_DIR": str(tmp_path),
        "RASID_WEB_HOST": "127.0.0.1",
        "RASID_WEB_PORT": str(port),
    }
    process = subprocess.Popen([sys.executable, "-m", "shared", "web"], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "rasid web did not answer"
                time.sleep(0.2)
        assert response.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/articles").status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=30)
