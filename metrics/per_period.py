"""At least one per period (每天有项目洽谈、每周有签约入驻、每月有开工建设、每季有竣工投产).

A rule names what counts — projects of a register reaching a node (in a region and the
regions below it), or progress reported on a task or any task below it — and the grain: day,
week, 旬, month or quarter. Each ended period with none is behind, one with at least one
on track; the rule's status is the count of periods without one. The periods climb the
escalation ladder like every item with a status over time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Literal

import duckdb
import pandas as pd
from pydantic import Field, model_validator

from ingest.errors import Problem
from ingest.grains import spans
from ingest.register_schema import Register
from ingest.schema import Id, Strict
from ingest.unit_schema import ItemId

PerGrain = Literal["day", "week", "dekad", "month", "quarter"]


class EveryPeriod(Strict):
    """[[every_period]]: at least one event in every period of a grain."""

    id: Id
    name: str
    grain: PerGrain
    start: date
    end: date
    owner: str = ""  # the unit answering for the rule (its items on the ladder)
    # what counts: the projects of register `in_register` reaching `node` (reported or confirmed) …
    in_register: Id | None = None
    node: Id | None = None
    region: Id | None = None  # that region's projects and those of the regions below it
    min_investment: float | None = Field(default=None, ge=0)
    # … or a progress report (a quantity above zero, or done) on a task or any task below it
    task: ItemId | None = None

    @model_validator(mode="after")
    def _one_source(self) -> EveryPeriod:
        if (self.in_register is None) == (self.task is None):
            raise ValueError("name either in_register (with node) or task")
        if self.in_register is not None and self.node is None:
            raise ValueError("a register's events need the node that counts")
        if self.task is not None and (self.node or self.region or self.min_investment):
            raise ValueError("node, region and min_investment count a register's projects")
        if self.end < self.start or (self.end - self.start).days > 3660:
            raise ValueError(f"start {self.start} to end {self.end}: at most ten years, in order")
        return self


def check_rules(
    rules: Sequence[EveryPeriod], registers: Sequence[Register], regions: set[str]
) -> list[Problem]:
    """A rule names a register, node and region the config knows, and a unique id."""
    nodes = {r.name: set(r.node_ids()) for r in registers}
    problems, seen = [], set()
    for rule in rules:
        where = f"every_period[id={rule.id}]"
        if rule.id in seen:
            problems.append(Problem(where, "defined more than once"))
        seen.add(rule.id)
        if rule.in_register is not None and rule.in_register not in nodes:
            problems.append(
                Problem(f"{where}.in_register", f"unknown register {rule.in_register!r}")
            )
        elif rule.in_register is not None and rule.node not in nodes[rule.in_register]:
            problems.append(Problem(f"{where}.node", f"unknown node {rule.node!r}"))
        if rule.region is not None and rule.region not in regions:
            problems.append(Problem(f"{where}.region", f"unknown region {rule.region!r}"))
    return problems


def periods(rule: EveryPeriod) -> Iterator[tuple[str, date, date]]:
    """(label, first day, last day) of every period of the rule's grain it covers."""
    if rule.grain == "day":
        for n in range((rule.end - rule.start).days + 1):
            day = rule.start + timedelta(days=n)
            yield day.isoformat(), day, day
        return
    for span in spans(rule.start, rule.end, rule.grain):
        yield span.label, span.start, span.end


# Every rule's events by day (one row per event), from the register or the tasks, as
# known by the end of day d: a signing entered a week late counts from that week on.
EVENTS = """
SELECT r.rule, n.actual AS day
FROM every_period_rules r
JOIN project_nodes_at(CAST(d AS DATE) + INTERVAL 1 DAY, d) n
  ON n.register = r.register AND n.node = r.node AND n.actual IS NOT NULL
WHERE (r.region IS NULL
       OR n.region IN (SELECT region FROM region_tree WHERE ancestor = r.region))
  AND (r.min_investment IS NULL OR n.investment >= r.min_investment)
UNION ALL
SELECT w.rule, p.report_date
FROM work w JOIN task_progress_as_of(d) p ON p.task = w.task
WHERE coalesce(p.quantity, 0) > 0 OR coalesce(p.done, false)
"""

# Each task rule's task and every task below it (a key work's tasks and theirs), as the
# tasks stood on day d.
WORK = """
WITH RECURSIVE work(rule, task, depth) AS (
    SELECT rule, task, 0 FROM every_period_rules WHERE task IS NOT NULL
    UNION ALL
    SELECT w.rule, t.task, w.depth + 1 FROM work w JOIN tasks_as_of(d) t ON t.parent = w.task
    WHERE w.depth < 32
)"""

VIEWS = f"""
CREATE OR REPLACE MACRO every_period_as_of(d) AS TABLE
{WORK},
e AS ({EVENTS})
SELECT r.rule, r.name, r.grain, r.owner AS unit, r.region, s.period, s.period_start,
       s.period_end, count(e.day) AS events,
       CASE WHEN count(e.day) > 0 THEN 'on_track' ELSE 'behind' END AS status
FROM every_period_rules r JOIN every_period_spans s USING (rule)
LEFT JOIN e ON e.rule = r.rule AND e.day BETWEEN s.period_start AND s.period_end
WHERE s.period_end < CAST(d AS DATE) OR e.day <= CAST(d AS DATE)
GROUP BY ALL;

CREATE OR REPLACE VIEW every_period AS SELECT * FROM every_period_as_of(current_date);

CREATE OR REPLACE VIEW every_period_status AS
SELECT r.rule, r.name, r.grain, r.owner AS unit, r.start_date, r.end_date,
       count(p.period) AS periods, count(p.period) FILTER (p.status = 'behind') AS without_one,
       max(p.period) FILTER (p.status = 'behind') AS last_without_one
FROM every_period_rules r LEFT JOIN every_period p USING (rule)
GROUP BY ALL;
"""

# The periods as items of the ladder, at the rule's own grain, as known on day d.
LADDER_ITEMS = """
SELECT 'every_period' AS item_kind, rule AS item, unit, NULL AS indicator, region,
       period, period_end, status
FROM every_period_as_of(d)
"""


def install(con: duckdb.DuckDBPyConnection, rules: Sequence[EveryPeriod]) -> None:
    """Store the rules and their periods and (re)create the views (in a transaction)."""
    con.execute(
        "CREATE OR REPLACE TABLE every_period_rules (rule VARCHAR PRIMARY KEY, name VARCHAR, "
        "grain VARCHAR, owner VARCHAR, start_date DATE, end_date DATE, register VARCHAR, "
        "node VARCHAR, region VARCHAR, min_investment DOUBLE, task VARCHAR)"
    )
    con.execute(
        "CREATE OR REPLACE TABLE every_period_spans "
        "(rule VARCHAR, period VARCHAR, period_start DATE, period_end DATE)"
    )
    if rules:
        con.executemany(
            "INSERT INTO every_period_rules VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [_row(r) for r in rules],
        )
        frame = pd.DataFrame(
            [(r.id, *p) for r in rules for p in periods(r)],
            columns=["rule", "period", "period_start", "period_end"],
        )
        con.register("_spans", frame)
        try:
            con.execute("INSERT INTO every_period_spans SELECT * FROM _spans")
        finally:
            con.unregister("_spans")
    con.execute(VIEWS)


def _row(r: EveryPeriod) -> tuple[object, ...]:
    fields: Mapping[str, object] = r.model_dump()
    keys = ("id", "name", "grain", "owner", "start", "end", "in_register", "node", "region")
    return (*(fields[k] for k in keys), r.min_investment, r.task)
