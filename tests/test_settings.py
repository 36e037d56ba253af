"""Settings come from the environment; a bad value names its variable."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from shared.environment import configured
from shared.errors import ConfigurationError
from shared.settings import SETTINGS_GROUP, RasidSettings, load_settings


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RASID_DATABASE_URL", "mysql://localhost/rasid"),
        ("RASID_BROKER_URL", "kafka://localhost"),
        ("RASID_LOG_LEVEL", "LOUD"),
    ],
)
def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=variable):
        load_settings(RasidSettings)


def test_embedded_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for variable in ("RASID_DATABASE_URL", "RASID_BROKER_URL", "RASID_DATA_DIR"):
        monkeypatch.delenv(variable, raising=False)
    settings = load_settings(RasidSettings)
    assert settings.broker_url == "filesystem://"
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.resolved_database_url.endswith("var/rasid.db")


def test_configured_sees_a_variable_in_any_case_or_an_env_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for variable in [name for name in os.environ if name.upper().startswith("RASID_")]:
        monkeypatch.delenv(variable)
    monkeypatch.chdir(tmp_path)
    assert not configured()

    monkeypatch.setenv("rasid_log_level", "DEBUG")
    assert configured()
    assert load_settings(RasidSettings).log_level == "DEBUG", "the settings read it too"

    monkeypatch.delenv("rasid_log_level")
    (tmp_path / ".env").write_text("RASID_LOG_LEVEL=WARNING\n", encoding="utf-8")
    assert configured()
    assert load_settings(RasidSettings).log_level == "WARNING"


@pytest.mark.parametrize("variable", ["RASID_TAXONOMY_PATH", "RASID_GAZETTEER_PATH"])
def test_a_data_file_that_is_not_there_ends_the_command_with_its_variable(
    tmp_path: Path, variable: str
) -> None:
    env = {**os.environ, variable: str(tmp_path / "missing.yaml")}
    command = [sys.executable, "-m", "shared", "classify", "--jsonl", "-"]
    result = subprocess.run(
        command, input="", env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"rasid: invalid configuration: {variable}: "), result.stderr
    assert "missing.yaml is not a file" in result.stderr
    assert "Traceback" not in result.stderr


def test_postgresql_urls_use_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASID_DATABASE_URL", "postgresql://rasid@db/rasid")
    assert load_settings(RasidSettings).resolved_database_url == "postgresql+psycopg://rasid@db/rasid"


def test_every_setting_is_documented_in_the_readme() -> None:
    from tests.e2e.stack import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    classes = [point.load() for point in entry_points(group=SETTINGS_GROUP)]
    assert len(classes) >= 3
    for cls in classes:
        for name in cls.model_fields:
            assert f"`RASID_{name.upper()}`" in readme, name


@pytest.mark.parametrize(
    ("command", "variable", "value"),
    [
        (["run"], "RASID_SMTP_PORT", "not-a-port"),
        (["worker", "alert"], "RASID_MAX_ATTEMPTS", "0"),
        (["beat"], "RASID_FEED_POLL_SECONDS", "-1"),
        (["worker", "ingest"], "RASID_WATCH_POLLING", "sometimes"),
    ],
)
def test_a_process_stops_at_start_on_a_bad_value(command: list[str], variable: str, value: str) -> None:
    env = {**os.environ, variable: value}
    command = [sys.executable, "-m", "shared", *command]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert variable in result.stderr
    assert "Traceback" not in result.stderr
