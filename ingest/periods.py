"""Periods as statistics offices publish them: months, Jan–Feb combined, quarters."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

MIN_YEAR = 1949
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4}

# Each pattern yields year and either month, (first, last) months or quarter.
_MONTH = re.compile(r"^(\d{4})\s*(?:[-/.]|M|年)\s*(\d{1,2})\s*月?$", re.IGNORECASE)
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]00:00(?::00)?)?$")
_SPAN = re.compile(r"^(\d{4})\s*年?\s*(\d{1,2})\s*[-–—~至]\s*(\d{1,2})\s*月$")
_QUARTER = re.compile(r"^(\d{4})\s*[-年]?\s*(?:Q([1-4])|第?([1-4一二三四])季度?)$", re.IGNORECASE)


class PeriodError(ValueError):
    """The text is not a period kpiwatch understands."""


@dataclass(frozen=True, order=True)
class Period:
    """A span of whole months inside one year, as published."""

    year: int
    first_month: int
    last_month: int

    @property
    def freq(self) -> str:
        """'Q' for calendar quarters, 'M' for months and the Jan–Feb release."""
        return "Q" if self.is_quarter else "M"

    @property
    def is_quarter(self) -> bool:
        return self.last_month - self.first_month == 2 and self.last_month % 3 == 0

    @property
    def months(self) -> int:
        return self.last_month - self.first_month + 1

    @property
    def label(self) -> str:
        """Stable key text: 2024-03, 2024-01/02, 2024Q1."""
        if self.is_quarter:
            return f"{self.year}Q{self.last_month // 3}"
        if self.months == 1:
            return f"{self.year}-{self.last_month:02d}"
        return f"{self.year}-{self.first_month:02d}/{self.last_month:02d}"

    @property
    def start(self) -> date:
        return date(self.year, self.first_month, 1)

    @property
    def end(self) -> date:
        return date(self.year, self.last_month, calendar.monthrange(self.year, self.last_month)[1])

    def cumulative(self) -> Period:
        """The period a year-to-date figure is keyed by: its last month (or quarter)."""
        if self.is_quarter:
            return self
        return Period(self.year, self.last_month, self.last_month)


def month(year: int, m: int) -> Period:
    """The single month m of year."""
    return Period(year, m, m)


def quarter(year: int, q: int) -> Period:
    """Calendar quarter q of year."""
    return Period(year, 3 * q - 2, 3 * q)


def parse_period(text: str, freq: str = "M", jan_feb: bool = False) -> Period:
    """Parse a published period; freq 'Q' reads a month as its quarter's end month."""
    s = text.strip().replace("　", "")
    period = _parse(s, freq.upper())
    if jan_feb:
        if period.is_quarter or period.last_month != 2:
            raise PeriodError(f"{text!r} is flagged Jan–Feb combined but is not February")
        period = Period(period.year, 1, 2)
    if period.year < MIN_YEAR:
        raise PeriodError(f"{text!r} is before {MIN_YEAR}")
    return period


def _parse(s: str, freq: str) -> Period:
    if m := _SPAN.match(s):
        year, first, last = int(m[1]), int(m[2]), int(m[3])
        if not (1 <= first < last <= 12):
            raise PeriodError(f"{s!r} is not a span of months")
        return Period(year, first, last)
    if m := _QUARTER.match(s):
        q = m[2] or m[3]
        return quarter(int(m[1]), _CN_DIGITS.get(q) or int(q))
    m = _MONTH.match(s) or _DATE.match(s)
    if m is None:
        raise PeriodError(f"{s!r} is not a period (expected e.g. 2024-03, 2024年3月, 2024Q1)")
    year, mon = int(m[1]), int(m[2])
    if not 1 <= mon <= 12:
        raise PeriodError(f"{s!r} has month {mon}")
    if m.re is _DATE:
        try:
            date(year, mon, int(m[3]))
        except ValueError as exc:
            raise PeriodError(f"{s!r} is not a date") from exc
    if freq == "Q":
        if mon % 3:
            raise PeriodError(f"{s!r} is not a quarter end month")
        return quarter(year, mon // 3)
    return month(year, mon)
