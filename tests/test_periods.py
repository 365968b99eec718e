"""Period notations as published, and their stable labels."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.periods import Period, PeriodError, parse_period


@pytest.mark.parametrize(
    ("text", "freq", "jan_feb", "label"),
    [
        ("2024-03", "M", False, "2024-03"),
        ("2024年3月", "M", False, "2024-03"),
        ("2024年03月", "M", False, "2024-03"),
        ("2024年1-2月", "M", False, "2024-01/02"),
        ("2024年1—2月", "M", False, "2024-01/02"),
        ("2024M03", "M", False, "2024-03"),
        ("2024Q1", "M", False, "2024Q1"),
        ("2024年一季度", "M", False, "2024Q1"),
        ("2020年第四季度", "M", False, "2020Q4"),
        ("2024-03-01", "M", False, "2024-03"),
        ("2024-03-31", "M", False, "2024-03"),
        ("2024-03-31 00:00:00", "M", False, "2024-03"),
        ("1992-06", "Q", False, "1992Q2"),
        ("2008-02-01", "M", True, "2008-01/02"),
    ],
)
def test_published_notations(text: str, freq: str, jan_feb: bool, label: str) -> None:
    assert parse_period(text, freq, jan_feb).label == label


@pytest.mark.parametrize(
    ("text", "freq", "jan_feb"),
    [
        ("2024-13", "M", False),
        ("2024-02-30", "M", False),
        ("March 2024", "M", False),
        ("2024Q5", "M", False),
        ("1948-12", "M", False),
        ("1992-05", "Q", False),
        ("2024-03", "M", True),
        ("", "M", False),
    ],
)
def test_refused_notations(text: str, freq: str, jan_feb: bool) -> None:
    with pytest.raises(PeriodError):
        parse_period(text, freq, jan_feb)


def test_jan_feb_period_spans_two_months() -> None:
    p = parse_period("2024年1-2月")
    assert (p.start, p.end, p.months, p.freq) == (date(2024, 1, 1), date(2024, 2, 29), 2, "M")
    assert p.cumulative().label == "2024-02"


@given(st.integers(1949, 2100), st.integers(1, 12))
def test_month_label_round_trips(year: int, month: int) -> None:
    p = Period(year, month, month)
    for text in (p.label, f"{year}年{month}月", f"{year}M{month:02d}", p.end.isoformat()):
        assert parse_period(text) == p


@given(st.integers(1949, 2100), st.integers(1, 4))
def test_quarter_label_round_trips(year: int, q: int) -> None:
    p = Period(year, 3 * q - 2, 3 * q)
    assert parse_period(p.label) == p
    assert parse_period(f"{year}-{3 * q:02d}", "Q") == p


@given(st.text(max_size=20))
def test_parser_never_crashes(text: str) -> None:
    with contextlib.suppress(PeriodError):
        parse_period(text)
