"""Watch rules: which subscriptions want which articles.

A rule is built from a subscription's stored criteria and tested against the facts of one article.
Today a subscription names topics and matches an article tagged with any of them; entities and
keywords will be further criteria on :class:`WatchRule`, each narrowing or widening the match here
and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.messages import TOPIC_NAME_RULE, is_topic_name


@dataclass(frozen=True)
class ArticleFacts:
    """What a rule may look at in an article."""

    topics: frozenset[str]
    entities: frozenset[str] = frozenset()


@dataclass(frozen=True)
class WatchRule:
    """The criteria of one subscription."""

    subscription_id: int
    topics: frozenset[str]

    def matches(self, facts: ArticleFacts) -> bool:
        """True when the article carries any of the rule's topics."""
        return not self.topics.isdisjoint(facts.topics)


def matching_subscriptions(rules: Iterable[WatchRule], facts: ArticleFacts) -> list[int]:
    """Ids of the subscriptions whose rule matches the article, in ascending order."""
    return sorted(rule.subscription_id for rule in rules if rule.matches(facts))


def parse_topics(raw: str) -> list[str]:
    """Topics from a comma-separated list, de-duplicated in order; ValueError names a bad one."""
    topics: list[str] = []
    for part in raw.split(","):
        topic = part.strip()
        if not topic:
            continue
        if not is_topic_name(topic):
            example = "like 'strikes' or 'troop_movements'"
            raise ValueError(f"topic {topic!r} is not an identifier {example} ({TOPIC_NAME_RULE})")
        if topic not in topics:
            topics.append(topic)
    if not topics:
        raise ValueError("at least one topic is needed")
    return topics
