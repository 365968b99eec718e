"""Targets of register counts checked per 旬 (旬调度), not only per month.

A target's pace at a month's end comes from its curve (metrics.targets.curve_for: the
pacing rule, quarter and month anchors); inside a month it grows with the days passed,
so a 旬's pace is the month's pace prorated to the 旬's last day. The actual is the
year's count of the register's events up to that day, as known at the end of as_of.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

import duckdb

from ingest.grains import Span, spans
from ingest.register_counts import count_events
from ingest.schema import Indicator
from metrics.pace import Curve
from metrics.schema import Target, Thresholds
from metrics.targets import curve_for

_COUNTS = """
SELECT count(*) FROM {events} e
JOIN region_tree t ON t.region = e.region
WHERE e.indicator = $indicator AND t.ancestor = $region AND e.day BETWEEN $first AND $last
"""


@dataclass(frozen=True)
class DekadCheck:
    """One target at the end of one 旬: actual to date against its pace."""

    indicator: str
    region: str
    dekad: Span
    actual: int
    pace: float
    attainment: float | None
    status: str


def pace_at(curve: Curve, day: date) -> float:
    """The pace at the end of `day`: the month's pace prorated by the days passed."""
    days = calendar.monthrange(day.year, day.month)[1]
    before, end = float(curve[day.month - 1]), float(curve[day.month])
    return before + (end - before) * day.day / days


def dekad_checks(
    con: duckdb.DuckDBPyConnection,
    targets: Sequence[Target],
    indicators: Mapping[str, Indicator],
    thresholds: Callable[[str], Thresholds],
    as_of: date,
    last: int = 3,
) -> list[DekadCheck]:
    """The last `last` 旬 up to as_of of every target on a counted indicator."""
    counted = {r[0] for r in con.execute("SELECT indicator FROM register_counts").fetchall()}
    known = datetime.combine(as_of, time.max)
    events = count_events(con, known)
    sql = _COUNTS.format(events=events)
    checks = []
    for t in targets:
        if t.indicator not in counted or t.year != as_of.year:
            continue
        curve, _, _ = curve_for(t, indicators[t.indicator], {})
        first = date(t.year, 1, 1)
        for dekad in list(spans(first, as_of, "dekad"))[-last:]:
            end = min(dekad.end, as_of)
            params = {"indicator": t.indicator, "region": t.region, "first": first, "last": end}
            if "$d" in events:
                params["d"] = known
            row = con.execute(sql, params).fetchall()
            actual = int(row[0][0])
            pace = pace_at(curve, end)
            checks.append(_judge(t, dekad, actual, pace, thresholds(t.indicator)))
    return checks


def _judge(t: Target, dekad: Span, actual: int, pace: float, th: Thresholds) -> DekadCheck:
    if pace != pace:  # past the last period the target gives: nothing to judge
        return DekadCheck(t.indicator, t.region, dekad, actual, pace, None, "no_data")
    attainment = actual / pace if pace > 0 else None
    status = "on_track"
    if attainment is not None and round(attainment, 4) < th.behind_below:
        status = "behind"
    elif attainment is not None and round(attainment, 4) < th.at_risk_below:
        status = "at_risk"
    return DekadCheck(t.indicator, t.region, dekad, actual, pace, attainment, status)
