"""Targets of register counts checked per 旬 (旬调度), not only per month.

A target's pace at a month's end comes from its curve (metrics.targets.curve_for: the
pacing rule, quarter, month and 下旬 anchors); inside a month it grows linearly with the
days passed, through the values the target gives at the ends of the 上旬 and 中旬, so a
旬's pace is the pace on the 旬's last day. The actual is the
year's count of the register's events up to that day, as known at the end of as_of.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from itertools import pairwise

import duckdb
import pandas as pd

from ingest.grains import Span, spans
from ingest.register_counts import count_days
from ingest.schema import Indicator
from metrics.pace import Curve
from metrics.schema import Target, Thresholds
from metrics.targets import curve_for

# The year's count up to each asked day, for each asked indicator and region.
_COUNTS = """
WITH ev AS (
    SELECT e.indicator, t.ancestor AS region, e.day, sum(e.n) AS n FROM {days} e
    JOIN region_tree t ON t.region = e.region
    WHERE e.indicator IN (SELECT indicator FROM _asked) GROUP BY ALL
)
SELECT q.i, coalesce(sum(ev.n), 0) FROM _asked q
LEFT JOIN ev ON ev.indicator = q.indicator AND ev.region = q.region
 AND ev.day BETWEEN q.first AND q.last
GROUP BY q.i ORDER BY q.i
"""


@dataclass(frozen=True)
class DekadCheck:
    """One target at the end of one 旬: actual to date against its pace."""

    indicator: str
    region: str
    dekad: Span
    actual: float | None  # a count, or a published figure (None: not published)
    pace: float  # at the 旬's end, or at as_of inside the 旬 in progress
    attainment: float | None
    status: str
    as_of: date | None = None  # the day judged (the 旬's end, or as_of inside it)
    target: float | None = None  # the pace at the 旬's end
    gap: float | None = None  # actual − pace (pace − actual for a ceiling)


def pace_at(curve: Curve, day: date, inner: Mapping[tuple[int, int], float] | None = None) -> float:
    """The pace at the end of `day`: linear by days inside its month, from the pace at
    the previous month's end through the values given at its 上旬's and 中旬's ends
    (`inner`, by month and 旬) to the pace at its own end."""
    days = calendar.monthrange(day.year, day.month)[1]
    before, end = float(curve[day.month - 1]), float(curve[day.month])
    given = [(10 * n, v) for (m, n), v in (inner or {}).items() if m == day.month and n < 3]
    if not given:
        return before + (end - before) * day.day / days
    points = [(0, before), *sorted(given), (days, end)]
    for (d0, v0), (d1, v1) in pairwise(points):
        if day.day == d1:
            return v1
        if day.day < d1:
            return v0 + (v1 - v0) * (day.day - d0) / (d1 - d0)
    return end


def dekad_checks(
    con: duckdb.DuckDBPyConnection,
    targets: Sequence[Target],
    indicators: Mapping[str, Indicator],
    thresholds: Callable[[str], Thresholds],
    as_of: date,
    last: int | None = 3,
) -> list[DekadCheck]:
    """The last `last` 旬 (None: all) up to as_of of every target on a counted indicator."""
    counted = {r[0] for r in con.execute("SELECT indicator FROM register_counts").fetchall()}
    if not counted:  # no register: nothing to walk 100,000 targets for
        return []
    asked: list[tuple[Target, Span, date, Curve]] = []
    for t in targets:
        if t.indicator not in counted or t.year != as_of.year:
            continue
        curve, _, _ = curve_for(t, indicators[t.indicator], {})
        dekads = list(spans(date(t.year, 1, 1), as_of, "dekad"))
        asked += [(t, d, min(d.end, as_of), curve) for d in dekads[-last if last else 0 :]]
    actuals = _counts(con, [(t.indicator, t.region, t.year, end) for t, _, end, _ in asked], as_of)
    inner = {id(t): t.inner_dekads() for t, _, _, _ in asked}
    return [
        replace(
            judged(
                t,
                indicators[t.indicator],
                dekad,
                actual,
                pace_at(curve, end, inner[id(t)]),
                thresholds(t.indicator),
            ),
            as_of=end,
            target=pace_at(curve, dekad.end, inner[id(t)]),
        )
        for (t, dekad, end, curve), actual in zip(asked, actuals, strict=True)
    ]


def write_dekad_checks(
    con: duckdb.DuckDBPyConnection,
    checks: Sequence[DekadCheck],
    kept: Sequence[str] = (),
    replaced: Sequence[tuple[str, str, int]] = (),
) -> None:
    """Replace progress_dekads with these checks (inside the caller's transaction); the
    rows of the `kept` indicators stay, but those of the targets (indicator, region,
    year) in `replaced`."""
    rows = [_row(c) for c in checks]
    frame = pd.DataFrame(rows, columns=[f"c{i}" for i in range(13)], dtype=object)
    if kept:
        keys = pd.DataFrame(list(replaced), columns=["indicator", "region", "year"])
        con.register("_replaced", keys.astype({"indicator": str, "region": str, "year": "int32"}))
        try:
            con.execute(
                "DELETE FROM progress_dekads WHERE NOT list_contains($kept, indicator) "
                "OR (indicator, region, year) IN (SELECT (indicator, region, year) FROM _replaced)",
                {"kept": list(kept)},
            )
        finally:
            con.unregister("_replaced")
    else:
        con.execute("DELETE FROM progress_dekads")
    if rows:
        con.register("_dekads", frame)
        try:
            con.execute(
                "INSERT INTO progress_dekads SELECT c0, c1, c2, c3, CAST(c4 AS DATE), "
                "CAST(c5 AS DATE), CAST(c6 AS DATE), c7, c8, c9, c10, c11, c12, now() "
                "FROM _dekads"
            )
        finally:
            con.unregister("_dekads")


def _row(c: DekadCheck) -> tuple[object, ...]:
    """A row of progress_dekads (without computed_at)."""
    span = c.dekad
    pace = _number(c.pace)
    return (
        *(c.indicator, c.region, span.start.year, span.label, span.start, span.end),
        *(c.as_of, c.actual, pace, _number(c.target), c.attainment, c.gap, c.status),
    )


def _number(x: float | None) -> float | None:
    """NULL for a pace past the target's last period (NaN)."""
    return None if x is None or x != x else x


def _counts(
    con: duckdb.DuckDBPyConnection, asked: list[tuple[str, str, int, date]], as_of: date
) -> list[int]:
    """The year's count to each day (indicator, region, year, day), as known at as_of's end."""
    if not asked:
        return []
    frame = pd.DataFrame(
        [(i, ind, reg, date(year, 1, 1), day) for i, (ind, reg, year, day) in enumerate(asked)],
        columns=["i", "indicator", "region", "first", "last"],
    )
    known = datetime.combine(as_of, time.max)
    days = count_days(con, known)
    con.register("_asked", frame)
    try:
        params = {"d": known} if "$d" in days else {}
        rows = con.execute(_COUNTS.format(days=days), params).fetchall()
    finally:
        con.unregister("_asked")
    return [int(r[1]) for r in rows]


def judged(
    t: Target, ind: Indicator, dekad: Span, actual: float | None, pace: float, th: Thresholds
) -> DekadCheck:
    """A 旬 check judged as the month checks are: attainment to 0.1 % for amounts (mirrored
    for a ceiling; nothing due has no ratio), the gap in pp to 0.01 for growth rates."""
    if actual is None or pace != pace:  # not published, or past the target's last period
        return DekadCheck(t.indicator, t.region, dekad, actual, pace, None, "no_data")
    gap = pace - actual if ind.direction == "lower" else actual - pace
    if ind.kind == "growth":
        rounded = round(gap, 2)
        limits = (th.growth_behind_below_pp, th.growth_at_risk_below_pp)
        return DekadCheck(
            t.indicator, t.region, dekad, actual, pace, gap, _colour(rounded, *limits), gap=gap
        )
    if pace <= 0:
        status = "behind" if round(gap, 2) < 0 else "on_track"
        return DekadCheck(t.indicator, t.region, dekad, actual, pace, None, status, gap=gap)
    attainment = 2 - actual / pace if ind.direction == "lower" else actual / pace
    status = _colour(round(attainment, 3), th.behind_below, th.at_risk_below)
    return DekadCheck(t.indicator, t.region, dekad, actual, pace, attainment, status, gap=gap)


def _colour(x: float, behind: float, at_risk: float) -> str:
    return "behind" if x < behind else "at_risk" if x < at_risk else "on_track"


# The 旬 check of each target checked per 旬 at the latest 旬 ending by $last (NULL: the
# latest stored), in the three-colour board's columns, worst first.
DEKAD_BOARD_SQL = """
WITH d AS (
    SELECT * FROM progress_dekads
    WHERE ($region IS NULL OR region = $region) AND ($last IS NULL OR period_start <= $last)
    QUALIFY row_number() OVER (PARTITION BY indicator, region, year
                               ORDER BY period_end DESC) = 1
), owners AS (SELECT DISTINCT indicator, region, year, owner FROM check_targets),
years AS (
    SELECT indicator, region, year, bool_or(actual IS NOT NULL) AS has_data
    FROM progress_dekads GROUP BY ALL
)
SELECT d.status, coalesce(l.label, d.status), coalesce(i.name, d.indicator),
       coalesce(r.name, d.region), d.period, 'dekad', d.attainment,
       CASE WHEN d.pace_target IS NULL THEN 'no target for ' || d.period
       WHEN d.actual IS NULL AND NOT y.has_data THEN 'no data for ' || d.year
       WHEN d.actual IS NULL THEN 'no data for ' || d.period
       WHEN i.kind = 'growth' THEN printf('%.2f%% to %s against %.2f%% (%+.2f pp)', d.actual,
                                          strftime(d.as_of_day, '%Y-%m-%d'), d.pace_target, d.gap)
       ELSE printf('%s to %s against %.2f due by then; %.2f due by the 旬''s end (%s)',
                   CASE WHEN d.actual = round(d.actual) THEN printf('%d', CAST(d.actual AS BIGINT))
                        ELSE printf('%.2f', d.actual) END,
                   strftime(d.as_of_day, '%Y-%m-%d'), d.pace_target,
                   d.dekad_target, strftime(d.period_end, '%Y-%m-%d')) END{late},
       coalesce(nullif(o.owner, ''), i.owner, ''), coalesce(i.kind, 'flow'),
       coalesce(i.illustrative, false), ''
FROM d LEFT JOIN indicators i ON i.id = d.indicator
LEFT JOIN regions r ON r.id = d.region
LEFT JOIN owners o USING (indicator, region, year)
JOIN years y USING (indicator, region, year){releases}
LEFT JOIN status_labels l ON l.status = d.status
ORDER BY CASE d.status WHEN 'behind' THEN 0 WHEN 'at_risk' THEN 1 WHEN 'no_data' THEN 2
         ELSE 3 END, d.attainment NULLS FIRST, d.indicator, d.region, d.year
"""


# The current board says when a 旬 indicator's next figure is late (metrics.dekad_stale).
LATE = {
    "late": """ || CASE WHEN $last IS NULL AND rel.stale
                THEN printf('; the figure for %s is late (due %s)', rel.next_period,
                            strftime(rel.due, '%Y-%m-%d')) ELSE '' END""",
    "releases": "\nLEFT JOIN dekad_releases rel USING (indicator, region, year)",
}


def dekad_board(
    con: duckdb.DuckDBPyConnection, region: str | None, last: date | None
) -> list[tuple[object, ...]]:
    """The 旬 rows of the three-colour board: each target's 旬 in progress on `last`."""
    judged = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'dekad_releases'"
    ).fetchall()[0][0]
    sql = DEKAD_BOARD_SQL.format(**(LATE if judged else {"late": "", "releases": ""}))
    return con.execute(sql, {"region": region, "last": last}).fetchall()
