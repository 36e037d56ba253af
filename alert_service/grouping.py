"""How articles are grouped into stories: the settings of :mod:`alert_service.stories`.

Apart from the grouping itself so that reading the alert service's settings (which every Rasid process
checks at start) does not load what grouping uses (numpy, the gazetteer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path


@dataclass(frozen=True)
class GroupingSettings:
    """How articles are grouped; the defaults are the tuned ones."""

    window: timedelta = timedelta(hours=72)
    # The most members of the window an article is compared with: the latest published of those
    # within the window either side of it (alert_service.stories.window_start; RASID_STORY_WINDOW_MEMBERS).
    most_in_window: int = 5_000
    threshold: float = 0.19
    lead_words: int = 300
    title_weight: float = 4.0
    vector_terms: int = 100
    title_share: float = 0.10
    hourly_penalty: float = 0.01
    penalty_after_hours: float = 24.0
    link_share: float = 0.5
    place_penalty: float = 0.15
    # The gazetteer whose places are compared (RASID_GAZETTEER_PATH); None is the packaged one.
    gazetteer_path: Path | None = None
