"""The gazetteer: countries, alliances, armed groups and places, each under a stable id.

It is data (``gazetteer.yaml``), validated here, and read by the classifier (which finds the names in
articles) and the alert service (which resolves the names a subscriber types). Each entry lists the
Arabic names it goes by, in any spelling (adjectives such as التركي، التركية are names of the country
they refer to), its English names, and the entity it lies within (a city within its country).
"""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.arabic import fold
from shared.datafile import load_data_file
from shared.errors import GazetteerError
from shared.messages import ENTITY_KINDS, EntityKind, entity_kind_of, is_entity_id

PACKAGED_GAZETTEER = Path(__file__).with_name("gazetteer.yaml")
_KINDS_IN_WORDS = f"{', '.join(ENTITY_KINDS[:-1])} or {ENTITY_KINDS[-1]}"
SUGGESTIONS = 5


class GazetteerEntry(BaseModel):
    """One actor or place, the names it goes by, and what it lies within."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Stable id, '<kind>:<slug>', e.g. country:tr.")
    name: str = Field(min_length=1, description="Display name.")
    names: tuple[str, ...] = Field(min_length=1)
    english: tuple[str, ...] = Field(default=(), description="English names, the usual one first.")
    within: str | None = Field(default=None, description="Id of the entity this one lies within.")

    @field_validator("id")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if not is_entity_id(value):
            raise ValueError(f"must be '<kind>:<slug>' with kind {_KINDS_IN_WORDS}")
        return value

    @field_validator("names", "english")
    @classmethod
    def _names_have_words(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not fold(name).split():
                raise ValueError(f"name {name!r} has no words")
        return value

    @property
    def kind(self) -> EntityKind:
        """The kind of entity, taken from the id."""
        return entity_kind_of(self.id)

    @property
    def label(self) -> str:
        """How a person is shown the entry: its English name when it has one, and its Arabic name."""
        return f"{self.english[0]} ({self.name})" if self.english else self.name


class Gazetteer(BaseModel):
    """The whole gazetteer file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1)
    entries: tuple[GazetteerEntry, ...]

    @field_validator("entries")
    @classmethod
    def _unique_ids(cls, value: tuple[GazetteerEntry, ...]) -> tuple[GazetteerEntry, ...]:
        seen: set[str] = set()
        for entry in value:
            if entry.id in seen:
                raise ValueError(f"duplicate id {entry.id!r}")
            seen.add(entry.id)
        return value

    @model_validator(mode="after")
    def _within_known_entries(self) -> Gazetteer:
        ids = {entry.id for entry in self.entries}
        for entry in self.entries:
            if entry.within is not None and (entry.within not in ids or entry.within == entry.id):
                raise ValueError(f"{entry.id}: 'within' names no other entry ({entry.within!r})")
        return self


def load_gazetteer(path: Path) -> Gazetteer:
    """Read and validate a gazetteer file, raising :class:`GazetteerError` with line and reason."""
    return load_data_file(path, model=Gazetteer, error=GazetteerError)


@cache
def gazetteer_of(path: Path) -> Gazetteer:
    """The gazetteer of ``path``, read once per process."""
    return load_gazetteer(path)


class UnknownEntityError(GazetteerError):
    """A name or id the gazetteer does not know; ``suggestions`` are the closest it does."""

    def __init__(self, name: str, suggestions: tuple[GazetteerEntry, ...]) -> None:
        hint = "; did you mean " + ", ".join(f"{entry.id} {entry.label}" for entry in suggestions)
        super().__init__(f"no actor or place is called {name!r}" + (hint + "?" if suggestions else ""))
        self.name = name
        self.suggestions = suggestions


def name_key(name: str) -> str:
    """How a typed name is compared: folded (Arabic letters unified, Latin lowercased), hyphens and
    apostrophes as spaces, one space between words."""
    spaced = name.replace("-", " ").replace("'", " ").replace("’", " ")
    return " ".join(fold(spaced).casefold().split())


class EntityFinder:
    """Finds gazetteer entries by id, Arabic name or English name, as a subscriber types them."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self._by_id = {entry.id: entry for entry in gazetteer.entries}
        self._by_name: dict[str, GazetteerEntry] = {}
        for entry in gazetteer.entries:
            # The first entry to claim a name keeps it (a country before a place of the same name).
            for name in (entry.name, *entry.names, *entry.english):
                self._by_name.setdefault(name_key(name), entry)

    def entry(self, entity_id: str) -> GazetteerEntry | None:
        """The entry with this id, if any."""
        return self._by_id.get(entity_id)

    def find(self, text: str) -> GazetteerEntry:
        """The entry ``text`` names (an id, an Arabic or an English name); raises
        :class:`UnknownEntityError` with the closest names when there is none."""
        text = text.strip()
        found = self._by_id.get(text) or self._by_name.get(name_key(text))
        if found is None:
            raise UnknownEntityError(text, self.suggest(text))
        return found

    def suggest(self, text: str) -> tuple[GazetteerEntry, ...]:
        """The entries whose ids or names are closest to ``text``, closest first."""
        keys = [*self._by_id, *self._by_name]
        close = difflib.get_close_matches(name_key(text), keys, n=SUGGESTIONS * 3, cutoff=0.6)
        entries: list[GazetteerEntry] = []
        for key in close:
            entry = self._by_id.get(key) or self._by_name[key]
            if entry not in entries:
                entries.append(entry)
        return tuple(entries[:SUGGESTIONS])

    def with_containers(self, entity_ids: frozenset[str]) -> frozenset[str]:
        """``entity_ids`` and every entry they lie within (Mosul: Nineveh, then Iraq)."""
        found = set(entity_ids)
        for entity_id in entity_ids:
            entry = self._by_id.get(entity_id)
            while entry is not None and entry.within is not None and entry.within not in found:
                found.add(entry.within)
                entry = self._by_id.get(entry.within)
        return frozenset(found)


def entity_finder(path: Path | None = None) -> EntityFinder:
    """The finder of the gazetteer at ``path`` (the packaged one when None), made once per process."""
    return _finder_of((path or PACKAGED_GAZETTEER).resolve())


@cache
def _finder_of(path: Path) -> EntityFinder:
    return EntityFinder(gazetteer_of(path))
