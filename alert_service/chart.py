"""The overview's picture, drawn on the server: articles per topic per day as rows of bars, one row a
topic, one bar a day, every row on one scale so rows compare. The page's SVG is written from the
geometry computed here, with nothing fetched from elsewhere.

Days run in the page's reading direction: right to left on an Arabic page (the oldest day at the
right), left to right on an English one; a row's topic stands where reading starts, its total where
it ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from alert_service.queries import TopicDay

LABEL_WIDTH = 150.0
TOTAL_WIDTH = 50.0
BAR_STEP = 18.0
BAR_GAP = 3.0
ROW_HEIGHT = 30.0
AXIS_HEIGHT = 24.0
# A day label under every this many bars (the newest day always labelled).
TICK_EVERY = 7


@dataclass(frozen=True)
class Bar:
    """One day of one topic: where its bar is drawn, and what it counts."""

    x: float
    y: float
    width: float
    height: float
    day: date
    articles: int


@dataclass(frozen=True)
class ChartRow:
    """One topic: its label's and total's positions, and its bars."""

    topic: str
    total: int
    label_x: float
    total_x: float
    baseline: float
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Tick:
    """A day named under the bars."""

    x: float
    label: str


@dataclass(frozen=True)
class Chart:
    """The whole picture; ``anchor_start``/``anchor_end`` are the SVG text anchors of a row's label
    and total in this direction."""

    width: float
    height: float
    rows: tuple[ChartRow, ...]
    ticks: tuple[Tick, ...]
    axis_y: float
    rtl: bool
    peak: int
    bars_left: float
    bars_right: float

    @property
    def anchor_start(self) -> str:
        return "end" if self.rtl else "start"

    @property
    def anchor_end(self) -> str:
        return "start" if self.rtl else "end"


def daily_counts(rows: Iterable[TopicDay]) -> dict[str, dict[date, int]]:
    """The query's rows as topic → day → articles."""
    counts: dict[str, dict[date, int]] = {}
    for row in rows:
        counts.setdefault(row.topic, {})[row.day] = row.articles
    return counts


def topic_chart(counts: dict[str, dict[date, int]], days: Sequence[date], *, rtl: bool) -> Chart:
    """Rows of bars for ``days`` (oldest first), the busiest topic on top, scaled to the busiest day."""
    width = LABEL_WIDTH + BAR_STEP * len(days) + TOTAL_WIDTH
    peak = max((count for per_day in counts.values() for count in per_day.values()), default=0)
    ordered = sorted(counts, key=lambda topic: (-sum(counts[topic].values()), topic))
    rows = tuple(
        _row(topic, counts[topic], days, top=index * ROW_HEIGHT, width=width, peak=peak, rtl=rtl)
        for index, topic in enumerate(ordered)
    )
    axis_y = len(rows) * ROW_HEIGHT
    ticks = tuple(
        Tick(_day_x(index, len(days), width=width, rtl=rtl) + (BAR_STEP - BAR_GAP) / 2, f"{day:%m-%d}")
        for index, day in enumerate(days)
        if (len(days) - 1 - index) % TICK_EVERY == 0
    )
    span = BAR_STEP * len(days)
    left = TOTAL_WIDTH if rtl else LABEL_WIDTH
    return Chart(width, axis_y + AXIS_HEIGHT, rows, ticks, axis_y, rtl, peak, left, left + span)


def _day_x(index: int, count: int, *, width: float, rtl: bool) -> float:
    """The left edge of the bar of day ``index`` (0: the oldest) among ``count`` days."""
    position = LABEL_WIDTH + index * BAR_STEP  # measured from where reading starts
    return width - position - (BAR_STEP - BAR_GAP) if rtl else position


def _row(  # noqa: PLR0913 -- the geometry of one row
    topic: str,
    per_day: dict[date, int],
    days: Sequence[date],
    *,
    top: float,
    width: float,
    peak: int,
    rtl: bool,
) -> ChartRow:
    baseline = top + ROW_HEIGHT - 6
    tallest = ROW_HEIGHT - 10
    bars = []
    for index, day in enumerate(days):
        articles = per_day.get(day, 0)
        height = tallest * articles / peak if peak else 0.0
        x = _day_x(index, len(days), width=width, rtl=rtl)
        bars.append(Bar(x, baseline - height, BAR_STEP - BAR_GAP, height, day, articles))
    start, end = (width - 6, 6.0) if rtl else (6.0, width - 6)
    return ChartRow(topic, sum(per_day.get(day, 0) for day in days), start, end, baseline, tuple(bars))
