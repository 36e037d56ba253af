"""Backtests: what a watch rule would have sent over the articles already stored.

Nothing is written: the rule is evaluated against each stored article (its latest tags, its
entities, its words and source, as :mod:`alert_service.store` sees a new one), and the matches are
put into groups by a :data:`Grouping`. A group is what would have been one alert: the articles of
one story, as the running pipeline grouped them (:func:`by_stored_story`, what the commands use), or
every article on its own (:func:`one_per_article`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alert_service.models import Article, ArticleEntity, StoryMember, Tag
from alert_service.rules import TOKEN_PATTERN, ArticleFacts, RuleMatch, WatchRule, article_text, evaluate
from shared.arabic import normalize, sentences
from shared.gazetteer import EntityFinder

BATCH = 500


@dataclass(frozen=True)
class Hit:
    """A stored article the rule matches, and why."""

    article_id: str
    title: str
    source: str
    url: str | None
    when: datetime
    match: RuleMatch
    evidence: str

    def reasons(self) -> list[str]:
        """Why the article matched, in words: ``topic strikes``, ``entity country:iq``, ``keyword X``
        (``source`` when the rule asks for sources alone)."""
        reasons = [f"topic {topic}" for topic in self.match.topics]
        reasons += [f"entity {entity}" for entity in self.match.entities]
        reasons += [f"keyword {keyword}" for keyword, _ in self.match.keywords]
        return reasons or ["source"]

    @property
    def day(self) -> date:
        """The day the article was published (or stored, when its date is unknown), in UTC."""
        return self.when.date()


Grouping = Callable[[Sequence[Hit]], list[list[Hit]]]
"""Puts hits (oldest first) into the groups that would each have been one alert."""


def one_per_article(hits: Sequence[Hit]) -> list[list[Hit]]:
    """Every article alerts on its own."""
    return [[hit] for hit in hits]


def by_stored_story(session: Session) -> Grouping:
    """Hits grouped by the story the pipeline placed each article in (``alert_story_members``), the
    groups in the order of their first article; an article placed in no story is a group of its own."""

    def grouping(hits: Sequence[Hit]) -> list[list[Hit]]:
        story_of: dict[str, int] = {}
        ids = [hit.article_id for hit in hits]
        for start in range(0, len(ids), BATCH):
            query = select(StoryMember.article_id, StoryMember.story_id).where(
                StoryMember.article_id.in_(ids[start : start + BATCH])
            )
            story_of.update({article_id: story_id for article_id, story_id in session.execute(query)})
        groups: dict[tuple[str, object], list[Hit]] = {}
        for hit in hits:
            story = story_of.get(hit.article_id)
            key = ("article", hit.article_id) if story is None else ("story", story)
            groups.setdefault(key, []).append(hit)
        return list(groups.values())

    return grouping


@dataclass(frozen=True)
class Backtest:
    """The outcome of running a rule over the articles stored since ``since``."""

    since: datetime
    scanned: int
    groups: list[list[Hit]]

    def per_day(self) -> list[tuple[date, int]]:
        """How many alerts (groups, by their first article) each day would have had, by day."""
        counts = Counter(group[0].day for group in self.groups)
        return sorted(counts.items())

    def matches_per_day(self) -> dict[date, int]:
        """How many matching articles each day had."""
        return dict(Counter(hit.day for group in self.groups for hit in group))


def run_backtest(
    session: Session,
    rule: WatchRule,
    *,
    since: datetime,
    finder: EntityFinder,
    grouping: Grouping = one_per_article,
) -> Backtest:
    """Evaluate ``rule`` against every article stored since ``since`` (the places an article names
    lie within what ``finder``'s gazetteer says); writes nothing."""
    hits: list[Hit] = []
    scanned = 0
    for article, facts, evidence in _stored_articles(session, since=since, finder=finder):
        scanned += 1
        match = evaluate(rule, facts)
        if match is not None:
            hits.append(_hit(article, match, evidence=evidence))
    hits.sort(key=lambda hit: (hit.when, hit.article_id))
    return Backtest(since=since, scanned=scanned, groups=grouping(hits))


StoredArticle = tuple[Article, ArticleFacts, dict[str, list[dict[str, Any]]]]


def _stored_articles(session: Session, *, since: datetime, finder: EntityFinder) -> Iterator[StoredArticle]:
    """Each article stored since ``since`` with its facts and its evidence by topic, in batches."""
    query = select(Article).where(Article.stored_at >= since).order_by(Article.stored_at, Article.id)
    articles = session.execute(query.execution_options(yield_per=BATCH)).scalars()
    for batch in articles.partitions(BATCH):
        ids = [article.id for article in batch]
        tags = _latest_tags(session, ids)
        entities = _entities(session, ids)
        for article in batch:
            mine = tags.get(article.id, {})
            facts = ArticleFacts.of_article(
                {topic: tag.score for topic, tag in mine.items()},
                entity_ids=entities.get(article.id, ()),
                title=article.title,
                text=article.text,
                source_kind=article.source_kind,
                feed_id=article.feed_id,
                url=article.url,
                finder=finder,
            )
            yield article, facts, {topic: tag.evidence for topic, tag in mine.items()}


def _latest_tags(session: Session, article_ids: list[str]) -> dict[str, dict[str, Tag]]:
    # An article re-classified by a newer classifier has tags of both versions: the newest counts.
    latest: dict[str, dict[str, Tag]] = {}
    rows = session.execute(select(Tag).where(Tag.article_id.in_(article_ids)).order_by(Tag.id)).scalars()
    for tag in rows:
        latest.setdefault(tag.article_id, {})[tag.topic] = tag
    return latest


def _entities(session: Session, article_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    query = select(ArticleEntity.article_id, ArticleEntity.entity_id).where(
        ArticleEntity.article_id.in_(article_ids)
    )
    for article_id, entity_id in session.execute(query):
        found.setdefault(article_id, []).append(entity_id)
    return found


def _hit(article: Article, match: RuleMatch, *, evidence: dict[str, list[dict[str, Any]]]) -> Hit:
    return Hit(
        article_id=article.id,
        title=article.title,
        source=article.source,
        url=article.url,
        when=article.published_at or article.stored_at,
        match=match,
        evidence=_evidence(article, match, evidence=evidence),
    )


def _evidence(article: Article, match: RuleMatch, *, evidence: dict[str, list[dict[str, Any]]]) -> str:
    """The sentence behind the first matched topic, else the sentence of the first keyword as
    written, else the entities matched."""
    for topic in match.topics:
        for item in evidence.get(topic, []):
            if item.get("sentence"):
                return str(item["sentence"])
    if match.keywords:
        return keyword_sentence(article_text(article.title, article.text), match.keywords[0][1])
    return ", ".join(match.entities)


def keyword_sentence(text: str, position: int) -> str:
    """The sentence of ``text``, as written, holding its word at ``position`` (a position in
    :func:`~alert_service.rules.article_words`)."""
    normalized = normalize(text)
    for index, token in enumerate(TOKEN_PATTERN.finditer(normalized.text)):
        if index == position:
            start, _ = normalized.to_original(*token.span())
            break
    else:
        return ""
    for first, end in sentences(text):
        if first <= start < end:
            return " ".join(text[first:end].split())
    return ""
