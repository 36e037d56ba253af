"""One clock and one timestamp column type for every service: what goes in aware comes back aware
UTC, on SQLite (which keeps no zone) as on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from ingest_service.models import Feed
from shared.db import UTCDateTime, session_scope, utc_now

BAGHDAD = timezone(timedelta(hours=3))


def test_the_clock_is_aware_utc() -> None:
    assert utc_now().tzinfo is UTC


def test_timestamps_come_back_aware_utc_whatever_zone_they_were_written_in(database_url: str) -> None:
    written = datetime(2026, 11, 29, 12, 0, tzinfo=BAGHDAD)
    with session_scope(database_url) as session:
        session.add(Feed(url="https://example.org/rss", added_at=written, error_count=0, active=True))
    with session_scope(database_url) as session:
        added_at = session.scalars(select(Feed.added_at)).one()
        earlier = session.scalars(select(Feed.url).where(Feed.added_at < written + timedelta(seconds=1)))
        assert earlier.all() == ["https://example.org/rss"]
    assert added_at == written
    assert added_at.tzinfo is UTC
    assert added_at.hour == 9


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2026, 11, 29, 12, 0), dialect=None)  # type: ignore[arg-type]
