"""One unit's list (一单位一清单): tasks, open problems, indicators, projects; worst first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb

from metrics.task_status import task_statuses, unit_scores

PROBLEMS_SQL = """
SELECT problem, title, task, project, raised, due, status, days_overdue
FROM problems_as_of(?)
WHERE unit = ? AND status IN ('overdue', 'open')
ORDER BY status = 'open', days_overdue DESC, due, problem
"""
# The unit's indicators: those whose responsible unit (owner) is the unit, by id or name,
# and for a region its own checks; the latest as-of month of each indicator × region for
# the year horizon.
INDICATORS_SQL = """
WITH mine AS (
    SELECT * FROM progress
    WHERE horizon = 'year' AND as_of_end <= $as_of
      AND (owner IN ($unit, $name) OR ($kind = 'region' AND region = $unit))
),
latest AS (SELECT indicator, region, max(as_of_end) AS as_of_end FROM mine GROUP BY ALL)
SELECT m.status, m.indicator_name, m.region_name, m.as_of, m.attainment, m.kind, m.reason
FROM mine m JOIN latest USING (indicator, region, as_of_end)
WHERE m.year = year(m.as_of_end)
ORDER BY CASE m.status WHEN 'behind' THEN 0 WHEN 'at_risk' THEN 1 WHEN 'no_data' THEN 2
         ELSE 3 END, m.attainment NULLS FIRST, m.indicator, m.region
"""
# The unit's projects in the project registers (their `unit` is the unit's id or name),
# those with overdue nodes and the longest waits first.
PROJECTS_SQL = """
SELECT register, project, name, region, nodes_done, nodes_overdue, worst_days_late,
       waiting_at_name, waiting_days, stuck
FROM projects_at(CAST(? AS DATE) + INTERVAL 1 DAY, ?)
WHERE unit IN (?, ?) AND listed
ORDER BY nodes_overdue DESC, worst_days_late DESC NULLS LAST, stuck DESC,
         waiting_days DESC NULLS LAST, register, project
"""

# The unit's items on the escalation ladder now (its checks by owner, tasks, nodes).
ESCALATIONS_SQL = """
SELECT level, level_name, item_kind, item, reached_period, by_talk
FROM escalations_as_of(?) WHERE current AND unit IN (?, ?)
ORDER BY level DESC, reached, item_kind, item
"""


@dataclass(frozen=True)
class UnitList:
    """What a unit answers for, as of a day."""

    unit: dict[str, object]
    tasks: list[dict[str, object]] = field(default_factory=list)
    supporting: list[dict[str, object]] = field(default_factory=list)  # unfinished
    problems: list[dict[str, object]] = field(default_factory=list)
    indicators: list[dict[str, object]] = field(default_factory=list)
    projects: list[dict[str, object]] = field(default_factory=list)
    siblings: int = 0
    escalations: list[dict[str, object]] = field(default_factory=list)


def unit_list(con: duckdb.DuckDBPyConnection, unit: str, as_of: date) -> UnitList | None:
    """The unit's list as of a day; None when no unit has that id."""
    scores = unit_scores(con, as_of)
    found = [s for s in scores if s["unit"] == unit]
    if not found:
        return None
    me = found[0]
    siblings = sum(1 for s in scores if s["parent"] == me["parent"] and s["tree_score"] is not None)
    statuses = task_statuses(con, as_of)
    return UnitList(
        unit=me,
        tasks=[t for t in statuses if t["unit"] == unit],
        supporting=[t for t in statuses if _open_support(t, unit)],
        problems=_dicts(con, PROBLEMS_SQL, [as_of, unit]),
        indicators=_guarded(
            con,
            INDICATORS_SQL,
            {"as_of": as_of, "unit": me["unit"], "name": me["name"], "kind": me["kind"]},
        ),
        projects=_guarded(con, PROJECTS_SQL, [as_of, as_of, me["unit"], me["name"]]),
        siblings=siblings,
        escalations=_guarded(con, ESCALATIONS_SQL, [as_of, me["unit"], me["name"]]),
    )


def _open_support(task: dict[str, object], unit: str) -> bool:
    """An unfinished task the unit supports (its finished ones would drown the list)."""
    supporting = task["supporting"]
    assert isinstance(supporting, list)
    return unit in supporting and task["status"] not in ("done", "done_late")


def _guarded(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | dict[str, object]
) -> list[dict[str, object]]:
    """Rows of a query on another stage's views; none while the store has not got them."""
    try:
        return _dicts(con, sql, params)
    except duckdb.CatalogException:
        return []


# Each unit's highest level on the escalation ladder on a day (by the id or name items use).
LEVELS_SQL = """
SELECT unit, max(level) AS level FROM escalations_as_of(?) WHERE current GROUP BY unit
"""


def ranking(con: duckdb.DuckDBPyConnection, as_of: date) -> list[dict[str, object]]:
    """Each unit's score and rank within its parent, as of a day: the configured units and
    the regions with tasks (their own or below them) or problems, not every region; with
    its highest level on the escalation ladder (`ladder`, 0 none)."""
    levels = {str(r["unit"]): int(str(r["level"])) for r in _guarded(con, LEVELS_SQL, [as_of])}
    return [
        {**s, "ladder": max(levels.get(str(s["unit"]), 0), levels.get(str(s["name"]), 0))}
        for s in unit_scores(con, as_of)
        if listed(s)
    ]


def listed(s: dict[str, object]) -> bool:
    """A unit the ranking and the metrics show: a configured unit, or a region with tasks
    in its tree or problems of its own."""
    return s["kind"] != "region" or bool(s["tree_tasks"] or s["open_problems"])


def _dicts(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | dict[str, object]
) -> list[dict[str, object]]:
    cur = con.execute(sql, params)
    names = [c[0] for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
