"""Periods as statistics offices publish them: months, Jan–Feb combined, quarters, 1–N月, 旬."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from ingest.text import clean_text

MIN_YEAR = 1949
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4}
# Frequency codes a file may carry: M (月, monthly), Q (季, quarterly) or D (旬, dekad).
FREQ_CODES = (
    {"M": "M", "MONTHLY": "M", "月": "M", "月度": "M"}
    | {
        "Q": "Q",
        "QUARTERLY": "Q",
        "季": "Q",
        "季度": "Q",
    }
    | {"D": "D", "DEKAD": "D", "旬": "D", "旬度": "D"}
)
_DASH = r"[-‐‑‒–—―−~〜至到]"

# Each pattern yields year and either month, (first, last) months or quarter.
_MONTH = re.compile(r"^(\d{4})\s*(?:[-/.]|M|年)\s*(\d{1,2})\s*(?:月份?)?$", re.IGNORECASE)
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]00:00(?::00)?)?$")
_SPAN = re.compile(
    rf"^(\d{{4}})\s*(?:年|[/.])?\s*(\d{{1,2}})\s*月?\s*{_DASH}\s*(\d{{1,2}})\s*月份?$"
)
_QUARTER = re.compile(r"^(\d{4})\s*[-年]?\s*(?:Q([1-4])|第?([1-4一二三四])季度?)$", re.IGNORECASE)
# Year-to-date spans named by quarters or halves: 上半年, 前三季度, 1-3季度, 全年.
_Q = "[1-4一二三四]"
_QUARTER_SPAN = re.compile(
    rf"^(\d{{4}})\s*年?\s*(?:前\s*({_Q})\s*季度?|第?\s*[1一]\s*(?:季度?)?\s*{_DASH}\s*第?\s*({_Q})"
    r"\s*季度|(上半年|全年))$"
)
_HALVES = {"上半年": 6, "全年": 12}
# A 旬: 2026-03-D2, 2026/3/D2, 2026年3月中旬, 2026-03中旬, 2026年03月 中旬.
_DEKAD = re.compile(
    r"^(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:月|[-/.])?\s*(?:D([123])|([上中下])\s*旬)$",
    re.IGNORECASE,
)
# A number that lost its trailing zero: 2025.10 typed as a number reads 2025.1.
_AMBIGUOUS = re.compile(r"^\d{4}\.1$")


class PeriodError(ValueError):
    """The text is not a period kpiwatch understands."""


@dataclass(frozen=True, order=True)
class Period:
    """A span of whole months inside one year, or one 旬 of a month, as published."""

    year: int
    first_month: int
    last_month: int
    dekad: int = 0  # 1, 2 or 3: the 旬 of the month (days 1–10, 11–20, 21–end); 0: months

    @property
    def freq(self) -> str:
        """'Q' for calendar quarters, 'D' for a 旬, 'M' for months and the Jan–Feb release."""
        return "D" if self.dekad else "Q" if self.is_quarter else "M"

    @property
    def is_quarter(self) -> bool:
        return self.last_month - self.first_month == 2 and self.last_month % 3 == 0

    @property
    def months(self) -> int:
        """Whole months covered: none for a 旬."""
        return 0 if self.dekad else self.last_month - self.first_month + 1

    @property
    def label(self) -> str:
        """Stable key text: 2024-03, 2024-01/02, 2024Q1, 2024-03-D2."""
        if self.dekad:
            return f"{self.year}-{self.last_month:02d}-D{self.dekad}"
        if self.is_quarter:
            return f"{self.year}Q{self.last_month // 3}"
        if self.months == 1:
            return f"{self.year}-{self.last_month:02d}"
        return f"{self.year}-{self.first_month:02d}/{self.last_month:02d}"

    @property
    def start(self) -> date:
        return date(self.year, self.first_month, 10 * self.dekad - 9 if self.dekad else 1)

    @property
    def end(self) -> date:
        last = calendar.monthrange(self.year, self.last_month)[1]
        return date(self.year, self.last_month, 10 * self.dekad if self.dekad in (1, 2) else last)

    def cumulative(self) -> Period:
        """The period a year-to-date figure is keyed by: its last month (quarter, 旬)."""
        if self.is_quarter or self.dekad:
            return self
        return Period(self.year, self.last_month, self.last_month)


@dataclass(frozen=True)
class Published:
    """What one period text names, for each kind of measure.

    `own` is the period a figure of the period itself covers (`value`, `yoy_pct`);
    `cumulative` the key of a year-to-date figure (`ytd`, `ytd_yoy_pct`). A text can
    fit one kind and not the other (`2026年1-3月` is a year-to-date, not a month):
    then the other is None and its error says why.
    """

    own: Period | None
    cumulative: Period | None
    own_error: str | None = None
    cumulative_error: str | None = None


def month(year: int, m: int) -> Period:
    """The single month m of year."""
    return Period(year, m, m)


def dekad(year: int, m: int, n: int) -> Period:
    """The n-th 旬 (1..3) of month m of year."""
    return Period(year, m, m, n)


def quarter(year: int, q: int) -> Period:
    """Calendar quarter q of year."""
    return Period(year, 3 * q - 2, 3 * q)


def freq_code(text: str, default: str = "M") -> str:
    """'M', 'Q' or 'D' for a frequency cell (empty: the default); refuse any other code."""
    code = clean_text(text).upper()
    if not code:
        return default
    if code not in FREQ_CODES:
        raise PeriodError(f"freq {text!r} is not a known code (M, Q or D; 月, 季 or 旬)")
    return FREQ_CODES[code]


def parse_period(text: str, freq: str = "M", jan_feb: bool = False) -> Period:
    """The period a text names: its own period, else the key of its year-to-date."""
    published = parse_published(text, freq, jan_feb)
    period = published.own or published.cumulative
    if period is None:
        raise PeriodError(published.own_error or f"{text!r} is not a period")
    return period


def parse_published(text: str, freq: str = "M", jan_feb: bool = False) -> Published:
    """Parse a published period; freq 'Q' reads a month as its quarter's end month, freq
    'D' a date as the 旬 holding it."""
    s = re.sub(r"\s+", " ", clean_text(text))
    code = freq_code(freq)
    if m := _SPAN.match(s):
        published = _span(s, int(m[1]), int(m[2]), int(m[3]), code)
    elif m := _QUARTER_SPAN.match(s):
        q = m[2] or m[3]
        last = _HALVES[m[4]] if m[4] else 3 * (_CN_DIGITS.get(q) or int(q))
        published = _span(s, int(m[1]), 1, last, code)
    else:
        period = _single(s, code)
        published = Published(period, period.cumulative())
    if jan_feb:
        published = _jan_feb(text, published)
    year = (published.own or published.cumulative or Period(MIN_YEAR, 1, 1)).year
    if year < MIN_YEAR:
        raise PeriodError(f"{text!r} is before {MIN_YEAR}")
    return published


def _jan_feb(text: str, published: Published) -> Published:
    """A row flagged as the Jan–Feb release: its period must end in February."""
    own = published.own
    if own is None or own.is_quarter or own.dekad or own.last_month != 2:
        raise PeriodError(f"{text!r} is flagged Jan–Feb combined but is not February")
    return Published(Period(own.year, 1, 2), month(own.year, 2))


def _span(s: str, year: int, first: int, last: int, freq: str) -> Published:
    """A span of months a–b月: the Jan–Feb release, a year-to-date 1–N月, or a quarter."""
    if not 1 <= first < last <= 12:
        raise PeriodError(f"{s!r} is not a span of months")
    if freq == "D":
        raise PeriodError(f"{s!r} is a span of months, not a 旬 (the source has freq = D)")
    if freq == "Q":
        if last % 3:
            raise PeriodError(f"{s!r} does not end a quarter (the source has freq = Q)")
        own = quarter(year, last // 3) if first == last - 2 else None
        cum = quarter(year, last // 3) if first == 1 else None
        own_error = None if own else f"{s!r} is not one quarter"
        return Published(own, cum, own_error, None if cum else f"{s!r} is not a year-to-date")
    if (first, last) == (1, 2):
        return Published(Period(year, 1, 2), month(year, 2))
    if first == 1:
        why = (
            f"{s!r} is a year-to-date (1-{last}月): only measures ytd and ytd_yoy_pct "
            "take it (a quarter's own figure needs freq = Q or 一季度)"
        )
        return Published(None, month(year, last), own_error=why)
    raise PeriodError(f"{s!r} is neither a year-to-date (1-N月) nor the Jan–Feb release")


def _single(s: str, freq: str) -> Period:
    if _AMBIGUOUS.match(s):
        raise PeriodError(
            f"{s!r} is ambiguous: January, or October typed as a number (2025.10 reads "
            "2025.1); write 2025-01 or 2025-10"
        )
    if m := _DEKAD.match(s):
        return _dekad(s, int(m[1]), int(m[2]), int(m[3]) if m[3] else "上中下".index(m[4]) + 1)
    if m := _QUARTER.match(s):
        if freq == "D":
            raise PeriodError(f"{s!r} is a quarter, not a 旬 (the source has freq = D)")
        q = m[2] or m[3]
        return quarter(int(m[1]), _CN_DIGITS.get(q) or int(q))
    m = _MONTH.match(s) or _DATE.match(s)
    if m is None:
        raise PeriodError(
            f"{s!r} is not a period (expected e.g. 2024-03, 2024年3月, 2024Q1, 2024-03-D2)"
        )
    year, mon = int(m[1]), int(m[2])
    if not 1 <= mon <= 12:
        raise PeriodError(f"{s!r} has month {mon}")
    if m.re is _DATE:
        try:
            day = date(year, mon, int(m[3]))
        except ValueError as exc:
            raise PeriodError(f"{s!r} is not a date") from exc
        if freq == "D":  # a 旬 release dated by one of its days (usually its last)
            return dekad(year, mon, min(3, (day.day - 1) // 10 + 1))
    if freq == "D":
        raise PeriodError(f"{s!r} is a month, not a 旬 (the source has freq = D)")
    if freq == "Q":
        if mon % 3:
            raise PeriodError(f"{s!r} is not a quarter end month")
        return quarter(year, mon // 3)
    return month(year, mon)


def _dekad(s: str, year: int, mon: int, n: int) -> Period:
    if not 1 <= mon <= 12:
        raise PeriodError(f"{s!r} has month {mon}")
    return dekad(year, mon, n)
