"""Alembic plumbing: each service keeps its own migration folder and version table;
``rasid db upgrade`` upgrades them all, and :func:`schema_status` tells whether a database is at
the head of every service's migrations (the commands check it before they open a session)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData

from shared.db import get_engine
from shared.errors import SchemaNotCurrentError

MIGRATIONS_GROUP = "rasid.migrations"


def version_table(service: str) -> str:
    """The table where Alembic records one service's revision."""
    return f"alembic_version_{service}"


def migration_locations() -> dict[str, str]:
    """Every installed service's migration folder, by service name, in name order."""
    points = sorted(entry_points(group=MIGRATIONS_GROUP), key=lambda p: p.name)
    return {point.name: point.load() for point in points}


def alembic_config(*, service: str, script_location: str, database_url: str) -> Config:
    """The Alembic config of one service; its version table is named after it."""
    config = Config()
    config.set_main_option("script_location", script_location)
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option("version_table", version_table(service))
    return config


def upgrade_all(database_url: str) -> list[str]:
    """Upgrade every installed service's schema to head; returns the services upgraded."""
    upgraded = []
    for service, location in migration_locations().items():
        config = alembic_config(service=service, script_location=location, database_url=database_url)
        command.upgrade(config, "head")
        upgraded.append(service)
    return upgraded


@dataclass(frozen=True)
class SchemaState:
    """Where one service's schema stands in a database against its migration scripts."""

    service: str
    current: tuple[str, ...]
    heads: tuple[str, ...]
    known: frozenset[str]

    @property
    def is_current(self) -> bool:
        return set(self.current) == set(self.heads)

    def describe(self) -> str:
        """``ingest: missing``, ``alert: 0001 < 0002`` or ``alert: 0009 (unknown; expected 0002)``."""
        heads = ",".join(self.heads)
        if not self.current:
            return f"{self.service}: missing"
        current = ",".join(self.current)
        if set(self.current) <= self.known:
            return f"{self.service}: {current} < {heads}"
        return f"{self.service}: {current} (unknown; expected {heads})"


def schema_status(database_url: str) -> list[SchemaState]:
    """Each installed service's revision in the database beside the heads of its scripts.

    One connection; the heads come from the script files, so no service's ``env.py`` is run.
    """
    scripts = {service: ScriptDirectory(location) for service, location in migration_locations().items()}
    states = []
    with get_engine(database_url).connect() as connection:
        for service, script in scripts.items():
            migration = MigrationContext.configure(connection, opts={"version_table": version_table(service)})
            states.append(
                SchemaState(
                    service=service,
                    current=tuple(sorted(migration.get_current_heads())),
                    heads=tuple(sorted(script.get_heads())),
                    known=frozenset(revision.revision for revision in script.walk_revisions()),
                )
            )
    return states


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


def require_current_schema(database_url: str) -> None:
    """Raise :class:`SchemaNotCurrentError`, naming each service behind, unless all are at head."""
    behind = [state.describe() for state in schema_status(database_url) if not state.is_current]
    if behind:
        raise SchemaNotCurrentError(
            f"the database schema is not current ({', '.join(behind)}): run `rasid db upgrade`"
        )
