"""The store benchmark's step timing stores what the store path stores and counts what it sends."""

from __future__ import annotations

from sqlalchemy import func, select

from alert_service.models import Article
from benchmarks.store import step_costs
from shared.db import session_scope
from tests.alert.helpers import classified_message


def test_step_timing_stores_every_article_and_counts_the_statements(database_url: str) -> None:
    messages = [classified_message(f"{number:016d}") for number in range(3)]
    costs = step_costs(database_url, messages, batch=2)
    with session_scope(database_url) as session:
        assert session.execute(select(func.count()).select_from(Article)).scalar_one() == 3
    assert list(costs.steps) == [
        "_store_articles",
        "_store_tags",
        "_store_entities",
        "subscriptions_matched",
        "assign_stories",
        "create_alerts",
    ]
    assert costs.batches == 2
    # At least the articles' insert in each batch went to the database.
    assert costs.statements >= costs.batches
