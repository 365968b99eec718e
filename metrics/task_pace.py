"""A quantity task's pace at its own cadence (周、旬、月), period by period, for the ladder.

Each period of the task's cadence that has ended, from its start to its deadline, is
judged as `task_status` judges the latest one: the target prorated by days from the
start to the period's end (or the deadline, if sooner) is due; what was reported by
then is done. Below it is behind, at or above it (or finished) on track. A run of
periods behind climbs the escalation ladder like a check's red months do.
"""

from __future__ import annotations

from ingest.grains import Grain, sql_span_start
from ingest.task_tables import CURRENT

CADENCES: tuple[Grain, ...] = ("week", "dekad", "month")
# Periods are numbered (weeks from a Monday, 旬 and months from year 0), so a task's
# periods are a range of integers and a report's period is arithmetic, not a search.
_NUMBER: dict[Grain, str] = {
    "week": f"({sql_span_start('week', '{x}')} - DATE '1970-01-05') // 7",
    "dekad": "(year({x}) * 12 + month({x}) - 1) * 3 + least(2, (day({x}) - 1) // 10)",
    "month": "year({x}) * 12 + month({x}) - 1",
}
_START: dict[Grain, str] = {
    "week": "DATE '1970-01-05' + CAST(7 * {x} AS INTEGER)",
    "dekad": "make_date(CAST({x} // 36 AS INTEGER), CAST({x} // 3 % 12 + 1 AS INTEGER), "
    "CAST({x} % 3 * 10 + 1 AS INTEGER))",
    "month": "make_date(CAST({x} // 12 AS INTEGER), CAST({x} % 12 + 1 AS INTEGER), 1)",
}
_LABEL: dict[Grain, str] = {
    "week": "printf('%d-W%02d', isoyear({x}), week({x}))",
    "dekad": "printf('%d-%02d-D%d', year({x}), month({x}), (day({x}) + 9) // 10)",
    "month": "strftime({x}, '%Y-%m')",
}


def _by_cadence(forms: dict[Grain, str], x: str, cadence: str = "cadence") -> str:
    """One of `forms` applied to `x`, chosen by the task's cadence."""
    branches = " ".join(f"WHEN '{g}' THEN {forms[g].format(x=f'({x})')}" for g in CADENCES)
    return f"CASE {cadence} {branches} END"


D = "CAST(d AS DATE)"

# Judged periods: from the one holding the start to the one holding the deadline, that
# have ended by d. Reports are numbered into their period and run up in one window over
# the reports (no table of every period to join them to); each period takes the running
# sum of its last report, and periods without a report the sum of the report before.
MACRO = f"""
CREATE OR REPLACE MACRO task_pace_as_of(d) AS TABLE
-- materialised: every reader must see the same row numbers
WITH t AS MATERIALIZED (
    SELECT CAST(row_number() OVER () AS INTEGER) AS tid, task, unit, cadence, start_date,
           deadline, quantity, {_by_cadence(_NUMBER, "start_date")} AS first_n,
           least({_by_cadence(_NUMBER, "deadline")}, {_by_cadence(_NUMBER, D)} - 1) AS last_n
    FROM tasks_as_of(d) WHERE quantity IS NOT NULL
),
-- each report in its period (the first one, if earlier), and a zero in the first period
r AS (
    SELECT tid, n, last_n, q, done FROM (
        SELECT t.tid, t.last_n, coalesce(v.quantity, 0) AS q, v.done,
               greatest({_by_cadence(_NUMBER, "v.report_date", "t.cadence")}, t.first_n) AS n
        FROM report_vintages v JOIN task_loads l USING (load_id) JOIN t USING (task)
        WHERE {CURRENT} AND v.report_date <= t.deadline AND v.report_date <= {D}
    ) WHERE n <= last_n
    UNION ALL
    SELECT tid, first_n, last_n, 0, false FROM t WHERE first_n <= last_n
),
-- Among the rows of one period, the last in the window's order has the period's whole
-- running sum and the next period's number; the others reach up to their own (empty).
c AS (
    SELECT tid, n, sum(q) OVER w AS done_quantity, lead(n, 1, last_n + 1) OVER w AS next_n,
           min(CASE WHEN done THEN n END) OVER (PARTITION BY tid) AS flagged_n
    FROM r WINDOW w AS (PARTITION BY tid ORDER BY n ROWS UNBOUNDED PRECEDING)
),
j AS (
    SELECT tid, unnest(range(n, next_n)) AS n, done_quantity, flagged_n
    FROM c WHERE next_n > n
),
-- the few periods of each cadence, dated and named once
p AS (
    SELECT cadence, n, {_by_cadence(_START, "n + 1")} - 1 AS period_end,
           {_by_cadence(_LABEL, _by_cadence(_START, "n"))} AS period
    FROM (SELECT cadence, unnest(range(min(first_n), max(last_n) + 1)) AS n
          FROM t GROUP BY cadence)
),
e AS (
    SELECT t.task, t.unit, p.period, p.period_end,
           t.quantity * least(1, (least(p.period_end, t.deadline) - t.start_date + 1)
                                 / (t.deadline - t.start_date + 1)) AS due,
           j.done_quantity, coalesce(j.n >= j.flagged_n, false) AS done_yet
    FROM j JOIN t USING (tid) JOIN p ON p.cadence = t.cadence AND p.n = j.n
)
SELECT task, unit, period, period_end, due, done_quantity,
       CASE WHEN done_quantity >= due OR done_yet THEN 'on_track' ELSE 'behind' END AS status
FROM e;

CREATE OR REPLACE VIEW task_pace AS SELECT * FROM task_pace_as_of(current_date);
"""

# The periods as items of the ladder, at the task's cadence, as known on day d.
LADDER_ITEMS = """
SELECT 'task_pace' AS item_kind, task AS item, unit, NULL AS indicator, NULL AS region,
       period, period_end, status
FROM task_pace_as_of(d)
"""
