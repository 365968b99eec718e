"""The calendar of every grain kpiwatch supervises at: year, quarter, month, 旬 and ISO week.

One place owns the arithmetic (boundaries, lengths, labels, which month a week belongs
to); Python code asks `span_of` and friends, SQL uses the matching expressions below, and
the tests hold the two equal.

- 旬 (dekad): days 1–10 (上旬), 11–20 (中旬), 21 to the month's end (下旬): 8 to 11 days.
- ISO week (周): Monday to Sunday; week 1 is the week holding the year's first Thursday,
  so it can start in the previous December and the last week can end in January. A
  week belongs to the month (and ISO year) of its Thursday: every week lies in exactly
  one month that way, and a week's month and its ISO year never disagree.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

Grain = Literal["year", "quarter", "month", "dekad", "week"]
GRAINS: tuple[Grain, ...] = ("year", "quarter", "month", "dekad", "week")
DEKAD_NAMES = ("上旬", "中旬", "下旬")

_LABELS = (
    ("dekad", re.compile(r"^(\d{4})-(\d{2})-D([123])$")),
    ("dekad", re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*([上中下])旬$")),
    ("week", re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)),
    ("week", re.compile(r"^(\d{4})\s*年\s*第\s*(\d{1,2})\s*周$")),
    ("month", re.compile(r"^(\d{4})-(\d{2})$")),
    ("quarter", re.compile(r"^(\d{4})Q([1-4])$")),
    ("year", re.compile(r"^(\d{4})$")),
)


# A 旬 inside a year the reader already knows (a target's): 3-D2, 03-D2, 3月中旬.
_DEKADS_OF_YEAR = (
    re.compile(r"^(\d{1,2})-D([123])$", re.IGNORECASE),
    re.compile(r"^(\d{1,2})\s*月\s*([上中下])旬$"),
)


class SpanError(ValueError):
    """The text is not a span label kpiwatch understands."""


@dataclass(frozen=True, order=True)
class Span:
    """One period of a grain: its first and last day (inclusive)."""

    start: date
    end: date
    grain: Grain

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def month(self) -> tuple[int, int]:
        """The (year, month) this span is counted in: a week's Thursday decides."""
        anchor = self.start + timedelta(days=3) if self.grain == "week" else self.start
        return anchor.year, anchor.month

    @property
    def label(self) -> str:
        """The stored label: 2026, 2026Q1, 2026-03, 2026-03-D2, 2026-W09."""
        y, m = self.start.year, self.start.month
        if self.grain == "year":
            return f"{y}"
        if self.grain == "quarter":
            return f"{y}Q{(m - 1) // 3 + 1}"
        if self.grain == "month":
            return f"{y}-{m:02d}"
        if self.grain == "dekad":
            return f"{y}-{m:02d}-D{min(3, (self.start.day - 1) // 10 + 1)}"
        iso = self.start.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"

    @property
    def name(self) -> str:
        """The label as a Chinese report writes it: 2026年3月中旬, 2026年第9周."""
        if self.grain == "dekad":
            which = DEKAD_NAMES[dekad_number(self.start) - 1]
            return f"{self.start.year}年{self.start.month}月{which}"
        if self.grain == "week":
            iso = self.start.isocalendar()
            return f"{iso.year}年第{iso.week}周"
        return self.label

    def next(self) -> Span:
        """The span of the same grain that follows."""
        return span_of(self.end + timedelta(days=1), self.grain)

    def previous(self) -> Span:
        """The span of the same grain that precedes."""
        return span_of(self.start - timedelta(days=1), self.grain)


def dekad_number(day: date) -> int:
    """1, 2 or 3: the 旬 of the month a day falls in."""
    return min(3, (day.day - 1) // 10 + 1)


def span_of(day: date, grain: Grain) -> Span:
    """The span of `grain` that holds `day`."""
    y, m = day.year, day.month
    if grain == "year":
        return Span(date(y, 1, 1), date(y, 12, 31), grain)
    if grain == "quarter":
        first = 3 * ((m - 1) // 3) + 1
        return Span(date(y, first, 1), _month_end(y, first + 2), grain)
    if grain == "month":
        return Span(date(y, m, 1), _month_end(y, m), grain)
    if grain == "dekad":
        n = dekad_number(day)
        end = _month_end(y, m) if n == 3 else date(y, m, 10 * n)
        return Span(date(y, m, 10 * n - 9), end, grain)
    if grain == "week":
        monday = day - timedelta(days=day.weekday())
        return Span(monday, monday + timedelta(days=6), grain)
    raise SpanError(f"unknown grain {grain!r}; one of {', '.join(GRAINS)}")


def spans(first: date, last: date, grain: Grain) -> Iterator[Span]:
    """Every span of `grain` that overlaps first..last, in order."""
    span = span_of(first, grain)
    while span.start <= last:
        yield span
        span = span.next()


def parse_span(text: str) -> Span:
    """Read a span label: 2026-03-D2, 2026年3月中旬, 2026-W09, 2026年第9周, 2026-03, 2026Q1."""
    clean = unicodedata.normalize("NFKC", text).strip()
    for grain, pattern in _LABELS:
        found = pattern.match(clean)
        if found:
            return _from_match(grain, found.groups(), text)  # type: ignore[arg-type]
    raise SpanError(f"{text!r} is not a period label (e.g. 2026-03-D2, 2026-W09, 2026-03)")


def dekad_of_year(text: str, year: int) -> tuple[int, int]:
    """(month, 1..3) of a 旬 named within `year`: 3-D2, 3月中旬, or 2026-03-D2 of that year."""
    clean = unicodedata.normalize("NFKC", text).strip()
    for pattern in _DEKADS_OF_YEAR:
        found = pattern.match(clean)
        if found:
            month, which = int(found[1]), found[2]
            if not 1 <= month <= 12:
                raise SpanError(f"{text!r} has month {month}")
            return month, "上中下".index(which) + 1 if which in "上中下" else int(which)
    try:
        span = parse_span(clean)
    except SpanError:
        raise SpanError(f"{text!r} is not a 旬 (e.g. 3-D2, 3月中旬, {year}-03-D2)") from None
    if span.grain != "dekad":
        raise SpanError(f"{text!r} is a {span.grain}, not a 旬 (e.g. 3-D2, 3月中旬)")
    if span.start.year != year:
        raise SpanError(f"{text!r} is a 旬 of {span.start.year}, not of {year}")
    return span.start.month, dekad_number(span.start)


def _from_match(grain: Grain, parts: tuple[str, ...], text: str) -> Span:
    """The span a matched label names, checked against the calendar."""
    year = int(parts[0])
    try:
        if grain == "week":
            return span_of(date.fromisocalendar(year, int(parts[1]), 1), "week")
        if grain == "dekad":
            n = "上中下".index(parts[2]) + 1 if parts[2] in "上中下" else int(parts[2])
            return span_of(date(year, int(parts[1]), 10 * n - 9), "dekad")
        if grain == "quarter":
            return span_of(date(year, 3 * int(parts[1]) - 2, 1), "quarter")
        month = int(parts[1]) if grain == "month" else 1
        return span_of(date(year, month, 1), grain)
    except ValueError as exc:
        raise SpanError(f"{text!r} is not a real period: {exc}") from exc


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


# The same arithmetic in DuckDB SQL, for counts over many rows; `{d}` is a DATE expression.
SQL_SPAN_START: dict[Grain, str] = {
    "year": "date_trunc('year', {d})::DATE",
    "quarter": "date_trunc('quarter', {d})::DATE",
    "month": "date_trunc('month', {d})::DATE",
    "dekad": "make_date(year({d}), month({d}), least(21, (day({d}) - 1) // 10 * 10 + 1))",
    "week": "date_trunc('week', {d})::DATE",
}


def sql_span_start(grain: Grain, day_expr: str) -> str:
    """A SQL expression giving the first day of the `grain` span holding `day_expr`."""
    return SQL_SPAN_START[grain].format(d=f"({day_expr})")
