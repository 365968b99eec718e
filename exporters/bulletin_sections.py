"""The bulletin's later sections: changes, ranking, named units, ladder, projects, notes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from ingest.mapping import register

if TYPE_CHECKING:
    from exporters.bulletin import Scope

Row = dict[str, Any]

# Each item's previous check at the same horizon within its year (the month before for a
# monthly series, the quarter before for a quarterly one).
PREVIOUS_SQL = """
SELECT indicator, region, arg_max(status, as_of_end) AS status
FROM progress
WHERE year = $year AND as_of_end < $month_start
  AND (indicator, region, horizon) IN (SELECT (i, r, h) FROM _prev)
GROUP BY ALL
"""

# The ladder's items standing at a level at the month's end.
ESCALATIONS_SQL = """
SELECT unit, level, level_name, item_kind, item, reached_period, by_talk
FROM escalations_as_of($day)
WHERE current AND level > 0
  AND ($regions IS NULL OR list_contains($regions, region))
  AND ($units IS NULL OR list_contains($units, unit))
ORDER BY level DESC, unit, reached, item_kind, item
"""

# Late 旬 figures of the month (metrics.dekad_stale, as judged by the last refresh): the
# series' newest 旬 figure or the 旬 it awaits falls in the month, as a stale month is
# noted in its own month's bulletin.
LATE_DEKADS_SQL = """
SELECT coalesce(i.name, d.indicator) || ' · ' || coalesce(g.name, d.region), d.next_period,
       strftime(d.due, '%Y-%m-%d')
FROM dekad_releases d
LEFT JOIN indicators i ON i.id = d.indicator LEFT JOIN regions g ON g.id = d.region
WHERE d.stale AND $month IN (strftime(d.latest_end, '%Y-%m'), left(d.next_period, 7))
  AND ($regions IS NULL OR list_contains($regions, d.region))
  AND ($units IS NULL OR list_contains($units, d.region) OR EXISTS (
      SELECT 1 FROM check_targets t WHERE t.indicator = d.indicator AND t.region = d.region
        AND list_contains($units, coalesce(nullif(t.owner, ''), i.owner))))
ORDER BY d.due, d.indicator, d.region
"""

# Projects counted per 旬 and per month in the month, with the month's target (its pace).
PROJECT_COUNTS_SQL = """
SELECT c.indicator, c.region, c.frequency, c.period, c.projects, i.name AS indicator_name,
       r.name AS region_name, r.parent
FROM project_counts c
LEFT JOIN indicators i ON i.id = c.indicator LEFT JOIN regions r ON r.id = c.region
WHERE c.frequency IN ('dekad', 'month') AND year(c.period_end) = $year
  AND month(c.period_end) <= $month
  AND ($regions IS NULL OR list_contains($regions, c.region))
ORDER BY c.indicator, c.region, c.period_start, c.frequency
"""

PROJECT_TARGETS_SQL = """
SELECT indicator, region, month(as_of_end) AS m, actual, pace_target FROM progress
WHERE horizon = 'month' AND year = $year AND month(as_of_end) <= $month
  AND indicator IN (SELECT DISTINCT indicator FROM project_counts)
"""

# Nodes overdue at the month's end, by what is known now: a register loaded after the
# month ended still says which nodes were late at its end (done later or not yet).
OVERDUE_NODES_SQL = """
SELECT unit, count(*) AS nodes, count(DISTINCT project) AS projects,
       max(CAST($day AS DATE) - planned) AS worst_days_late
FROM project_nodes_at('infinity', $day)
WHERE planned < CAST($day AS DATE) AND (actual IS NULL OR actual > CAST($day AS DATE))
  AND ($regions IS NULL OR list_contains($regions, region))
  AND ($units IS NULL OR list_contains($units, unit))
GROUP BY ALL ORDER BY nodes DESC, worst_days_late DESC, unit
"""

REVISED_SQL = """
SELECT indicator, region, count(DISTINCT period) AS periods
FROM observations
WHERE known_until IS NOT NULL AND year(period_end) = $year AND period_end <= $day
  AND (indicator, region) IN (SELECT (i, r) FROM _prev)
GROUP BY ALL ORDER BY indicator, region
"""

# A Jan–Feb release (1–2月) is a two-month period in `monthly`, published or from a
# year-to-date with no January figure before it.
JAN_FEB_SQL = """
SELECT DISTINCT indicator, region FROM monthly
WHERE months = 2 AND month(period_start) = 1 AND year(period_end) = $year
  AND (indicator, region) IN (SELECT (i, r) FROM _prev)
ORDER BY indicator, region
"""


@dataclass(frozen=True)
class Projects:
    """The major projects' section: counts per 旬 and month against target, overdue nodes."""

    counts: list[Row]  # one row per indicator × region: dekads and months of the year
    overdue: list[Row]


def changes(
    con: duckdb.DuckDBPyConnection, scope: Scope, items: Sequence[Row]
) -> tuple[list[Row], list[Row]]:
    """Items red now and not at their previous check; items red then and not now."""
    with _keys(con, items):
        previous = {
            (i, r): s
            for i, r, s in con.execute(
                PREVIOUS_SQL, {"year": scope.year, "month_start": scope.month_end.replace(day=1)}
            ).fetchall()
        }
    new_reds, recovered = [], []
    for row in items:
        before = previous.get((row["indicator"], row["region"]))
        if before is None:
            continue
        if row["status"] == "behind" and before != "behind":
            new_reds.append(row)
        elif before == "behind" and row["status"] != "behind":
            recovered.append(row)
    return new_reds, recovered


def ranking(items: Sequence[Row]) -> list[Row]:
    """Items ranked among their parent's regions, grouped by indicator and parent."""
    ranked = [r for r in items if r["rank_in_parent"] is not None]
    return sorted(ranked, key=lambda r: (r["indicator"], r["parent"] or "", r["rank_in_parent"]))


def named(items: Sequence[Row]) -> list[Row]:
    """The units answering for red items (通报), each with its red items."""
    by_unit: dict[str, list[Row]] = {}
    for row in items:
        if row["status"] == "behind":
            by_unit.setdefault(row["owner"] or "—", []).append(row)
    return [{"unit": unit, "items": rows} for unit, rows in by_unit.items()]


def escalations(con: duckdb.DuckDBPyConnection, scope: Scope) -> list[Row]:
    """Items on the escalation ladder at the month's end (none when no ladder is stored)."""
    if not _has(con, "escalations_as_of", macro=True):
        return []
    return _rows(con, ESCALATIONS_SQL, {"day": scope.month_end, **_filters(scope)})


def projects(con: duckdb.DuckDBPyConnection, scope: Scope) -> Projects | None:
    """Counts per 旬 and month against each month's target; None without a register."""
    if not _has(con, "project_counts"):
        return None
    params = {"year": scope.year, "month": scope.month, "regions": _filters(scope)["regions"]}
    rows = _rows(con, PROJECT_COUNTS_SQL, params)
    if not rows:
        return None
    targets = {
        (i, r, m): (a, p)
        for i, r, m, a, p in con.execute(
            PROJECT_TARGETS_SQL, {"year": scope.year, "month": scope.month}
        ).fetchall()
    }
    overdue = _rows(con, OVERDUE_NODES_SQL, {"day": scope.month_end, **_filters(scope)})
    return Projects(_project_series(rows, targets, scope.year, scope.month), overdue)


def _project_series(
    rows: Sequence[Row],
    targets: Mapping[tuple[str, str, int], tuple[float, float]],
    year: int,
    month: int,
) -> list[Row]:
    """One entry per indicator × region: counts per 旬 and month, the months' targets."""
    series: dict[tuple[str, str], Row] = {}
    for row in rows:
        key = (row["indicator"], row["region"])
        entry = series.setdefault(
            key,
            {
                "indicator": key[0],
                "region": key[1],
                "indicator_name": row["indicator_name"] or key[0],
                "region_name": row["region_name"] or key[1],
                "parent": row["parent"],
                "dekads": {},
                "months": dict.fromkeys(range(1, month + 1), 0),
                "targets": {},
            },
        )
        if row["frequency"] == "dekad":
            entry["dekads"][row["period"]] = int(row["projects"])
        else:
            entry["months"][int(row["period"][5:7])] = int(row["projects"])
    for (indicator, region), entry in series.items():
        for m in range(1, month + 1):
            found = targets.get((indicator, region, m))
            if found is not None:
                entry["targets"][m] = found[1]
        prefix = f"{year}-{month:02d}-D"
        entry["this_month_dekads"] = [entry["dekads"].get(f"{prefix}{k}", 0) for k in (1, 2, 3)]
    # the top of the tree shown gets the 进度图; the regions below it a line of the table
    shown = {region for _, region in series}
    for entry in series.values():
        entry["chart"] = entry["parent"] not in shown
    return list(series.values())


def notes(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    items: Sequence[Row],
    forecasts: Mapping[tuple[str, str], Row],
) -> list[str]:
    """What a reader must know about the figures: stale, late 旬, revised, Jan–Feb,
    fallbacks."""
    names = {(r["indicator"], r["region"]): _item_name(r) for r in items}
    found = [f"{_item_name(r)}: the next release is late (stale)" for r in items if r["stale"]]
    found += late_dekads(con, scope)
    with _keys(con, items):
        params = {"year": scope.year, "day": scope.month_end}
        for i, r, n in con.execute(REVISED_SQL, params).fetchall():
            found.append(f"{names[(i, r)]}: {n} period(s) revised since first published")
        for i, r in con.execute(JAN_FEB_SQL, {"year": scope.year}).fetchall():
            found.append(f"{names[(i, r)]}: January and February published together (1–2月)")
    for key, fc in forecasts.items():
        if fc["point"] is None:
            found.append(f"{names[key]}: no forecast ({fc['note']})")
        elif "fallback" in (fc["note"] or ""):
            found.append(f"{names[key]}: forecast fell back to {fc['model']} ({fc['note']})")
    found += [f"{_item_name(r)}: figures are illustrative" for r in items if r["illustrative"]]
    return found


def late_dekads(con: duckdb.DuckDBPyConnection, scope: Scope) -> list[str]:
    """The month's late 旬 figures: which 旬 is missing and the day it was due."""
    if not _has(con, "dekad_releases", table=True):  # a store not refreshed since 旬 releases
        return []
    params = {"month": scope.label, **_filters(scope)}
    rows = con.execute(LATE_DEKADS_SQL, params).fetchall()
    return [f"{name}: the figure for {period} is late (due {due})" for name, period, due in rows]


def _item_name(row: Row) -> str:
    return f"{row['indicator_name'] or row['indicator']} · {row['region_name'] or row['region']}"


class _keys:
    """The items' keys as the temp table _prev while a query reads them."""

    def __init__(self, con: duckdb.DuckDBPyConnection, items: Sequence[Row]) -> None:
        self.con = con
        self.keys = [(r["indicator"], r["region"], r["horizon"]) for r in items]

    def __enter__(self) -> None:
        # a frame, not row by row: a bulletin may hold thousands of items
        frame = pd.DataFrame(self.keys, columns=["i", "r", "h"], dtype=str)
        register(self.con, "_prev", frame)

    def __exit__(self, *exc: object) -> None:
        self.con.execute("DROP TABLE IF EXISTS temp._prev")


def _filters(scope: Scope) -> dict[str, object]:
    return {
        "regions": list(scope.regions) if scope.regions is not None else None,
        "units": list(scope.units) if scope.units is not None else None,
    }


def _has(
    con: duckdb.DuckDBPyConnection, name: str, *, macro: bool = False, table: bool = False
) -> bool:
    sql = (
        "SELECT count(*) FROM duckdb_functions() WHERE function_name = ?"
        if macro
        else "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?"
        if table
        else "SELECT count(*) FROM duckdb_views() WHERE view_name = ?"
    )
    found = con.execute(sql, [name]).fetchall()
    return bool(found and found[0][0])


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object]) -> list[Row]:
    cur = con.execute(sql, dict(params))
    names = [d[0] for d in cur.description or ()]
    return [dict(zip(names, values, strict=True)) for values in cur.fetchall()]
