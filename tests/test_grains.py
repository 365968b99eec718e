"""The calendar of grains: hand-checked 旬 and ISO weeks, properties, SQL equal to Python."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.grains import GRAINS, Grain, SpanError, parse_span, span_of, spans, sql_span_start

DAYS = st.dates(min_value=date(1949, 1, 1), max_value=date(2100, 12, 31))


@pytest.mark.parametrize(
    ("day", "label", "days"),
    [
        (date(2026, 3, 10), "2026-03-D1", 10),  # started on the 10th: first 旬
        (date(2026, 3, 11), "2026-03-D2", 10),  # on the 11th: second
        (date(2026, 3, 31), "2026-03-D3", 11),  # a 31-day month's third 旬 has 11 days
        (date(2026, 2, 21), "2026-02-D3", 8),
        (date(2024, 2, 29), "2024-02-D3", 9),  # leap February
        (date(2026, 4, 30), "2026-04-D3", 10),
    ],
)
def test_dekads_by_hand(day: date, label: str, days: int) -> None:
    span = span_of(day, "dekad")
    assert (span.label, span.days) == (label, days)


@pytest.mark.parametrize(
    ("day", "label", "start", "month"),
    [
        # Week 1 of 2026 starts on Monday 29 December 2025 and counts in January 2026.
        (date(2025, 12, 29), "2026-W01", date(2025, 12, 29), (2026, 1)),
        (date(2026, 1, 4), "2026-W01", date(2025, 12, 29), (2026, 1)),
        # 2020 has 53 weeks; its last ends on Sunday 3 January 2021 and counts in December.
        (date(2021, 1, 3), "2020-W53", date(2020, 12, 28), (2020, 12)),
        # A week split across months goes to its Thursday's: 30 Mar–5 Apr 2026 is April's.
        (date(2026, 3, 31), "2026-W14", date(2026, 3, 30), (2026, 4)),
        (date(2026, 4, 29), "2026-W18", date(2026, 4, 27), (2026, 4)),
    ],
)
def test_iso_weeks_by_hand(day: date, label: str, start: date, month: tuple[int, int]) -> None:
    span = span_of(day, "week")
    assert (span.label, span.start, span.month) == (label, start, month)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("2026年3月中旬", "2026-03-D2"),
        ("２０２６年３月下旬", "2026-03-D3"),
        (" 2026-03-D1 ", "2026-03-D1"),
        ("2026年第9周", "2026-W09"),
        ("2026w9", "2026-W09"),
        ("2026-03", "2026-03"),
        ("2026Q2", "2026Q2"),
        ("2026", "2026"),
    ],
)
def test_labels_are_read_as_written(text: str, label: str) -> None:
    assert parse_span(text).label == label


def test_names_read_as_a_report_writes_them() -> None:
    assert span_of(date(2026, 3, 15), "dekad").name == "2026年3月中旬"
    assert span_of(date(2025, 12, 30), "week").name == "2026年第1周"
    assert parse_span(span_of(date(2026, 2, 28), "dekad").name).label == "2026-02-D3"


@pytest.mark.parametrize("text", ["2026-W54", "2025-W53", "2026-13-D1", "2026-03-D4", "旬", ""])
def test_what_is_not_a_period_is_refused(text: str) -> None:
    with pytest.raises(SpanError):
        parse_span(text)


@given(DAYS, st.sampled_from(GRAINS))
def test_a_span_holds_its_day_and_its_label_reads_back(day: date, grain: Grain) -> None:
    span = span_of(day, grain)
    assert span.start <= day <= span.end
    assert parse_span(span.label) == span
    assert span.next().start == span.end + timedelta(days=1)
    assert span.next().previous() == span


@given(st.integers(1949, 2100), st.integers(1, 12))
def test_dekads_partition_each_month(year: int, month: int) -> None:
    first = date(year, month, 1)
    dekads = list(spans(first, span_of(first, "month").end, "dekad"))
    assert len(dekads) == 3
    assert all(8 <= d.days <= 11 for d in dekads)
    assert sum(d.days for d in dekads) == span_of(first, "month").days


@given(DAYS)
def test_a_week_is_counted_in_one_month_of_its_iso_year(day: date) -> None:
    week = span_of(day, "week")
    year, month = week.month
    assert week.days == 7 and week.start.weekday() == 0
    assert year == week.start.isocalendar().year
    # Its month holds at least four of its seven days.
    inside = sum(1 for i in range(7) if (week.start + timedelta(days=i)).month == month)
    assert inside >= 4


def test_sql_agrees_with_python_on_every_day_of_four_years() -> None:
    # 2023–2026: a leap year, years starting on Sunday and Thursday, a 53-week year (2026).
    con = duckdb.connect()
    try:
        for grain in GRAINS:
            expr = sql_span_start(grain, "d")
            rows = con.execute(
                f"SELECT d::DATE, {expr} FROM range(DATE '2023-01-01', DATE '2027-01-01', "
                "INTERVAL 1 DAY) t(d)"
            ).fetchall()
            assert len(rows) == 1461
            wrong = [(d, s) for d, s in rows if s != span_of(d, grain).start]
            assert wrong == [], grain
    finally:
        con.close()
