"""The monthly bulletin's content (月通报), read from the store's views for one month.

The bulletin computes nothing the views do not hold: it selects, orders and groups the
month's checks (`progress`, `progress_escalation`), forecasts (`forecast_results`), the
ladder (`escalations_as_of`) and the project counts (`project_counts`, `project_nodes_at`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import duckdb
import pandas as pd

from exporters import bulletin_sections as sections
from ingest.mapping import register
from metrics.ladder import progress_with_levels

Row = dict[str, Any]
HORIZONS = ("month", "quarter", "year")
STATUSES = ("on_track", "at_risk", "behind", "no_data")


class DrawingCancelled(RuntimeError):
    """A page's drawing was called off (the service is stopping)."""


@dataclass(frozen=True)
class Scope:
    """Which month and which part of the tree a bulletin covers."""

    year: int
    month: int
    regions: tuple[str, ...] | None = None  # a region and those below it
    units: tuple[str, ...] | None = None  # a unit's id and name

    @property
    def label(self) -> str:
        return f"{self.year}-{self.month:02d}"

    @property
    def month_end(self) -> date:
        first_next = date(self.year + self.month // 12, self.month % 12 + 1, 1)
        return first_next - timedelta(days=1)


@dataclass(frozen=True)
class Bulletin:
    """Everything one bulletin shows, section by section."""

    scope: Scope
    headline: dict[str, dict[str, int]]
    new_reds: list[Row]
    recovered: list[Row]
    items: list[Row]
    history: dict[tuple[str, str], list[Row]]
    forecasts: dict[tuple[str, str], Row]  # at the item's horizon
    ahead: dict[tuple[str, str], list[Row]]  # at every horizon, by the month forecast
    ranking: list[Row]
    named: list[Row]
    escalations: list[Row]
    projects: sections.Projects | None
    notes: list[str] = field(default_factory=list)


# Each check of the month, at the longest horizon its target has (a plan that gives
# only a quarter is read by its quarter), with the ladder's level and P(meet).
ITEMS_SQL = """
WITH m AS (
    SELECT p.*, month(p.as_of_end) AS m FROM {source} p
    WHERE year(p.as_of_end) = $year AND month(p.as_of_end) = $month
      AND ($regions IS NULL OR list_contains($regions, p.region))
      AND ($units IS NULL OR list_contains($units, p.owner)
           OR list_contains($units, p.region))
),
pick AS (
    SELECT *, row_number() OVER (
        PARTITION BY indicator, region, year
        ORDER BY CASE horizon WHEN 'year' THEN 0 WHEN 'quarter' THEN 1 ELSE 2 END) AS k
    FROM m
)
SELECT p.indicator, p.indicator_name, p.unit, p.kind, p.owner, p.region, p.region_name,
       r.parent, p.year, p.as_of, p.as_of_end, p.horizon, p.actual, p.pace_target,
       p.horizon_target, p.attainment, p.gap, p.required_rate, p.remaining_periods,
       p.status, p.status_label, p.stale, p.rolled_up, p.rank_in_parent, p.illustrative,
       p.escalation_level, p.escalation, f.p_meet, i.direction
FROM pick p
LEFT JOIN regions r ON r.id = p.region
LEFT JOIN indicators i ON i.id = p.indicator
LEFT JOIN forecast_results f
  ON f.indicator = p.indicator AND f.region = p.region AND f.year = p.year
 AND f.month = p.m AND f.horizon = p.horizon
WHERE k = 1
ORDER BY CASE p.status WHEN 'behind' THEN 0 WHEN 'at_risk' THEN 1 WHEN 'no_data' THEN 2
         ELSE 3 END,
         CASE WHEN p.kind = 'growth' THEN p.attainment ELSE p.attainment - 1 END NULLS FIRST,
         p.indicator, p.region
"""

# The same items' statuses at every horizon, for the headline counts.
HEADLINE_SQL = """
SELECT horizon, status, count(*) FROM progress
WHERE year(as_of_end) = $year AND month(as_of_end) = $month
  AND ($regions IS NULL OR list_contains($regions, region))
  AND ($units IS NULL OR list_contains($units, owner) OR list_contains($units, region))
GROUP BY ALL
"""

# Each item's checks so far this year at the item's horizon: the progress chart's line.
HISTORY_SQL = """
SELECT indicator, region, month(as_of_end) AS m, actual, pace_target, horizon_target
FROM progress
WHERE year = $year AND as_of_end <= $month_end
  AND (indicator, region, horizon) IN (SELECT (i, r, h) FROM _items)
ORDER BY indicator, region, as_of_end
"""

# Every horizon's forecast made with the item's data month (quarter end, year end): the
# progress chart's fan passes through each of them.
FORECASTS_SQL = """
SELECT f.indicator, f.region, f.horizon, f.horizon_month, f.target, f.point, f.lower80,
       f.upper80, f.lower95, f.upper95, f.p_meet, f.model, f.note, f.horizon = i.h AS own
FROM forecast_results f JOIN _items i
  ON f.indicator = i.i AND f.region = i.r AND f.month = i.m
WHERE f.year = $year
ORDER BY f.indicator, f.region, f.horizon_month, f.horizon = i.h
"""


def gather(con: duckdb.DuckDBPyConnection, scope: Scope) -> Bulletin:
    """The bulletin for a scope; an empty month gives no items (the caller refuses it)."""
    items = _rows(con, ITEMS_SQL.format(source=progress_with_levels(con)), _params(scope))
    history, ahead = _series(con, scope, items)
    forecasts = {key: r for key, rows in ahead.items() for r in rows if r["own"]}
    new_reds, recovered = sections.changes(con, scope, items)
    return Bulletin(
        scope=scope,
        headline=_headline(con, scope),
        new_reds=new_reds,
        recovered=recovered,
        items=items,
        history=history,
        forecasts=forecasts,
        ahead=ahead,
        ranking=sections.ranking(items),
        named=sections.named(items),
        escalations=sections.escalations(con, scope),
        projects=sections.projects(con, scope),
        notes=sections.notes(con, scope, items, forecasts),
    )


def _params(scope: Scope) -> dict[str, object]:
    return {
        "year": scope.year,
        "month": scope.month,
        "regions": list(scope.regions) if scope.regions is not None else None,
        "units": list(scope.units) if scope.units is not None else None,
    }


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object]) -> list[Row]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description or ()]
    return [dict(zip(names, values, strict=True)) for values in cur.fetchall()]


def _headline(con: duckdb.DuckDBPyConnection, scope: Scope) -> dict[str, dict[str, int]]:
    counts = {h: dict.fromkeys(STATUSES, 0) for h in HORIZONS}
    for horizon, status, n in con.execute(HEADLINE_SQL, _params(scope)).fetchall():
        counts[str(horizon)][str(status)] = int(n)
    return counts


def _series(
    con: duckdb.DuckDBPyConnection, scope: Scope, items: Sequence[Row]
) -> tuple[dict[tuple[str, str], list[Row]], dict[tuple[str, str], list[Row]]]:
    """Each item's checks so far this year and its forecasts, in the order of the months
    they forecast (the item's own horizon last among those of one month: a quarter that
    ends with the year is drawn as the year)."""
    keys = pd.DataFrame(
        [(r["indicator"], r["region"], r["horizon"], r["as_of_end"].month) for r in items],
        columns=["i", "r", "h", "m"],
    ).astype({"i": str, "r": str, "h": str, "m": "int32"})
    register(con, "_items", keys)  # a frame, not row by row: thousands of items
    try:
        params = {"year": scope.year, "month_end": scope.month_end}
        history: dict[tuple[str, str], list[Row]] = {}
        for row in _rows(con, HISTORY_SQL, params):
            history.setdefault((row["indicator"], row["region"]), []).append(row)
        ahead: dict[tuple[str, str], list[Row]] = {}
        for row in _rows(con, FORECASTS_SQL, {"year": scope.year}):
            ahead.setdefault((row["indicator"], row["region"]), []).append(row)
    finally:
        con.execute("DROP TABLE IF EXISTS temp._items")
    return history, ahead
