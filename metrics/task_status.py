"""Task statuses and unit scores (节点考核), as DuckDB table macros over the stored lists.

Per task, as of a day d (reports dated and known by then):
- `done` (finished by its deadline), `done_late` (finished after it: due Friday, done
  Saturday is one day late), `overdue` (unfinished past its deadline, with the days),
  `due_soon` (unfinished, deadline within `due_soon_days`), `on_time` (the rest).
  A task is finished on the first report with done = true or, for a quantity task, on
  the first report whose cumulative quantity reaches the target.
- Quantity tasks, by ISO week (ingest.grains): `weeks_elapsed` from the start's week to
  d's week, `weekly_pace` = done ÷ weeks elapsed, `weeks_left` = weeks that still have
  days after d up to the deadline, `required_per_week` = (target − done) ÷ weeks left.
- At the task's cadence (周、旬、月): `checked_through` is the end of its last period that
  has ended, `due_at_check` the target prorated by days from start to deadline up to
  then, `behind_pace` an unfinished quantity task whose done so far is below it.
Per unit: the score (节点考核) and rank of metrics.unit_scores.
"""

from __future__ import annotations

from datetime import date

import duckdb
from pydantic import Field

from ingest import task_tables
from ingest.grains import sql_span_start
from ingest.schema import Strict
from ingest.task_tables import CURRENT
from metrics import unit_scores as unit_score_sql

STATUSES = ("overdue", "done_late", "due_soon", "on_time", "done")


class TaskScoring(Strict):
    """[task_scoring]: when a task is due soon, and the unit score's weights (节点考核)."""

    due_soon_days: int = Field(default=3, ge=0)
    completion_weight: float = Field(default=0.5, ge=0)
    on_time_weight: float = Field(default=0.5, ge=0)
    overdue_penalty: float = Field(default=1.0, ge=0)
    problem_penalty: float = Field(default=2.0, ge=0)
    # the score of a unit with no task due yet (None: not scored, not ranked)
    no_due_score: float | None = Field(default=None, ge=0, le=100)


def _week(expr: str) -> str:
    return sql_span_start("week", expr)


def _checks(day: str) -> str:
    """CASE branches: the first day of the cadence's period holding `day`."""
    return " ".join(f"WHEN '{g}' THEN {sql_span_start(g, day)}" for g in ("week", "dekad", "month"))


# The completion day of a quantity task is searched only among the reports of the stretch
# in which its total first reached the target: up to d - 182 days, then up to d - 91,
# d - 28 and d. A task reached its target lately, mostly, so the stretch is short.
STRETCHES = (182, 91, 28)


def _by_stretch(d: str) -> str:
    """Per task, the quantity done by each of the days d - STRETCHES."""
    return ", ".join(
        f"sum(quantity) FILTER (report_date <= {d} - {days}) AS by_{i}"
        for i, days in enumerate(STRETCHES)
    )


def _reach(d: str) -> str:
    """The CTEs `need` (the tasks whose total reached their target, with the stretch where
    it did) and `reach` (their completion day)."""
    n = len(STRETCHES)
    first = " ".join(f"WHEN coalesce(tot.by_{i}, 0) >= t.quantity THEN {i + 1}" for i in range(n))
    ends = ", ".join(f"{d} - {days}" for days in STRETCHES)
    before = ", ".join(f"coalesce(tot.by_{i}, 0)" for i in range(n))
    return f"""need AS (
    SELECT task, target, ends[k] AS after_day, ends[k + 1] AS until_day,
           done_before[k] AS done_before FROM (
        SELECT tot.task, t.quantity AS target, CASE {first} ELSE {n + 1} END AS k,
               ['-infinity'::DATE, {ends}, {d}] AS ends, [0, {before}] AS done_before
        FROM tot JOIN t USING (task) WHERE tot.done_quantity >= t.quantity
    )
),
-- Reports are never negative and targets are above zero, so the running sum first reaches
-- the target on a report with a positive quantity: fold those in date order from what was
-- done before the stretch; the fold turns negative, -position, where it is reached. Where
-- rounding keeps it short, the stretch's last report (its sum said the target was reached).
reach AS (
    SELECT task, l[CASE WHEN k < 0 THEN CAST(-k AS BIGINT) ELSE len(l) END].d AS reached
    FROM (
        SELECT task, l, list_reduce(
            list_transform(l, lambda x: x.q),
            lambda acc, x, i: CASE WHEN acc < 0 THEN acc WHEN acc + x >= target THEN -i
                                   ELSE acc + x END,
            done_before) AS k
        FROM (
            SELECT r.task, list_sort(list({{'d': r.report_date, 'q': r.quantity}})) AS l,
                   any_value(need.target) AS target, any_value(need.done_before) AS done_before
            FROM r JOIN need USING (task)
            WHERE r.quantity > 0 AND r.report_date > need.after_day
              AND r.report_date <= need.until_day
            GROUP BY r.task
        )
    )
)"""


def macros(scoring: TaskScoring) -> str:
    """The task_status and unit_scores macros and views, with the configured weights."""
    s = scoring
    d = "CAST(d AS DATE)"
    return f"""
CREATE OR REPLACE MACRO task_status_as_of(d) AS TABLE
-- The reports current on d, read twice (totals, then the reports of the tasks that reached
-- their target): a second scan costs less than storing them.
WITH r AS NOT MATERIALIZED (
    SELECT v.task, v.report_date, v.quantity, v.done
    FROM report_vintages v JOIN task_loads l USING (load_id)
    WHERE {CURRENT} AND v.report_date <= {d}
),
t AS (SELECT * FROM tasks_as_of(d)),
-- Summed per task before the join with the tasks (one row per task to join, not one per
-- report), with what was done by each of the days d - STRETCHES.
tot AS (
    SELECT task, sum(quantity) AS done_quantity, {_by_stretch(d)},
           min(report_date) FILTER (done) AS flagged, max(report_date) AS last_report
    FROM r GROUP BY task
),
{_reach(d)},
p AS (
    SELECT tot.task, tot.done_quantity, tot.last_report,
           least(tot.flagged, reach.reached) AS done_on
    FROM tot LEFT JOIN reach USING (task)
),
s AS (
    SELECT t.*, coalesce(p.done_quantity, 0) AS done_quantity, p.done_on, p.last_report,
           {d} AS as_of,
           CASE WHEN p.done_on <= t.deadline THEN 'done'
                WHEN p.done_on IS NOT NULL THEN 'done_late'
                WHEN {d} > t.deadline THEN 'overdue'
                WHEN t.deadline - {d} <= {s.due_soon_days} THEN 'due_soon'
                ELSE 'on_time' END AS status,
           ({_week(d)} - {_week("t.start_date")}) // 7 + 1 AS weeks_elapsed,
           CASE WHEN {d} >= t.deadline THEN 0
                ELSE ({_week("t.deadline")} - {_week(d + " + 1")}) // 7 + 1 END AS weeks_left,
           -- the end of the last week / 旬 / month of the task's cadence that has ended
           CASE t.cadence {_checks(d + " + 1")} END - 1 AS checked_through
    FROM t LEFT JOIN p USING (task)
)
SELECT task, title, unit, person, supporting, cadence, start_date, deadline, parent,
       status,
       CASE status WHEN 'done_late' THEN CAST(done_on - deadline AS INTEGER)
                   WHEN 'overdue' THEN CAST(as_of - deadline AS INTEGER) END AS days_late,
       CASE WHEN status IN ('due_soon', 'on_time')
            THEN CAST(deadline - as_of AS INTEGER) END AS days_left,
       done_on, last_report, quantity, quantity_unit, done_quantity,
       CASE WHEN quantity IS NOT NULL AND weeks_elapsed > 0
            THEN done_quantity / weeks_elapsed END AS weekly_pace,
       CAST(weeks_left AS INTEGER) AS weeks_left,
       CASE WHEN quantity IS NOT NULL AND done_on IS NULL AND weeks_left > 0
            THEN (quantity - done_quantity) / weeks_left END AS required_per_week,
       checked_through,
       quantity * least(1, greatest(0, (checked_through - start_date + 1)
                                       / (deadline - start_date + 1))) AS due_at_check,
       coalesce(done_on IS NULL AND done_quantity < due_at_check, false) AS behind_pace,
       as_of
FROM s;

CREATE OR REPLACE VIEW task_status AS SELECT * FROM task_status_as_of(current_date);

""" + unit_score_sql.macro(scoring)


def install(con: duckdb.DuckDBPyConnection, scoring: TaskScoring) -> None:
    """Create (or replace) the lists' views, then the status and score macros with these
    weights (the views too: a store migrated by an earlier kpiwatch gets the current ones)."""
    con.execute(task_tables.VIEWS)
    con.execute(macros(scoring))


def task_statuses(con: duckdb.DuckDBPyConnection, as_of: date) -> list[dict[str, object]]:
    """Every task's status as of a day, worst first."""
    return _dicts(
        con,
        """
        SELECT * FROM task_status_as_of(?)
        ORDER BY list_position(?, status), days_late DESC NULLS LAST, days_left, task
        """,
        [as_of, list(STATUSES)],
    )


def unit_scores(con: duckdb.DuckDBPyConnection, as_of: date) -> list[dict[str, object]]:
    """Every unit's score as of a day, by parent then rank (unscored units last)."""
    return _dicts(
        con,
        "SELECT * FROM unit_scores_as_of(?) ORDER BY parent NULLS FIRST, "
        "rank_in_parent NULLS LAST, unit",
        [as_of],
    )


def _dicts(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object]
) -> list[dict[str, object]]:
    cur = con.execute(sql, params)
    names = [c[0] for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
