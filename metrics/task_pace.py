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
_STEP = {"week": "INTERVAL 7 DAY", "dekad": "INTERVAL 1 DAY", "month": "INTERVAL 1 MONTH"}
_LONGEST = {"week": 7, "dekad": 11, "month": 31}
_LABEL = {
    "week": "printf('%d-W%02d', isoyear(s), week(s))",
    "dekad": "printf('%d-%02d-D%d', year(s), month(s), (day(s) + 9) // 10)",
    "month": "strftime(s, '%Y-%m')",
}


def _spans(grain: Grain) -> str:
    """Each task of one cadence with the start of every period from its start to its end."""
    first = sql_span_start(grain, "t.start_date")
    end = sql_span_start(grain, f"CAST(s + INTERVAL {_LONGEST[grain]} DAY AS DATE)")
    # 旬 step a day at a time and keep their first days: they are 8 to 11 days long
    keep = f"WHERE s = {sql_span_start(grain, 's')}" if grain == "dekad" else ""
    return f"""
SELECT task, unit, start_date, deadline, quantity, s, {_LABEL[grain]} AS period,
       CAST({end} - 1 AS DATE) AS period_end
FROM (
    SELECT t.task, t.unit, t.start_date, t.deadline, t.quantity, CAST(g.s AS DATE) AS s
    FROM t, generate_series(CAST({first} AS TIMESTAMP),
                            CAST(least(t.deadline, CAST(d AS DATE)) AS TIMESTAMP),
                            {_STEP[grain]}) g(s)
    WHERE t.cadence = '{grain}'
) {keep}"""


def _period_of(day: str) -> str:
    """The start of the period of the task's cadence holding `day` (never before its first)."""
    branches = " ".join(
        f"WHEN '{g}' THEN greatest({sql_span_start(g, day)}, {sql_span_start(g, 't.start_date')})"
        for g in CADENCES
    )
    return f"CASE t.cadence {branches} END"


# Reports are summed into the period they fall in, then run up period by period: one
# window over the periods, no search of the reports per period.
MACRO = f"""
CREATE OR REPLACE MACRO task_pace_as_of(d) AS TABLE
WITH t AS (SELECT * FROM tasks_as_of(d) WHERE quantity IS NOT NULL),
x AS ({" UNION ALL ".join(_spans(g) for g in CADENCES)}),
rp AS (
    SELECT v.task, {_period_of("v.report_date")} AS s, sum(coalesce(v.quantity, 0)) AS q,
           bool_or(coalesce(v.done, false)) AS flagged
    FROM report_vintages v JOIN task_loads l USING (load_id) JOIN t USING (task)
    WHERE {CURRENT} AND v.report_date <= t.deadline AND v.report_date <= CAST(d AS DATE)
    GROUP BY ALL
),
j AS (
    SELECT x.*, quantity * least(1, (least(period_end, deadline) - start_date + 1)
                                    / (deadline - start_date + 1)) AS due,
           sum(coalesce(rp.q, 0)) OVER w AS done_quantity,
           coalesce(bool_or(rp.flagged) OVER w, false) AS done_yet
    FROM x LEFT JOIN rp USING (task, s)
    WINDOW w AS (PARTITION BY x.task ORDER BY x.s ROWS UNBOUNDED PRECEDING)
)
SELECT task, unit, period, period_end, due, done_quantity,
       CASE WHEN done_quantity >= due OR done_yet THEN 'on_track' ELSE 'behind' END AS status
FROM j WHERE period_end < CAST(d AS DATE);

CREATE OR REPLACE VIEW task_pace AS SELECT * FROM task_pace_as_of(current_date);
"""

# The periods as items of the ladder, at the task's cadence, as known on day d.
LADDER_ITEMS = """
SELECT 'task_pace' AS item_kind, task AS item, unit, NULL AS indicator, NULL AS region,
       period, period_end, status
FROM task_pace_as_of(d)
"""
