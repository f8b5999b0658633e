"""A per-month activity chart as server-rendered SVG, with the same numbers for a table beside it.

No JavaScript and nothing the Content-Security-Policy (`portal.security.CSP`: no inline style) would
block: the SVG is built with ElementTree (every label escaped by construction), sized with geometry
attributes only, coloured by classes in `static/style.css`. It is `role="img"` with a `<title>` (its
accessible name) and a `<desc>`; every bar has its own `<title>` (a tooltip on hover). The month table
the templates print beside it (`_macros.html`, `month_table`) is the accessible alternative and holds
the same months, so the chart's numbers are never only in a picture.

Months between the first and the last with records are filled in with zero (a gap is information);
at most `MAX_CHART_MONTHS`, the most recent, are shown, so a hostile or very old date cannot make a
page draw thousands of bars.
"""

from __future__ import annotations

import calendar
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

from markupsafe import Markup

MAX_CHART_MONTHS = 240  # twenty years, one bar each
_MONTH = re.compile(r"(?!0000)[0-9]{4}-(0[1-9]|1[0-2])")  # year 0 is no date (datetime, calendar)
# The drawing's own units; the stylesheet scales the SVG to the width it is given.
BAR_WIDTH = 10
GAP = 2
PLOT_HEIGHT = 120
LABEL_HEIGHT = 16
LEFT = 36  # room for the y axis' largest count
MIN_BARS = 24  # a short series is drawn at this width, so a single month is a bar, not a wall


@dataclass(frozen=True)
class MonthSeries:
    """Records per month, oldest first, gaps filled; `hidden` earlier months were left out."""

    months: tuple[tuple[str, int], ...]
    hidden: int = 0

    @property
    def total(self) -> int:
        return sum(count for _, count in self.months)

    @property
    def peak(self) -> int:
        return max((count for _, count in self.months), default=0)


def month_series(timeline: Mapping[str, int], limit: int = MAX_CHART_MONTHS) -> MonthSeries:
    """`timeline` ("YYYY-MM" -> count, as `indexer.SearchPage.timeline`) as a gap-free series.

    Keys that are not a real YYYY-MM month (a malformed date in a record) are left out.
    """
    counts = {month: count for month, count in timeline.items() if _MONTH.fullmatch(month) and count > 0}
    if not counts:
        return MonthSeries(())
    first, last = _number(min(counts)), _number(max(counts))
    start = max(first, last - limit + 1)
    months = tuple((month, counts.get(month, 0)) for month in map(_month, range(start, last + 1)))
    hidden = sum(1 for month in counts if _number(month) < start)
    return MonthSeries(months, hidden)


def month_bounds(month: str) -> tuple[str, str]:
    """The first and last day of "YYYY-MM" (the `from`/`to` of a search limited to that month)."""
    year, number = int(month[:4]), int(month[5:7])
    return f"{month}-01", f"{month}-{calendar.monthrange(year, number)[1]:02d}"


def month_label(month: str) -> str:
    """ "2026-03" -> "March 2026" (the table's and the tooltips' words)."""
    return f"{calendar.month_name[int(month[5:7])]} {month[:4]}"


def month_svg(series: MonthSeries, *, title: str, chart_id: str) -> Markup:
    """The bar chart of `series` as an inline `<svg>` element (empty markup for an empty series)."""
    if not series.months:
        return Markup("")
    peak = max(series.peak, 1)
    width = LEFT + max(len(series.months), MIN_BARS) * (BAR_WIDTH + GAP)
    height = PLOT_HEIGHT + LABEL_HEIGHT
    svg = ET.Element("svg", {
        "xmlns": "http://www.w3.org/2000/svg", "class": "chart", "role": "img",
        "viewBox": f"0 0 {width} {height}", "preserveAspectRatio": "xMinYMin meet",
        "aria-labelledby": f"{chart_id}-title {chart_id}-desc", "focusable": "false",
    })
    ET.SubElement(svg, "title", id=f"{chart_id}-title").text = title
    first, last = series.months[0][0], series.months[-1][0]
    ET.SubElement(svg, "desc", id=f"{chart_id}-desc").text = (
        f"Bar chart, one bar per month from {month_label(first)} to {month_label(last)}; "
        f"the busiest month had {series.peak:,}. The same numbers are in the table that follows.")
    axis = ET.SubElement(svg, "g", {"class": "axis", "aria-hidden": "true"})
    ET.SubElement(axis, "line", x1=str(LEFT - 2), y1="0", x2=str(LEFT - 2), y2=str(PLOT_HEIGHT))
    ET.SubElement(axis, "line", x1=str(LEFT - 2), y1=str(PLOT_HEIGHT), x2=str(width), y2=str(PLOT_HEIGHT))
    for value, y in ((peak, 10), (0, PLOT_HEIGHT)):
        ET.SubElement(axis, "text", {"x": str(LEFT - 5), "y": str(y), "class": "tick"}).text = f"{value:,}"
    bars = ET.SubElement(svg, "g", {"class": "bars"})
    for position, (month, count) in enumerate(series.months):
        x = LEFT + position * (BAR_WIDTH + GAP)
        bar_height = round(count / peak * (PLOT_HEIGHT - 4), 2) if count else 0
        rect = ET.SubElement(bars, "rect", {
            "class": "bar" if count else "bar bar-empty", "x": str(x), "width": str(BAR_WIDTH),
            "y": str(round(PLOT_HEIGHT - bar_height, 2)), "height": str(bar_height)})
        ET.SubElement(rect, "title").text = f"{month_label(month)}: {count:,}"
        # A year label at each January, and at the first bar unless a January label follows too soon.
        if month.endswith("-01") or (position == 0 and int(month[5:7]) <= 9):
            ET.SubElement(axis, "text", {"x": str(x), "y": str(height - 3), "class": "year"}).text = month[:4]
    return Markup(ET.tostring(svg, encoding="unicode", short_empty_elements=True))


def _number(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def _month(number: int) -> str:
    return f"{number // 12:04d}-{number % 12 + 1:02d}"
