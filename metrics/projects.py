"""Node supervision of the project register (按图督办): what is overdue, stuck or due.

Everything is judged as known at the end of the as-of day: the register versions loaded
by then, lateness counted to that day, and the 旬 that holds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import duckdb

from ingest.grains import Span, span_of
from metrics.project_dekads import DekadCheck

# Projects in the region or below it, responsible unit matching when given.
_SCOPE = """
($region IS NULL OR region IN (SELECT region FROM region_tree WHERE ancestor = $region))
AND ($unit IS NULL OR unit = $unit)
"""

_OVERDUE = f"""
SELECT unit, project, project_name, region, node_name, planned, days_late, slip_days
FROM project_nodes_at($known, $today)
WHERE state = 'overdue' AND {_SCOPE}
ORDER BY days_late DESC, unit, project, position
"""

_UNITS = f"""
SELECT unit, count(*) FILTER (state = 'overdue') AS overdue,
       max(days_late) FILTER (state = 'overdue') AS worst,
       count(DISTINCT project) FILTER (state = 'overdue') AS projects,
       count(*) FILTER (state = 'reported') AS unconfirmed
FROM project_nodes_at($known, $today)
WHERE {_SCOPE}
GROUP BY unit HAVING overdue > 0 OR unconfirmed > 0
ORDER BY overdue DESC, worst DESC NULLS LAST, unit
"""

_STUCK = f"""
SELECT unit, project, name, region, waiting_at_name, waiting_days
FROM projects_at($known, $today)
WHERE stuck AND {_SCOPE}
ORDER BY waiting_days DESC, project
"""

_DUE = f"""
SELECT unit, project, project_name, region, planned
FROM project_nodes_at($known, $today)
WHERE node = 'started' AND actual IS NULL AND planned BETWEEN $first AND $last
  AND {_SCOPE}
ORDER BY planned, unit, project
"""


@dataclass(frozen=True)
class Supervision:
    """The register board for one day: by responsible unit, worst first."""

    as_of: date
    dekad: Span
    units: list[tuple[str, int, int | None, int, int]]
    overdue: list[tuple[str, str, str, str, str, date, int, int | None]]
    stuck: list[tuple[str, str, str, str, str, int]]
    due_not_started: list[tuple[str, str, str, str, date]]
    # targets of counted indicators, at the end of the last few 旬
    dekads: list[DekadCheck] = field(default_factory=list)


def supervise(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    region: str | None = None,
    unit: str | None = None,
) -> Supervision:
    """Overdue nodes, stuck projects and starts due this 旬, as known at the end of as_of."""
    dekad = span_of(as_of, "dekad")
    params: dict[str, object] = {
        "known": datetime.combine(as_of, time.max),
        "today": as_of,
        "region": region,
        "unit": unit,
    }
    due = dict(params, first=dekad.start, last=dekad.end)
    return Supervision(
        as_of,
        dekad,
        _rows(con, _UNITS, params),
        _rows(con, _OVERDUE, params),
        _rows(con, _STUCK, params),
        _rows(con, _DUE, due),
    )


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object]) -> list[Any]:
    return con.execute(sql, params).fetchall()
