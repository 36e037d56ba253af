"""The gazetteer: countries, alliances, armed groups and places, each under a stable id.

It is data (``gazetteer.yaml``), validated here. Each entry lists the names it goes by, in any
spelling; adjectives (التركي، التركية) are listed as names of the country they refer to.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from classifier_service.datafile import load_data_file
from classifier_service.errors import GazetteerError
from shared.arabic import fold
from shared.messages import ENTITY_KINDS, EntityKind, entity_kind_of, is_entity_id

PACKAGED_GAZETTEER = Path(__file__).with_name("gazetteer.yaml")
_KINDS_IN_WORDS = f"{', '.join(ENTITY_KINDS[:-1])} or {ENTITY_KINDS[-1]}"


class GazetteerEntry(BaseModel):
    """One actor or place and the names it goes by."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Stable id, '<kind>:<slug>', e.g. country:tr.")
    name: str = Field(min_length=1, description="Display name.")
    names: tuple[str, ...] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if not is_entity_id(value):
            raise ValueError(f"must be '<kind>:<slug>' with kind {_KINDS_IN_WORDS}")
        return value

    @field_validator("names")
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


def load_gazetteer(path: Path) -> Gazetteer:
    """Read and validate a gazetteer file, raising :class:`GazetteerError` with line and reason."""
    return load_data_file(path, model=Gazetteer, error=GazetteerError)
