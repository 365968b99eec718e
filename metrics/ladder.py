"""The escalation ladder (通报 → 约谈 → 问责): how long each item has been behind.

One rule for every item with a status over time. A progress check is judged at its
own cadence (a monthly indicator by its month's status, a quarterly one by its
quarter's), a quantity task by its pace at its cadence (metrics.task_pace), an
at-least-one-per-period rule by each of its periods: each run of
consecutive periods behind raises the item's level to the number of `periods`
thresholds the run has reached. Tasks and project nodes are judged
by days overdue against `overdue_days`. Levels: 0 none, 1 通报, 2 约谈, 3 问责.

Recovery: every `recover_periods` consecutive periods on track step the level down by
`step_down` (1: one level at a time; 3: cleared at once). A period at risk or without
data neither raises nor lowers the level; it ends a run, so the next period behind
starts a new run, which raises the level only where the new run's own count is higher.
With `after_talk`, a period behind that ends after a recorded talk (约谈) with the
item's unit, held since the item first stood at 约谈 without clearing, is 问责.

History is as known on a day: `escalation_history_as_of(d)` reads the rules' periods and
the tasks' pace from the register versions and reports known by then (the checks as
they stand), and `escalations_as_of(d)` its stretches.

The level is computed set-based. With C the cumulative step-downs so far and f the
count level of a period behind (0 otherwise), level(t) = max(0, max over s ≤ t of
(f(s) + C(s)) − C(t)): a running maximum, so the ladder is a few window functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Annotated

import duckdb
from pydantic import Field, model_validator

from ingest.errors import Problem
from ingest.schema import Strict
from ingest.store import transaction
from ingest.talk_files import Talk
from metrics import per_period, task_pace, task_status

LEVELS = ("none", "通报", "约谈", "问责")
Count = Annotated[int, Field(ge=1, le=1000)]


class Escalation(Strict):
    """[escalation]: when an item behind is named (通报), summoned (约谈), held to account."""

    # consecutive periods behind for 通报, 约谈, 问责; with two, 问责 comes only after a talk
    periods: tuple[Count, ...] = (1, 2, 3)
    # days a task or project node is overdue (more than) for each level
    overdue_days: tuple[Annotated[int, Field(ge=0, le=3650)], ...] = (10, 20, 30)
    recover_periods: Count = 1
    step_down: int = Field(default=1, ge=1, le=3)
    after_talk: bool = True
    labels: tuple[str, str, str, str] = LEVELS
    talks: tuple[Talk, ...] = ()
    # CSV or workbook files of talks (date, unit, note; 日期, 被约谈单位, 约谈事由), beside
    # the ones above: each read whole or refused (ingest.talk_files)
    talk_files: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> Escalation:
        for name, values in (("periods", self.periods), ("overdue_days", self.overdue_days)):
            if not 1 <= len(values) <= 3:
                raise ValueError(f"{name} needs one to three thresholds")
            if any(b <= a for a, b in pairwise(values)):
                raise ValueError(f"{name} must increase: {list(values)}")
        return self


def check_talks(esc: Escalation, units: set[str]) -> list[Problem]:
    """A talk must name a unit the config knows (by id, name or as an owner): a typo
    would silently never count."""
    return [
        Problem(f"escalation.talks[#{n}].unit", f"unknown unit {t.unit!r}")
        for n, t in enumerate(esc.talks, 1)
        if t.unit not in units
    ]


# Each item's status per period at its own cadence, from the stored checks.
CHECK_ITEMS = """
SELECT 'check' AS item_kind, indicator || '/' || region AS item, owner AS unit, indicator,
       region, as_of AS period, as_of_end AS period_end, status
FROM progress
WHERE horizon = 'month' OR (horizon = 'quarter' AND as_of LIKE '%Q%')
"""

# The windows run over narrow rows (row id, class, the item's first row id as an integer
# partition key) and the other columns are joined back once: sorting whole rows four
# times cost more than the levels themselves.
LEVELS_SQL = """
WITH s AS MATERIALIZED (
    SELECT *, CASE status WHEN 'behind' THEN 2 WHEN 'on_track' THEN 1 ELSE 0 END AS cls,
           row_number() OVER () AS rid
    FROM ({source}) WHERE status <> 'no_data'
),
-- a run starts where the class changes: its length is the rows since the last change
x AS (
    SELECT cls, rid, first_value(rid) OVER w AS g, row_number() OVER w AS seq,
           CASE WHEN cls IS DISTINCT FROM lag(cls) OVER w THEN row_number() OVER w END AS chg
    FROM s WINDOW w AS (PARTITION BY item_kind, item ORDER BY period_end)
),
r AS (
    SELECT * EXCLUDE (chg),
           seq + 1 - max(chg) OVER (PARTITION BY g ORDER BY seq ROWS UNBOUNDED PRECEDING) AS run
    FROM x
),
d AS (
    SELECT *, CASE WHEN cls = 2 THEN {count} ELSE 0 END AS f,
           CASE WHEN cls = 1 AND run % {recover} = 0 THEN {step} ELSE 0 END AS down
    FROM r
),
c AS (
    SELECT *, sum(down) OVER (PARTITION BY g ORDER BY seq ROWS UNBOUNDED PRECEDING) AS decay
    FROM d
),
n AS (
    SELECT rid, seq, run, f, down, decay,
           CAST(greatest(0, max(f + decay) OVER (PARTITION BY g ORDER BY seq
                                                 ROWS UNBOUNDED PRECEDING) - decay)
                AS INTEGER) AS level0
    FROM c
)
SELECT s.* EXCLUDE (rid), n.* EXCLUDE (rid) FROM s JOIN n USING (rid)
"""

# The talk rule: a talk counts for an item when it took place after the item first stood
# at 约谈 in its current episode (since it last stood at 0) and before the period ended.
TALK_SQL = """
WITH l AS MATERIALIZED ({levels}),
-- only the items of units with a recorded talk take the talk pass: talks are rare
talked AS (SELECT l.* FROM l SEMI JOIN escalation_talk_units k ON k.unit_key = l.unit),
e AS (
    SELECT *, sum(CAST(level0 = 0 AS INTEGER)) OVER w AS episode FROM talked
    WINDOW w AS (PARTITION BY item_kind, item ORDER BY seq ROWS UNBOUNDED PRECEDING)
),
a AS (
    SELECT *, min(CASE WHEN level0 >= 2 THEN period_end END) OVER (
               PARTITION BY item_kind, item, episode ORDER BY seq
               ROWS UNBOUNDED PRECEDING) AS summoned
    FROM e
),
-- the unit's latest talk before the period ended (one ASOF match, not a search per row)
t AS (
    SELECT a.*, coalesce(a.cls = 2 AND k.talk_date >= a.summoned, false) AS after_talk
    FROM a ASOF LEFT JOIN escalation_talk_units k
      ON k.unit_key = a.unit AND k.talk_date < a.period_end
),
g AS (
    SELECT *, greatest(f, CASE WHEN after_talk THEN 3 ELSE 0 END) AS f2 FROM t
)
SELECT * EXCLUDE (episode, summoned, f2),
       CAST(greatest(0, max(f2 + decay) OVER (PARTITION BY item_kind, item ORDER BY seq
                                              ROWS UNBOUNDED PRECEDING) - decay)
            AS INTEGER) AS level
FROM g
UNION ALL BY NAME
SELECT l.*, false AS after_talk, level0 AS level
FROM l ANTI JOIN escalation_talk_units k ON k.unit_key = l.unit
"""

# A talk names a unit by id or name: both keys match an item's unit.
TALK_UNITS = """
CREATE OR REPLACE VIEW escalation_talk_units AS
SELECT t.talk_date, k.unit_key FROM escalation_talks t,
LATERAL (SELECT t.unit AS unit_key
         UNION SELECT u.id FROM units u WHERE t.unit IN (u.id, u.name)
         UNION SELECT u.name FROM units u WHERE t.unit IN (u.id, u.name)) k
"""

# Tasks and project nodes: the levels follow from the days overdue, so each level's
# stretch is dated directly (reached the day after its threshold, cleared when done).
LATE_ITEMS = """
SELECT 'task' AS item_kind, task AS item, unit, NULL AS indicator, NULL AS region,
       deadline, done_on, days_late
FROM task_status_as_of(d) WHERE status IN ('overdue', 'done_late')
UNION ALL
SELECT 'project_node', register || '/' || project || '/' || node, unit, NULL, region,
       planned, actual, CAST(days_late AS INTEGER)
FROM project_nodes_at(CAST(d AS DATE) + INTERVAL 1 DAY, d)
WHERE days_late > 0 AND (state = 'overdue' OR actual IS NOT NULL)
"""

LATE_SQL = """
SELECT item_kind, item, unit, indicator, region, k AS level,
       deadline + th[k] + 1 AS reached, CAST(deadline + th[k] + 1 AS VARCHAR) AS reached_period,
       CASE WHEN k < {n} AND days_late > th[k + 1] THEN deadline + th[k + 1] + 1
            ELSE done_on END AS cleared,
       CASE WHEN k < {n} AND days_late > th[k + 1] THEN k + 1
            WHEN done_on IS NOT NULL THEN 0 END AS next_level,
       false AS by_talk
FROM (SELECT *, {days} AS th FROM ({late})), range(1, {n} + 1) g(k)
WHERE days_late > th[k]
"""

# A stretch at one level starts where the level changes; it ends at the next change.
STRETCHES = """
WITH h AS (
    SELECT *, lag(level, 1, 0) OVER (PARTITION BY item_kind, item ORDER BY period_end) AS prev
    FROM escalation_history_as_of(d) WHERE period_end <= CAST(d AS DATE)
),
x AS (
    SELECT *, lead(period_end) OVER w AS cleared, lead(period) OVER w AS cleared_period,
           lead(level) OVER w AS next_level
    FROM h WHERE level <> prev
    WINDOW w AS (PARTITION BY item_kind, item ORDER BY period_end)
)
SELECT item_kind, item, unit, indicator, region, level, period_end AS reached,
       period AS reached_period, cleared, next_level, after_talk AS by_talk
FROM x WHERE level > 0
"""


def history_sql(esc: Escalation, source: str) -> str:
    """Each item-period of `source` with its level (columns as CHECK_ITEMS gives them)."""
    count = " + ".join(f"CAST(run >= {n} AS INTEGER)" for n in esc.periods)
    levels = LEVELS_SQL.format(
        source=source, count=count, recover=esc.recover_periods, step=esc.step_down
    )
    if esc.after_talk and esc.talks:  # without a talk the rule cannot apply
        return TALK_SQL.format(levels=levels)
    return f"SELECT *, false AS after_talk, level0 AS level FROM ({levels})"


def views(esc: Escalation) -> str:
    """The ladder's views and macros, with the configured thresholds."""
    items = (CHECK_ITEMS, per_period.LADDER_ITEMS, task_pace.LADDER_ITEMS)
    history = history_sql(esc, " UNION ALL ".join(items))
    late = LATE_SQL.format(n=len(esc.overdue_days), days=list(esc.overdue_days), late=LATE_ITEMS)
    labels = "[" + ", ".join(_quote(s) for s in esc.labels) + "]"
    return f"""
{TALK_UNITS};
CREATE OR REPLACE MACRO escalation_name(level) AS {labels}[level + 1];
CREATE OR REPLACE MACRO escalation_history_as_of(d) AS TABLE
SELECT item_kind, item, unit, indicator, region, period, period_end, status,
       CASE WHEN cls = 2 THEN run ELSE 0 END AS behind_run, after_talk, level,
       escalation_name(level) AS level_name
FROM ({history});
CREATE OR REPLACE VIEW escalation_history AS
SELECT * FROM escalation_history_as_of(current_date);
CREATE OR REPLACE MACRO escalations_as_of(d) AS TABLE
WITH a AS ({STRETCHES} UNION ALL {late})
SELECT *, escalation_name(level) AS level_name,
       cleared IS NULL OR cleared > CAST(d AS DATE) AS current
FROM a;
CREATE OR REPLACE VIEW escalations AS SELECT * FROM escalations_as_of(current_date);
CREATE OR REPLACE VIEW progress_escalation AS
SELECT p.*, coalesce(h.level, 0) AS escalation_level,
       escalation_name(coalesce(h.level, 0)) AS escalation
FROM progress p LEFT JOIN escalation_history h
  ON h.item_kind = 'check' AND h.indicator = p.indicator AND h.region = p.region
 AND h.period_end = p.as_of_end;
"""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def install(
    con: duckdb.DuckDBPyConnection,
    esc: Escalation,
    scoring: task_status.TaskScoring,
    rules: Sequence[per_period.EveryPeriod] = (),
) -> None:
    """Store the recorded talks and the at-least-one-per-period rules, and (re)create
    the ladder's views with these thresholds."""
    task_status.install(con, scoring)  # the ladder reads the tasks' statuses
    with transaction(con):
        per_period.install(con, rules)
        con.execute(task_pace.MACRO)
        con.execute(
            "CREATE OR REPLACE TABLE escalation_talks "
            "(talk_date DATE NOT NULL, unit VARCHAR NOT NULL, note VARCHAR)"
        )
        if esc.talks:
            con.executemany(
                "INSERT INTO escalation_talks VALUES (?, ?, ?)",
                [(t.date, t.unit, t.note) for t in esc.talks],
            )
        con.execute(views(esc))


def progress_with_levels(con: duckdb.DuckDBPyConnection) -> str:
    """progress with the escalation level, for a FROM clause; a store last refreshed
    without the ladder has no progress_escalation view and reads level 0."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = 'progress_escalation'"
    ).fetchall()
    if found and found[0][0]:
        return "progress_escalation"
    return "(SELECT *, 0 AS escalation_level, '' AS escalation FROM progress)"
