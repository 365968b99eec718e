"""Unit scores (节点考核) as a DuckDB table macro: each unit's own tasks and problems, and
the same counts over the unit and every unit below it (its tree), ranked within parents.

    score = 100 × (w_done × completion + w_on_time × on_time) ÷ (w_done + w_on_time)
            − overdue_penalty × overdue tasks − problem_penalty × overdue problems,

floored at 0, over the tasks due by the day. `score` counts the unit's own tasks,
`tree_score` those of its tree; a task force or a region that holds no task itself is
judged by the units below it. Units are ranked among the children of their parent by
`tree_score` (a unit with nothing due in its tree is unranked unless `no_due_score`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from metrics.task_status import TaskScoring

COUNTS = ("tasks", "due", "done", "done_on_time", "overdue", "overdue_problems")


def _rates_and_score(scoring: TaskScoring, p: str) -> str:
    """Completion, on-time rate and score over the counts named with prefix p."""
    s = scoring
    weights = s.completion_weight + s.on_time_weight or 1.0
    no_due = "NULL" if s.no_due_score is None else repr(float(s.no_due_score))
    completion = f"{p}done / {p}due"
    on_time = f"{p}done_on_time / {p}due"
    return f"""
           CASE WHEN {p}due > 0 THEN {completion} END AS {p}completion_rate,
           CASE WHEN {p}due > 0 THEN {on_time} END AS {p}on_time_rate,
           CASE WHEN {p}due > 0
                THEN greatest(0, 100 * ({s.completion_weight} * {completion}
                                        + {s.on_time_weight} * {on_time}) / {weights}
                                 - {s.overdue_penalty} * {p}overdue
                                 - {s.problem_penalty} * {p}overdue_problems)
                ELSE {no_due} END AS {p}score"""


def macro(scoring: TaskScoring) -> str:
    """The unit_scores_as_of macro and the unit_scores view, with these weights."""
    tree_sums = ", ".join(f"sum(u.{c}) AS tree_{c}" for c in COUNTS)
    return f"""
CREATE OR REPLACE MACRO unit_scores_as_of(d) AS TABLE
WITH RECURSIVE t AS (
    SELECT unit, count(*) AS tasks,
           count(*) FILTER (deadline <= as_of) AS due,
           count(*) FILTER (deadline <= as_of AND status IN ('done', 'done_late')) AS done,
           count(*) FILTER (deadline <= as_of AND status = 'done') AS done_on_time,
           count(*) FILTER (status = 'overdue') AS overdue,
           count(*) FILTER (status = 'due_soon') AS due_soon
    FROM task_status_as_of(d) GROUP BY unit
),
pr AS (
    SELECT unit, count(*) FILTER (status <> 'resolved' AND status <> 'resolved_late')
               AS open_problems,
           count(*) FILTER (status = 'overdue') AS overdue_problems
    FROM problems_as_of(d) GROUP BY unit
),
u AS (
    SELECT u.id AS unit, u.name, u.kind, u.parent, u.task_force,
           coalesce(t.tasks, 0) AS tasks, coalesce(t.due, 0) AS due,
           coalesce(t.done, 0) AS done, coalesce(t.done_on_time, 0) AS done_on_time,
           coalesce(t.overdue, 0) AS overdue, coalesce(t.due_soon, 0) AS due_soon,
           coalesce(pr.open_problems, 0) AS open_problems,
           coalesce(pr.overdue_problems, 0) AS overdue_problems
    FROM units u LEFT JOIN t ON t.unit = u.id LEFT JOIN pr ON pr.unit = u.id
),
-- Each unit with itself and every unit above it (UNION: a cycle cannot loop forever).
up(unit, above) AS (
    SELECT id, id FROM units
    UNION
    SELECT up.unit, p.parent FROM up JOIN units p ON p.id = up.above
    WHERE p.parent IS NOT NULL
),
tree AS (SELECT up.above AS unit, {tree_sums} FROM up JOIN u USING (unit) GROUP BY up.above),
sc AS (
    SELECT u.*, {_rates_and_score(scoring, "")},
           tree.* EXCLUDE (unit), {_rates_and_score(scoring, "tree_")}
    FROM u JOIN tree USING (unit)
)
SELECT *, CASE WHEN tree_score IS NOT NULL
               THEN rank() OVER (PARTITION BY parent, tree_score IS NULL
                                 ORDER BY tree_score DESC) END AS rank_in_parent,
       CAST(d AS DATE) AS as_of
FROM sc;

CREATE OR REPLACE VIEW unit_scores AS SELECT * FROM unit_scores_as_of(current_date);
"""
