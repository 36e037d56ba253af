"""Placing stored articles in stories, in the database, as :class:`alert_service.stories.StoryIndex`
places them in memory.

A batch is placed under one lock, against the members of its window read once: each article of the
batch, in order, is compared with the stories that share one of its key terms (at most
:data:`alert_service.stories.MOST_CANDIDATES` of them, ranked as :class:`StoryIndex` ranks them;
each made of its members within the window either side of it, the batch's earlier articles
included), joins the best
or starts its own, exactly as storing the articles one at a time would place them. The stories and
members the batch adds are inserted with one multi-row statement each.

Assignment is serialized: on PostgreSQL a transaction-scoped advisory lock is taken before the
candidates are read and held until the caller commits, so two store workers cannot both start a story
for one event, or each join a different one; SQLite has one writer at a time. It is idempotent: an
article already placed keeps its story.

A member's profile and story never change once written, so each process keeps the profiles it has
read (:class:`ProfileCache`) and reads from the database only those of members it has not seen: a
worker storing a stream of articles reads each member's profile once, not once per arriving batch.
On PostgreSQL it keeps the window's members too (:class:`KeptWindow`): under the lock a batch reads
only the members written since the process's last read, not every member of its window, and what
grouping builds of them (the index of their key terms, each story's order, its candidates with their
centroids and the members of a large story by key term) is kept with them, changed member by member,
not built again for every batch. The cache keeps about as many profiles as a batch's window holds,
the kept window at most ``_MOST_IN_WINDOW`` members (a window busier than that is read from the
database batch by batch): an archive of tens of thousands of undated files, all in one window, is
placed without reading the window again for every batch. Of such a window an article is compared
only with the latest ``GroupingSettings.most_in_window`` members
(:func:`alert_service.stories.window_start`), and the members before those of a batch's earliest
article are forgotten: a worker keeps about that many, not the archive.
"""

from __future__ import annotations

import bisect
import itertools
import json
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session

from alert_service.grouping import GroupingSettings
from alert_service.models import Story, StoryMember
from alert_service.stories import (
    AFTER_EVERY_ID,
    CENTROID_MEMBERS,
    INDEXED_MEMBERS,
    MOST_CANDIDATES,
    IdfTable,
    InOrder,
    KeyMembers,
    LiveCentroid,
    Profile,
    StoryArticle,
    StoryCandidate,
    choose_story,
    default_idf,
    in_order,
    index_key_terms,
    live_centroid,
    profile,
    story_ids_sharing,
    unindex_key_terms,
    window_start,
)
from shared.db import UTCDateTime, dialect_insert
from shared.messages import MAX_BATCH

# Any fixed 64-bit number: the advisory lock that serializes story assignment.
STORY_LOCK_KEY = 0x7261736964_5354
STORIES = cast(Table, Story.__table__)
STORY_MEMBERS = cast(Table, StoryMember.__table__)
# A story a batch starts is numbered from here until it is inserted: above every stored story's id.
_STARTED = 1 << 62
# From this many arriving articles on, a batch indexes its window's members by key term; fewer look
# at every member, which costs less than the index (measured with benchmarks/store.py).
_INDEX_FROM = 16
# The most members a process keeps of a window across batches (KeptWindow), profiles held. A profile
# held takes about 2 KB (a hundred terms and their weights of 16 bits, the title's, the key terms, and
# 0.45 KB of them packed for bounding stories): 40,000 take about 80 MB of an alert worker. A window
# read again for every batch costs each of its articles the window's profiles read back, several
# milliseconds of CPU an article in a burst of 30,000 files. Since an article is compared with at most
# GroupingSettings.most_in_window members (5,000), a kept window holds about that many and the members
# written since, not a burst's; the larger bound stays for a setting raised past it.
_MOST_IN_WINDOW = 40_000


def lock_stories(session: Session) -> None:
    """Hold the story-assignment lock until the transaction ends (PostgreSQL; SQLite needs none)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STORY_LOCK_KEY})


class ProfileCache:
    """The profiles of story members this process has read, the most recently read kept: as many as
    a batch's window holds (:meth:`fit`), or ``size`` when given.

    A window read whole (on SQLite for every batch, on PostgreSQL when the kept window must be read
    again) holds the ``most_in_window`` latest members before its batch's articles: kept that many and
    a batch's, every one of them is read from the database once, the latest batch's not at all. Kept
    more, the cache holds only profiles no window needs: at 10,000 (twice the window's bound), a
    burst of 30,000 undated files grew each alert pool child by 74 MB (largest RSS 188 MB), at
    5,200 by 58-59 MB (170-176 MB), with no more CPU an article (benchmarks/worker_memory.py). Its
    size follows the bound, so a bound raised keeps the window read from the cache."""

    def __init__(self, size: int | None = None) -> None:
        self._fixed = size is not None
        self._size = size or 0
        self._profiles: OrderedDict[str, Profile] = OrderedDict()

    def fit(self, settings: GroupingSettings) -> None:
        """Keep at least the profiles a window of ``settings`` holds and a batch's arrivals (the
        largest window of the settings used so far in this process), unless the size was given."""
        if not self._fixed:
            self._size = max(self._size, settings.most_in_window + MAX_BATCH)

    def __len__(self) -> int:
        return len(self._profiles)

    def get(self, article_id: str) -> Profile | None:
        """The cached profile of ``article_id``, if it is cached."""
        found = self._profiles.get(article_id)
        if found is not None:
            self._profiles.move_to_end(article_id)
        return found

    def put(self, profile: Profile) -> None:
        """Keep ``profile``, forgetting the least recently read one past the size."""
        self._profiles[profile.article_id] = profile
        self._profiles.move_to_end(profile.article_id)
        while len(self._profiles) > self._size:
            self._profiles.popitem(last=False)


_CACHE = ProfileCache()


def _read_profiles(session: Session, article_ids: list[str]) -> Iterable[Profile]:
    # The columns, not the members as ORM objects: loading each as an object kept in the session
    # added a tenth to reading a profile back, for every member another process wrote.
    columns = (StoryMember.article_id, StoryMember.source, StoryMember.published_at, StoryMember.profile)
    for start in range(0, len(article_ids), 500):
        rows = session.execute(
            select(*columns).where(StoryMember.article_id.in_(article_ids[start : start + 500]))
        )
        for article_id, source, published, data in rows:
            yield Profile.from_json(article_id, source=source, published=published, data=data)


# The stories having a key term (StoryWindow._by_key): the story alone, a tuple of a few, a set of more.
KeyStories = int | tuple[int, ...] | set[int]


class StoryWindow:
    """The story members within the window of a batch of arriving articles, each story's members in
    order of publication: an arriving article is compared with the stories that have a member sharing
    one of its key terms (as :class:`StoryIndex` finds them), each made of its members within that
    article's window: from :func:`window_start` (the window either side of its publication, and of
    that only the ``most_in_window`` latest members held) to the window's end after it.

    ``indexed``: the stories are found through an index of the members' key terms, built when the
    window is read; otherwise by looking at every member, which is cheaper for a few arrivals.

    Leaving out the stories that share no key term changes nothing: :func:`choose_story` compares an
    article only with members sharing one (were that to change, :meth:`candidates` must follow). Nor
    does holding members beyond the batch's window: an article's candidates hold only the members
    within its own window, and a story none of whose members there shares a key term is passed over,
    so a window kept across batches (:class:`KeptWindow`) may hold the members of its whole span.
    Past MOST_CANDIDATES stories, those of :func:`story_ids_sharing`'s ranking within the article's
    window are taken; the ranking counts the stories of the members held. The batch forgets
    (:meth:`forget_before`) the members before the window of the earliest article still to place, so
    for articles arriving in order of publication those are the article's window's, as StoryIndex's
    are; for articles out of order, a few more (which members each article is compared with does not
    change).

    Members may be added and removed; what a story's members build (its order, its candidates with
    their key-term positions) is kept until the story changes. The members :meth:`add` placed since
    :meth:`take_placed` are told apart, so a kept window can tell them from those read (the stories
    the batch started are given their stored ids by :meth:`renumber`).
    """

    def __init__(
        self, settings: GroupingSettings, rows: Iterable[tuple[int, Profile]], *, indexed: bool
    ) -> None:
        self._settings = settings
        self._window = settings.window
        self._members: dict[int, list[Profile]] = {}
        # Every member by article id (when not indexed, the stories are found by looking at each),
        # and where each stands (in_order), sorted: the count of window_start, the oldest forgotten.
        self._held: dict[str, tuple[int, Profile]] = {}
        self._in_order: list[InOrder] = []
        self._forgotten: list[str] = []
        # The latest start before which members were forgotten (forget_before): no member before it
        # is held.
        self.floor: InOrder | None = None
        # Key term to the stories with a member having it: the story alone when one has it (most
        # terms), a tuple of a few, a set of more. Not how many members of each have it: a dict of those
        # counts for each term took 18.4 MiB of a window of 30,000 members, the tuples 6.5 MiB;
        # a member removed is looked for among the others of its story instead.
        self._by_key: dict[str, KeyStories] | None = {} if indexed else None
        # Each story's candidates by the span of its members they hold, until the story changes.
        self._built: dict[int, dict[tuple[int, int], StoryCandidate]] = {}
        # The centroid of the latest members of each large story (LiveCentroid), made when the story
        # is first a large candidate and kept as its members come and go.
        self._live: dict[int, LiveCentroid] = {}
        # Each story's members in order, sorted when the story is first a candidate.
        self._order: dict[int, list[tuple[datetime, str]]] = {}
        self._placed: list[tuple[int, Profile]] = []
        # The members of each large story by key term (StoryCandidate.key_members), made when the
        # story is first a large candidate and kept as its members come and go.
        self._key_members: dict[int, KeyMembers] = {}
        for story_id, member in rows:
            self._members.setdefault(story_id, []).append(member)
            self._held[member.article_id] = (story_id, member)
            self._in_order.append(in_order(member))
            self._remember(story_id, member)
        self._in_order.sort()

    @property
    def held(self) -> int:
        """How many members the window holds."""
        return len(self._held)

    def holds(self, member: Profile) -> bool:
        """Whether ``member`` is held (not removed nor forgotten)."""
        held = self._held.get(member.article_id)
        return held is not None and held[1] is member

    def start_of(self, published: datetime) -> InOrder:
        """Where the members begin that an article published at ``published`` is compared with
        (:func:`window_start`, counted among the members held)."""
        return window_start(published, self._in_order, settings=self._settings)

    def forget_before(self, start: InOrder) -> None:
        """Hold the members before ``start`` no longer (:meth:`take_forgotten` tells which)."""
        gone = bisect.bisect_left(self._in_order, start)
        if not gone:
            return
        for _, article_id in self._in_order[:gone]:
            story_id, member = self._held.pop(article_id)
            self._remove_member(story_id, member)
            self._forgotten.append(article_id)
        del self._in_order[:gone]
        self.floor = start if self.floor is None else max(self.floor, start)

    def take_forgotten(self) -> list[str]:
        """The article ids of the members :meth:`forget_before` forgot since the last call."""
        forgotten, self._forgotten = self._forgotten, []
        return forgotten

    def add(self, story_id: int, member: Profile) -> None:
        """Count ``member``, just placed, in ``story_id``."""
        self.include(story_id, member)
        self._placed.append((story_id, member))

    def take_placed(self) -> list[tuple[int, Profile]]:
        """The members :meth:`add` placed since the last call, now no longer told apart."""
        placed, self._placed = self._placed, []
        return placed

    def renumber(self, numbers: Mapping[int, int]) -> None:
        """Give stories other ids (``numbers``: each old id to its new one, no new id held already):
        the stories a batch started, numbered while placing it, get the ids they were stored under."""
        renamed = {old: new for old, new in numbers.items() if old in self._members}
        if not renamed:
            return
        self._placed = [(renamed.get(story_id, story_id), member) for story_id, member in self._placed]
        for old, new in renamed.items():
            members = self._members[new] = self._members.pop(old)
            for member in members:
                self._held[member.article_id] = (new, member)
            if old in self._order:
                self._order[new] = self._order.pop(old)
            if old in self._live:
                self._live[new] = self._live.pop(old)
            if old in self._key_members:
                self._key_members[new] = self._key_members.pop(old)
            self._built.pop(old, None)
            if self._by_key is not None:
                for term in {term for member in members for term in member.key_terms}:
                    self._by_key[term] = _renamed(self._by_key[term], old, new)

    def include(self, story_id: int, member: Profile) -> None:
        """Count ``member``, a stored member of ``story_id``."""
        self._held[member.article_id] = (story_id, member)
        bisect.insort(self._in_order, in_order(member))
        members = self._members.setdefault(story_id, [])
        order = self._order.get(story_id)
        if order is None:
            members.append(member)
        else:
            position = bisect.bisect_right(order, in_order(member))
            order.insert(position, in_order(member))
            members.insert(position, member)
            self._follow_latest(story_id, members, position, come=True)
        self._built.pop(story_id, None)
        self._remember(story_id, member)
        key_members = self._key_members.get(story_id)
        if key_members is not None:
            index_key_terms(key_members, member)

    def remove(self, story_id: int, member: Profile) -> None:
        """Count ``member`` (held in ``story_id``) no longer."""
        del self._held[member.article_id]
        del self._in_order[bisect.bisect_left(self._in_order, in_order(member))]
        self._remove_member(story_id, member)

    def _remove_member(self, story_id: int, member: Profile) -> None:
        """Take ``member`` out of its story and the key-term indexes (not out of ``_held``)."""
        members = self._members[story_id]
        order = self._order.get(story_id)
        if order is None:
            position = next(index for index, held in enumerate(members) if held is member)
        else:
            position = bisect.bisect_left(order, in_order(member))
            del order[position]
            self._follow_latest(story_id, members, position, come=False)
        del members[position]
        if not members:
            del self._members[story_id]
            self._order.pop(story_id, None)
            self._live.pop(story_id, None)
        self._built.pop(story_id, None)
        key_members = self._key_members.get(story_id)
        if key_members is not None:
            unindex_key_terms(key_members, member)
            if not members:
                del self._key_members[story_id]
        self._forget(story_id, member)

    def _follow_latest(self, story_id: int, members: list[Profile], position: int, *, come: bool) -> None:
        """Keep the story's live centroid (if it has one) the centroid of its latest members, as the
        member at ``position`` of ``members`` (in order) has come (inserted there) or is going (still
        there)."""
        live = self._live.get(story_id)
        latest = len(members) - CENTROID_MEMBERS
        if live is None or position < latest:
            # No live centroid, or the member is not among the latest.
            return
        member = members[position]
        # The member it pushes out of the latest, or lets in among them.
        other = members[latest - 1] if latest > 0 else None
        if member.vector_weights.typecode != "H" or (
            other is not None and other.vector_weights.typecode != "H"
        ):
            # Not of whole ten-thousandths: the story's centroids are summed afresh from now on.
            del self._live[story_id]
            return
        if come:
            live.add(member)
            if other is not None:
                live.remove(other)
        else:
            live.remove(member)
            if other is not None:
                live.add(other)

    def _remember(self, story_id: int, member: Profile) -> None:
        if self._by_key is None:
            return
        by_key = self._by_key
        for term in member.key_terms:
            stories = by_key.get(term)
            if stories is None:
                by_key[term] = story_id
            elif isinstance(stories, int):
                if stories != story_id:
                    by_key[term] = (stories, story_id)
            elif isinstance(stories, tuple):
                if story_id not in stories:
                    grown = (*stories, story_id)
                    by_key[term] = grown if len(grown) <= _FEW_STORIES else set(grown)
            else:
                stories.add(story_id)

    def _forget(self, story_id: int, member: Profile) -> None:
        """Forget ``member``, removed from ``story_id``: the story no longer has the key terms that
        none of its members left has."""
        if self._by_key is None:
            return
        by_key = self._by_key
        left = self._key_terms_of(story_id)
        for term in member.key_terms:
            if term in left:
                continue
            stories = by_key[term]
            if isinstance(stories, int):
                del by_key[term]
            elif isinstance(stories, tuple):
                position = stories.index(story_id)
                rest = stories[:position] + stories[position + 1 :]
                by_key[term] = rest[0] if len(rest) == 1 else rest
            else:
                stories.discard(story_id)
                if not stories:
                    del by_key[term]

    def _key_terms_of(self, story_id: int) -> Collection[str]:
        """The key terms of the story's members."""
        key_members = self._key_members.get(story_id)
        if key_members is not None:
            return key_members.keys()
        return set().union(*(member.key_terms for member in self._members.get(story_id, ())))

    def candidates(self, new: Profile) -> list[StoryCandidate]:
        """The stories ``new`` may join: those sharing a key term, with their members in its window
        (the first MOST_CANDIDATES of :func:`story_ids_sharing` when more share one)."""
        if self._by_key is None:
            # Few arrivals look at every member: the stories having each key term are found here.
            keys = new.keys
            having: dict[str, set[int]] = {}
            for story_id, member in self._held.values():
                for term in keys.intersection(member.key_terms):
                    having.setdefault(term, set()).add(story_id)
            story_ids = story_ids_sharing(new.key_terms, lambda term: having.get(term, ()))
        else:
            story_ids = story_ids_sharing(new.key_terms, self._stories_having)
        # The ends of the article's window, as the members' order keys (the same for every story).
        earliest, latest = self.start_of(new.published), (new.published + self._window, AFTER_EVERY_ID)
        found = (self._candidate(story_id, earliest, latest) for story_id in story_ids)
        within = itertools.islice(filter(None, found), MOST_CANDIDATES)
        return sorted(within, key=_story_id)

    def _stories_having(self, term: str) -> Collection[int]:
        assert self._by_key is not None
        stories = self._by_key.get(term)
        if stories is None:
            return ()
        return (stories,) if isinstance(stories, int) else stories

    def _candidate(
        self, story_id: int, earliest: tuple[datetime, str], latest: tuple[datetime, str]
    ) -> StoryCandidate | None:
        order = self._order.get(story_id)
        if order is None:
            self._members[story_id].sort(key=in_order)
            order = self._order[story_id] = [in_order(member) for member in self._members[story_id]]
        # Most stories lie wholly within the article's window: two comparisons, not a search each end.
        first = 0 if order[0] >= earliest else bisect.bisect_left(order, earliest)
        last = len(order) if order[-1] <= latest else bisect.bisect_right(order, latest)
        if first == last:
            return None
        # One candidate (its centroid and key-term positions with it) for every article that sees
        # the same members of the story, in this batch and the next ones while the story is unchanged.
        built = self._built.setdefault(story_id, {})
        candidate = built.get((first, last))
        if candidate is None:
            if len(built) >= _SPANS_KEPT:
                built.clear()
            members = tuple(self._members[story_id][first:last])
            candidate = StoryCandidate(
                story_id,
                members,
                key_members=self._key_members_of(story_id, members),
                live=self._live_centroid(story_id, members)
                if self._holds_latest(order, first, last)
                else None,
            )
            built[first, last] = candidate
        return candidate

    @staticmethod
    def _holds_latest(order: list[InOrder], first: int, last: int) -> bool:
        """Whether the span from ``first`` to ``last`` of a story's members (``order``) holds its
        latest CENTROID_MEMBERS, those its live centroid sums (all of them when it has fewer)."""
        return last == len(order) and (first == 0 or last - first >= CENTROID_MEMBERS)

    def _live_centroid(self, story_id: int, members: tuple[Profile, ...]) -> LiveCentroid | None:
        """The live centroid of a story whose latest member ``members`` ends with: kept from when the
        story is first a candidate of more than CENTROID_MEMBERS."""
        live = self._live.get(story_id)
        if live is None and len(members) > CENTROID_MEMBERS:
            latest = self._members[story_id][-CENTROID_MEMBERS:]
            live = live_centroid(latest)
            if live is not None:
                self._live[story_id] = live
        return live

    def _key_members_of(self, story_id: int, members: tuple[Profile, ...]) -> KeyMembers | None:
        """The story's members by key term, for a candidate of ``members`` that indexes them."""
        if len(members) <= INDEXED_MEMBERS:
            return None
        key_members = self._key_members.get(story_id)
        if key_members is None:
            key_members = self._key_members[story_id] = {}
            for member in self._members[story_id]:
                index_key_terms(key_members, member)
        return key_members


# The most stories a key term's tuple holds (StoryWindow._by_key); a set holds more, added to in place.
_FEW_STORIES = 64
# The candidates kept of one story, each of other members within the window (as articles published
# at different times see): a story's members change seldom, the window slides with every article.
_SPANS_KEPT = 4


def _renamed(stories: KeyStories, old: int, new: int) -> KeyStories:
    """The stories of a key term (:attr:`StoryWindow._by_key`) with ``old`` called ``new``."""
    if isinstance(stories, int):
        return new if stories == old else stories
    if isinstance(stories, tuple):
        return tuple(new if story_id == old else story_id for story_id in stories)
    if old in stories:
        stories.discard(old)
        stories.add(new)
    return stories


def _story_id(candidate: StoryCandidate) -> int:
    return candidate.story_id


def _window_of(
    session: Session, arriving: Sequence[Profile], *, settings: GroupingSettings, cache: ProfileCache
) -> StoryWindow:
    """The stored members the batch's articles may be compared with: from where the window of the
    earliest published begins (:func:`window_start`) to the window's end after the latest."""
    first = min(new.published for new in arriving)
    last = max(new.published for new in arriving)
    if _keeps_window(session):
        kept = _KEPT.of(str(session.get_bind().engine.url), settings)
        return kept.stories(session, first, last, cache=cache)
    known, _ = _read_window(session, first, last + settings.window, settings=settings, cache=cache)
    return StoryWindow(settings, known.values(), indexed=len(arriving) >= _INDEX_FROM)


def _read_window(
    session: Session, first: datetime, end: datetime, *, settings: GroupingSettings, cache: ProfileCache
) -> tuple[dict[str, tuple[int, Profile]], InOrder]:
    """The story and profile of each member, by article id, from where the window of an article
    published at ``first`` begins to ``end``, and where that is. Each member's profile is read only
    when it is within: an archive's window holds many more members than an article is compared with."""
    rows = session.execute(
        select(StoryMember.published_at, StoryMember.article_id, StoryMember.story_id).where(
            StoryMember.published_at >= first - settings.window, StoryMember.published_at <= end
        )
    ).all()
    start = window_start(
        first, sorted((published, article_id) for published, article_id, _ in rows), settings=settings
    )
    within = [
        (article_id, story_id) for published, article_id, story_id in rows if (published, article_id) >= start
    ]
    return _with_profiles(session, within, cache=cache), start


def _with_profiles(
    session: Session, rows: list[tuple[str, int]], *, cache: ProfileCache
) -> dict[str, tuple[int, Profile]]:
    """The story and profile of each member of ``rows`` (article id and story id), by article id."""
    # Held here for the batch: the cache may forget some of a window larger than it.
    profiles: dict[str, Profile] = {}
    missing = []
    for article_id, _ in rows:
        found = cache.get(article_id)
        if found is None:
            missing.append(article_id)
        else:
            profiles[article_id] = found
    for profile_read in _read_profiles(session, missing):
        cache.put(profile_read)
        profiles[profile_read.article_id] = profile_read
    held: dict[str, tuple[int, Profile]] = {}
    for article_id, story_id in rows:
        found = profiles.get(article_id)
        if found is not None:
            # Keyed by the profile's own article id: the row's is a second copy of it, kept as long
            # as the member (0.5 MB of a window of 5,000).
            held[found.article_id] = (story_id, found)
    return held


def _keeps_window(session: Session) -> bool:
    """Whether this batch reads its window through the process's kept window: on PostgreSQL, the
    first batch of a transaction (a later one must see the members its transaction placed, which
    are not committed, so it reads them all)."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    transaction = session.get_transaction()
    first = session.info.get(_WINDOW_READ_IN) is not transaction
    session.info[_WINDOW_READ_IN] = transaction
    return first


_WINDOW_READ_IN = "story window read in"
_XIDS = 1 << 32


@dataclass(frozen=True)
class _Snapshot:
    """Which transactions' rows a read saw, as PostgreSQL's ``pg_current_snapshot()`` says: every
    one that ended before ``xmax`` (32-bit transaction ids), but those of ``unseen`` (in progress
    then, this process's own among them)."""

    xmax: int
    unseen: tuple[int, ...]

    @classmethod
    def now(cls, session: Session) -> _Snapshot:
        """The snapshot of a statement run now."""
        snapshot, own = session.execute(select(_SNAPSHOT, _OWN_TRANSACTION)).one()
        return cls.parse(snapshot, own)

    @classmethod
    def parse(cls, snapshot: str, own: str | None) -> _Snapshot:
        """The snapshot ``pg_current_snapshot()`` wrote, this transaction's id ``own`` unseen too."""
        _, xmax, running = snapshot.split(":")
        unseen = [int(xid) for xid in running.split(",") if xid]
        if own is not None:
            unseen.append(int(own))
        return cls(int(xmax) % _XIDS, tuple(xid % _XIDS for xid in unseen))

    def precedes(self, other: _Snapshot) -> bool:
        """Whether this snapshot is older than ``other`` (in doubt: then the kept window is read again)."""
        return (self.xmax - other.xmax) % _XIDS >= _XIDS // 2

    def missed(self, xid: ColumnElement[int]) -> ColumnElement[bool]:
        """Whether the transaction ``xid`` (of 32 bits) wrote what this snapshot did not see: it is
        ``xmax`` or later (modulo 2**32) or one of ``unseen``."""
        return or_((xid - self.xmax + _XIDS) % _XIDS < _XIDS // 2, xid.in_(self.unseen))


_SNAPSHOT = literal_column("pg_current_snapshot()::text", String)
_OWN_TRANSACTION = literal_column("pg_current_xact_id_if_assigned()::text", String)
# The transaction that wrote a row, of 32 bits.
_WRITTEN_BY = literal_column("xmin::text::bigint", BigInteger)


class KeptWindow:
    """A database's story members from a member on (:func:`in_order`) to a time, kept by a process
    across batches and brought up to date under the story lock by reading only the members written
    since its last read.

    Members are written only under the lock and committed before it is released, so under the lock
    every member written since the last read belongs to a transaction that the last read's snapshot
    did not see (one running then, this process's own, or one begun since): those are read, by their
    rows' ``xmin``. Members are never changed; should any be deleted, the count of the span's members
    differs from the kept count and the span is read again, as it is when a batch falls outside it or
    the database's transaction ids went back.

    The kept members are held as a :class:`StoryWindow` too, which the batch places its articles
    in: the members a batch placed stay in it, under the stories they were stored in, and the next
    batch's read of what was written confirms them (found: committed, nothing to do) or drops them
    (not found: rolled back, nothing left behind). The members before the window of a batch's
    earliest article (:func:`window_start`) are forgotten, and so are those the story window forgot
    as the batch was placed: in an archive's burst the window keeps about ``most_in_window`` members,
    not the burst. A batch whose earliest article's window begins before the kept span reads its
    members whole.

    At most ``most`` members are kept: a window holding more (a very busy few days) is forgotten once
    the batch has its members, and the next batch reads its own window whole, not the span after it,
    until a window fits again.
    """

    def __init__(self, settings: GroupingSettings, *, most: int = _MOST_IN_WINDOW) -> None:
        self._settings = settings
        self._window = settings.window
        self._most = most
        self._members: dict[str, tuple[int, Profile]] = {}
        # The first member kept (in_order) and the publication time the span ends at.
        self._span: tuple[InOrder, datetime] | None = None
        self._seen: _Snapshot | None = None
        self._overflowed = False
        # The kept members as a story window, kept with them (None until a batch needs it).
        self._stories: StoryWindow | None = None
        # The members the last batch placed, kept as stored until the next read finds them written
        # (its transaction committed) or not (rolled back: then they are dropped), by article id.
        self._placed: dict[str, tuple[int, Profile]] = {}

    @property
    def held(self) -> int:
        """How many members are kept."""
        return len(self._members)

    def stories(
        self, session: Session, first: datetime, last: datetime, *, cache: ProfileCache
    ) -> StoryWindow:
        """The story window of a batch whose articles are published from ``first`` to ``last``
        (holding the members of the whole span kept, which places the batch alike); called under the
        story lock.

        The window is the one kept, brought up to date member by member, unless the span had to be
        read whole or holds too many members to keep."""
        self._follow_placement()
        latest = last + self._window
        seen = self._brought_up_to_date(session, first, latest, cache=cache)
        if seen is None:
            seen = _Snapshot.now(session)
            # Later members are read as well (a stream's next batches fall within the span), unless
            # the last window read was too large to keep.
            end = latest if self._overflowed else latest + self._window
            self._members, start = _read_window(session, first, end, settings=self._settings, cache=cache)
            self._span, self._stories, self._placed = (start, end), None, {}
        else:
            self._forget_before(self._start_of(first))
        self._seen = seen
        self._overflowed = len(self._members) > self._most
        if self._overflowed:
            found = [
                (story_id, member)
                for story_id, member in self._members.values()
                if member.published <= latest
            ]
            self._members, self._span, self._seen, self._stories = {}, None, None, None
            return StoryWindow(self._settings, found, indexed=True)
        if self._stories is None:
            self._stories = StoryWindow(self._settings, self._members.values(), indexed=True)
        return self._stories

    def _follow_placement(self) -> None:
        """Keep the members the last batch placed in the kept window, under the stories they were
        stored in, until the next read tells whether they were written (:meth:`_confirm_placed`),
        and forget those the story window forgot as it was placed."""
        stories = self._stories
        if stories is None:
            return
        self._placed = {
            member.article_id: (story_id, member)
            for story_id, member in stories.take_placed()
            if stories.holds(member)
        }
        self._members.update(self._placed)
        forgotten = stories.take_forgotten()
        for article_id in forgotten:
            self._members.pop(article_id, None)
        if stories.floor is not None and self._span is not None:
            self._span = (max(self._span[0], stories.floor), self._span[1])

    def _start_of(self, first: datetime) -> InOrder:
        """Where the window of an article published at ``first`` begins, among the kept members."""
        if self._stories is not None:
            return self._stories.start_of(first)
        return window_start(
            first,
            sorted(map(in_order, (member for _, member in self._members.values()))),
            settings=self._settings,
        )

    def _keep(self, read: dict[str, tuple[int, Profile]]) -> None:
        """Keep the members ``read`` (by article id), in the kept story window too."""
        stories = self._stories
        if stories is not None:
            for article_id, (story_id, member) in read.items():
                held = self._members.get(article_id)
                if held is not None:
                    if held[0] == story_id and held[1] is member:
                        # Placed by this process's last batch, and kept.
                        continue
                    stories.remove(*held)
                stories.include(story_id, member)
        self._members.update(read)

    def _confirm_placed(self, read: Mapping[str, tuple[int, Profile]]) -> None:
        """Drop the members the last batch placed that the read since (``read``) did not find
        written: its transaction was rolled back."""
        placed, self._placed = self._placed, {}
        for article_id, held in placed.items():
            if article_id not in read and self._members.get(article_id) == held:
                del self._members[article_id]
                if self._stories is not None and self._stories.holds(held[1]):
                    self._stories.remove(*held)

    def _brought_up_to_date(
        self, session: Session, first: datetime, latest: datetime, *, cache: ProfileCache
    ) -> _Snapshot | None:
        """The snapshot the kept members are now up to date with, after reading in one statement the
        members written since the last read, how many the span holds and the snapshot; ``None`` when
        in doubt (then the span must be read whole) or when the window of the article published at
        ``first`` begins before the span (members not kept may be among those it is compared with)."""
        if self._span is None or self._seen is None:
            return None
        (start, start_id), end = self._span
        if latest > end:
            return None
        span = (
            select(StoryMember.article_id, StoryMember.story_id, _WRITTEN_BY.label("xid"))
            .where(
                StoryMember.published_at >= start,
                tuple_(StoryMember.published_at, StoryMember.article_id)
                >= tuple_(literal(start, UTCDateTime()), literal(start_id)),
                StoryMember.published_at <= end,
            )
            .cte("span")
        )
        written = select(span.c.article_id, span.c.story_id, null(), null(), null()).where(
            self._seen.missed(span.c.xid)
        )
        counted = select(null(), null(), func.count(), _SNAPSHOT, _OWN_TRANSACTION).select_from(span)
        rows = session.execute(union_all(written, counted)).all()
        _, _, stored, snapshot, own = next(row for row in rows if row[0] is None)
        seen = _Snapshot.parse(snapshot, own)
        new = [(article_id, story_id) for article_id, story_id, *_ in rows if article_id is not None]
        read = _with_profiles(session, new, cache=cache)
        self._keep(read)
        self._confirm_placed(read)
        if seen.precedes(self._seen) or stored != len(self._members):
            return None
        if self._start_of(first) < self._span[0]:
            return None
        return seen

    def _forget_before(self, start: InOrder) -> None:
        """Forget the members before ``start``: no article of this batch or a later one published
        no earlier is compared with them."""
        assert self._span is not None
        if start <= self._span[0]:
            return
        self._span = (start, self._span[1])
        if self._stories is not None:
            self._stories.forget_before(start)
            for article_id in self._stories.take_forgotten():
                del self._members[article_id]
            return
        self._members = {
            article_id: (story_id, member)
            for article_id, (story_id, member) in self._members.items()
            if in_order(member) >= start
        }


class KeptWindows:
    """The kept window of each database (and story window) a process stores into, each keeping at
    most ``most`` members."""

    def __init__(self, *, most: int = _MOST_IN_WINDOW) -> None:
        self._most = most
        self._windows: dict[tuple[str, GroupingSettings], KeptWindow] = {}

    @property
    def held(self) -> int:
        """How many members the kept windows hold in all."""
        return sum(window.held for window in self._windows.values())

    def of(self, url: str, settings: GroupingSettings) -> KeptWindow:
        """The kept window of the database at ``url`` for grouping by ``settings``, begun empty."""
        key = (url, settings)
        if key not in self._windows:
            self._windows[key] = KeptWindow(settings, most=self._most)
        return self._windows[key]


_KEPT = KeptWindows()


def placed_stories(session: Session, article_ids: Iterable[str]) -> dict[str, int]:
    """The stories of the articles of ``article_ids`` that were placed, by article id."""
    ids = list(article_ids)
    placed: dict[str, int] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(StoryMember.article_id, StoryMember.story_id).where(
                StoryMember.article_id.in_(ids[start : start + 500])
            )
        )
        placed.update((article_id, story_id) for article_id, story_id in rows)
    return placed


def assign_stories(
    session: Session,
    articles: Sequence[StoryArticle],
    *,
    now: datetime,
    settings: GroupingSettings | None = None,
    idf: IdfTable | None = None,
) -> dict[str, int]:
    """The story each of ``articles`` (already stored) joins or starts, by article id, placed in the
    order given as one at a time would place them; an article already placed keeps its story.

    The articles' profiles are made before the lock is taken (the costly part, which workers do in
    parallel); under the lock the stored members of the batch's window are brought up to date once for
    the batch.
    """
    settings = settings or GroupingSettings()
    idf = idf or default_idf()
    profiles: dict[str, Profile] = {}
    for article in articles:
        if article.id not in profiles:
            profiles[article.id] = profile(article, idf=idf, settings=settings)
    # Written out here, as the profiles are made: under the lock was a tenth of its time. So are
    # their weights packed for bounding the stories they are compared with (Profile.packed, kept).
    stored = {article_id: _stored_profile(new) for article_id, new in profiles.items()}
    for new in profiles.values():
        new.pack()
    _CACHE.fit(settings)
    lock_stories(session)
    placed = placed_stories(session, profiles)
    arriving = [new for article_id, new in profiles.items() if article_id not in placed]
    if arriving:
        window = _window_of(session, arriving, settings=settings, cache=_CACHE)
        members = _place(window, arriving, settings=settings)
        story_ids = _store_started(session, members, now=now)
        window.renumber(story_ids)
        placed.update(_store_placed(session, members, story_ids, stored=stored, now=now))
    return placed


def _place(
    window: StoryWindow, arriving: list[Profile], *, settings: GroupingSettings
) -> list[tuple[Profile, int]]:
    """The story each arriving article joins, in order; a story started here is numbered from
    ``_STARTED`` in the order started, so ties go to the earlier story as stored ids do."""
    members = []
    started = 0
    # The earliest publication of the articles still to place: the members before its window's start
    # are compared with none of them (window_start moves forward with the publication and as members
    # are added), and are forgotten, so that past MOST_CANDIDATES the stories ranked are those of the
    # article's window, as StoryIndex ranks them, when articles arrive in order of publication.
    coming = list(itertools.accumulate(reversed([new.published for new in arriving]), min))[::-1]
    for new, earliest in zip(arriving, coming, strict=True):
        window.forget_before(window.start_of(earliest))
        story_id = choose_story(new, window.candidates(new), settings=settings)
        if story_id is None:
            story_id, started = _STARTED + started, started + 1
        window.add(story_id, new)
        members.append((new, story_id))
    return members


def _store_started(session: Session, members: list[tuple[Profile, int]], *, now: datetime) -> dict[int, int]:
    """Insert the stories the batch started (numbered from ``_STARTED`` by :func:`_place`); the id each
    was stored under, by its number."""
    first_articles: dict[int, str] = {}
    for new, story_id in members:
        if story_id >= _STARTED:
            first_articles.setdefault(story_id, new.article_id)
    return _store_stories(session, list(first_articles.values()), now=now)


def _store_placed(
    session: Session,
    members: list[tuple[Profile, int]],
    story_ids: Mapping[int, int],
    *,
    stored: Mapping[str, str],
    now: datetime,
) -> dict[str, int]:
    """Insert the batch's members (``stored``: each one's profile as :func:`_stored_profile` wrote it),
    a started story's under the id it was stored under (``story_ids``); the story of each member, by
    article id."""
    numbered = [(new, story_ids.get(story_id, story_id)) for new, story_id in members]
    _store_members(session, numbered, stored=stored, now=now)
    for new, _ in numbered:
        _CACHE.put(new)
    return {new.article_id: story_id for new, story_id in numbered}


def _store_stories(session: Session, first_article_ids: list[str], *, now: datetime) -> dict[int, int]:
    """Insert the stories started by the batch, in order; their ids by the number each was given."""
    if not first_article_ids:
        return {}
    statement = insert(STORIES).returning(STORIES.c.id, sort_by_parameter_order=True)
    rows = [{"first_article_id": article_id, "created_at": now} for article_id in first_article_ids]
    ids = session.execute(statement, rows).scalars().all()
    return {_STARTED + number: int(story_id) for number, story_id in enumerate(ids)}


def _stored_profile(member: Profile) -> str:
    """The JSON text of ``member``'s profile, as the database drivers write a JSON column's value."""
    return json.dumps(member.to_json())


def _store_members(
    session: Session, members: list[tuple[Profile, int]], *, stored: Mapping[str, str], now: datetime
) -> None:
    rows = [
        {
            "article_id": member.article_id,
            "story_id": story_id,
            "source": member.source,
            "published_at": member.published,
            _PROFILE_TEXT: stored[member.article_id],
            "grouped_at": now,
        }
        for member, story_id in members
    ]
    text_given = bindparam(_PROFILE_TEXT, type_=Text)
    # The text already written is sent as it is: PostgreSQL's json keeps it verbatim, as SQLite does.
    value = text_given.cast(JSON) if session.get_bind().dialect.name == "postgresql" else text_given
    statement = (
        dialect_insert(session, STORY_MEMBERS)
        .values(profile=value)
        .on_conflict_do_nothing(index_elements=["article_id"])
        .returning(STORY_MEMBERS.c.article_id)
    )
    session.execute(statement, rows)


# The parameter of a member's profile as JSON text (a name no column has).
_PROFILE_TEXT = "profile_text"


def assign_story(
    session: Session,
    article: StoryArticle,
    *,
    now: datetime,
    settings: GroupingSettings | None = None,
    idf: IdfTable | None = None,
) -> int:
    """The story ``article`` (already stored) joins or starts; the same article again gets the same one."""
    return assign_stories(session, [article], now=now, settings=settings, idf=idf)[article.id]
