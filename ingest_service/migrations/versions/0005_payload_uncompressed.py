"""An article's kept message is stored out of line uncompressed on PostgreSQL.

It is kept only until the alert service confirms the article stored (seconds, in the usual case),
then dropped: compressing it (pglz, PostgreSQL's default for a value over 2 kB, as a message with an
article's text is) cost PostgreSQL about 35 µs of CPU an article, a third of what recording a dropped
file costs it, to save space held for seconds. SQLite stores it as it did.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE ingest_articles ALTER COLUMN payload SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE ingest_articles ALTER COLUMN payload SET STORAGE EXTENDED")
