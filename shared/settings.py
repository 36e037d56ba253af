"""Settings read from the environment (``RASID_...``) and an optional ``.env`` file.

Each service defines its own class on top of :class:`RasidSettings`; :func:`load_settings` builds one
and turns a validation error into a :class:`ConfigurationError` that names the variable. Where they are
read from (the prefix, the file) is :mod:`shared.environment`, which tells without pydantic whether
anything is configured at all.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.environment import ENV_FILE, ENV_PREFIX
from shared.errors import ConfigurationError

EMBEDDED_BROKER_URL = "filesystem://"


def _existing_file(path: Path | None) -> Path | None:
    if path is not None and not path.is_file():
        raise ValueError(f"{path} is not a file")
    return path


DataFilePath = Annotated[Path | None, AfterValidator(_existing_file)]
"""The path of a data file that has a packaged default (unset: the packaged file): one that names no
file stops the process at start, with the variable named, not at its first task."""


class RasidSettings(BaseSettings):
    """What every Rasid process needs: where data lives, the database and the broker."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=ENV_FILE, extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path("var"), description="Folder for the SQLite file and embedded broker.")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite in data_dir.")
    broker_url: str = Field(default=EMBEDDED_BROKER_URL, description="Celery broker URL.")
    log_level: str = Field(default="INFO", description="Log level of every process.")
    gazetteer_path: DataFilePath = Field(
        default=None,
        description="Gazetteer YAML (RASID_GAZETTEER_PATH), read by the classifier and the alert service; "
        "unset means the packaged shared/gazetteer.yaml.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="Log lines as readable text, or one JSON object per line."
    )
    allow_private_targets: bool = Field(
        default=False,
        description="Let feeds and webhooks reach loopback, private and link-local addresses (home labs).",
    )
    task_soft_time_limit: float = Field(
        default=120.0, gt=0, description="Seconds after which a running task is asked to stop."
    )
    task_time_limit: float = Field(
        default=150.0, gt=0, description="Seconds after which a running task's process is killed."
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith("postgresql://"):
            return "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("broker_url")
    @classmethod
    def _known_broker(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "filesystem://", "amqp://", "memory://")):
            raise ValueError("must be a redis:// URL, or filesystem:// for the embedded broker")
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @model_validator(mode="after")
    def _soft_limit_first(self) -> RasidSettings:
        if self.task_soft_time_limit >= self.task_time_limit:
            raise ValueError(
                f"{ENV_PREFIX}TASK_SOFT_TIME_LIMIT ({self.task_soft_time_limit:g}) must be below "
                f"{ENV_PREFIX}TASK_TIME_LIMIT ({self.task_time_limit:g})"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, with the embedded SQLite default filled in."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'rasid.db').resolve()}"

    @property
    def broker_folder(self) -> Path:
        """Where the embedded (filesystem) broker keeps its message files."""
        return (self.data_dir / "broker").resolve()


SettingsT = TypeVar("SettingsT", bound=RasidSettings)


def load_settings(cls: type[SettingsT]) -> SettingsT:
    """Build ``cls`` from the environment, or raise an error that names each bad variable."""
    try:
        return cls()
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = ".".join(str(part) for part in item["loc"])
            # A check across fields has no location; its message names the variables itself.
            problems.append(f"{ENV_PREFIX}{field.upper()}: {item['msg']}" if field else item["msg"])
        raise ConfigurationError("invalid configuration: " + "; ".join(problems)) from None


SETTINGS_GROUP = "rasid.settings"


def check_all_settings() -> None:
    """Build every installed service's settings once, so that a process that starts the stack stops
    at once on a bad value instead of failing on its first task."""
    for point in sorted(entry_points(group=SETTINGS_GROUP), key=lambda p: p.name):
        load_settings(point.load())


@cache
def base_settings() -> RasidSettings:
    """The settings every process shares, built once per process."""
    return load_settings(RasidSettings)
