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
    # within the window either side of it (alert_service.stories.window_start;
    # RASID_STORY_WINDOW_MEMBERS). A stream never has that many (five outlets publish about 250
    # articles in 72 h; the corpus's 30,000 in order of publication hold at most 646 at once and are
    # placed as without the bound). An archive of undated files, all in one window, does: each file is
    # compared with the 5,000 placed before it, not with every earlier one. Measured on 30,000 undated
    # files (benchmarks/stories.py --undated, CPU seconds in turns, unbounded first): 82.0 and 76.5
    # against 57.2 and 56.4, the last fifth's 3.7 and 3.3 ms an article against 1.9, and flat; the
    # stories differ (pairwise F1 0.63 with the unbounded ones, the largest story 1,015 articles
    # against 612), and of the pairs that grouping by the articles' own dates puts together, 81%
    # against 77% are kept together. 10,000: 70.5 s, F1 0.82; 2,500: 45.5 s, F1 0.56.
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
