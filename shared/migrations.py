"""Alembic plumbing: each service keeps its own migration folder and version table;
``rasid db upgrade`` upgrades them all."""

from __future__ import annotations

from importlib.metadata import entry_points

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData

from shared.db import get_engine

MIGRATIONS_GROUP = "rasid.migrations"


def alembic_config(*, service: str, script_location: str, database_url: str) -> Config:
    """The Alembic config of one service; its version table is named after it."""
    config = Config()
    config.set_main_option("script_location", script_location)
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option("version_table", f"alembic_version_{service}")
    return config


def upgrade_all(database_url: str) -> list[str]:
    """Upgrade every installed service's schema to head; returns the services upgraded."""
    upgraded = []
    for point in sorted(entry_points(group=MIGRATIONS_GROUP), key=lambda p: p.name):
        config = alembic_config(service=point.name, script_location=point.load(), database_url=database_url)
        command.upgrade(config, "head")
        upgraded.append(point.name)
    return upgraded


def run_migrations(target_metadata: MetaData) -> None:
    """The body of a service's ``env.py``: run online migrations against the configured URL."""
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    version_table = config.get_main_option("version_table") or "alembic_version"
    assert url is not None
    with get_engine(url).connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=version_table,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
