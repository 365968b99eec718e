"""The escalation ladder as Prometheus metrics, with labels bounded by the config.

Families:
  kpiwatch_escalation_level{indicator, region, unit}   a check's current level, 0–3
  kpiwatch_escalation_unit_level{unit}                 the highest current level of the
                                                       unit's items (checks, tasks, nodes)
  kpiwatch_escalation_items{unit, level}               the unit's items at each level 1–3
  kpiwatch_every_period_without_one{rule, unit}        an [[every_period]] rule's periods
                                                       without one so far
  kpiwatch_every_period_behind_run{rule, unit}         its latest periods without one in a row
Units are those the config names (units, regions, the checks' owners): a unit that only
a register file names is not a label, and no label is ever per task or project; rules
are the config's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import duckdb
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CHECKS_SQL = """
SELECT indicator, region, coalesce(unit, ''), level
FROM escalation_history_as_of(CAST($today AS DATE))
WHERE item_kind = 'check' AND period_end <= CAST($today AS DATE)
QUALIFY row_number() OVER (PARTITION BY item ORDER BY period_end DESC) = 1
ORDER BY ALL
"""
# Items of configured units (by id or name) or of a check's owner, current stretches only.
UNITS_SQL = """
WITH known AS (
    SELECT id AS unit FROM units UNION SELECT name FROM units WHERE name IS NOT NULL
    UNION SELECT DISTINCT unit FROM escalation_history_as_of(CAST($today AS DATE))
    WHERE unit IS NOT NULL
)
SELECT e.unit, e.level, count(*) FROM escalations_as_of(CAST($today AS DATE)) e
SEMI JOIN known k ON k.unit = e.unit
WHERE e.current GROUP BY ALL ORDER BY ALL
"""
LEVELS = (1, 2, 3)
# Each rule's periods judged as known on the day: without one, and those since the last
# period with one.
EVERY_PERIOD_SQL = """
WITH p AS (SELECT * FROM every_period_as_of(CAST($today AS DATE))),
ok AS (SELECT rule, max(period_end) FILTER (status = 'on_track') AS last_ok FROM p GROUP BY rule)
SELECT r.rule, coalesce(r.owner, ''), count(p.period) FILTER (p.status = 'behind'),
       count(p.period) FILTER (p.status = 'behind' AND p.period_end > coalesce(ok.last_ok,
                                                                               DATE '0001-01-01'))
FROM every_period_rules r LEFT JOIN p USING (rule) LEFT JOIN ok USING (rule)
GROUP BY ALL ORDER BY ALL
"""


@dataclass(frozen=True)
class EscalationData:
    """The ladder's current levels, read once per refresh."""

    checks: Sequence[tuple[str, str, str, int]] = ()  # indicator, region, unit, level
    units: Sequence[tuple[str, int, int]] = ()  # unit, level, items at that level
    # rule, unit, periods without one, the latest of them in a row
    every_period: Sequence[tuple[str, str, int, int]] = ()


def read_escalation_data(
    con: duckdb.DuckDBPyConnection, today: date | None = None
) -> EscalationData:
    """The levels and the [[every_period]] rules on `today` (default: the machine's
    date), as known by its end; empty for a store without the ladder's views."""
    day = {"today": today or date.today()}
    try:
        checks = [
            (str(i), str(r), str(u), int(v))
            for i, r, u, v in con.execute(CHECKS_SQL, day).fetchall()
        ]
        units = [(str(u), int(v), int(n)) for u, v, n in con.execute(UNITS_SQL, day).fetchall()]
        rules = con.execute(EVERY_PERIOD_SQL, day).fetchall()
    except duckdb.CatalogException:
        return EscalationData()
    every = [(str(r), str(u), int(n), int(run)) for r, u, n, run in rules]
    return EscalationData(checks, units, every)


# Today's history, and a macro of the store's macro's name in front of it on this connection
# (the temp catalog is searched first, also from inside escalations_as_of); another day
# still reads the store's macro.
PIN_SQL = """
CREATE OR REPLACE TEMP TABLE escalation_history_today AS
SELECT * FROM escalation_history_as_of(CAST($today AS DATE))
"""
PINNED_SQL = """
CREATE OR REPLACE TEMP MACRO escalation_history_as_of(d) AS TABLE
SELECT * FROM temp.main.escalation_history_today WHERE CAST(d AS DATE) = DATE '{day}'
UNION ALL
SELECT * FROM {store}.escalation_history_as_of(d) WHERE CAST(d AS DATE) <> DATE '{day}'
"""
UNPIN_SQL = """
DROP MACRO TABLE IF EXISTS temp.main.escalation_history_as_of;
DROP TABLE IF EXISTS temp.main.escalation_history_today
"""


@contextmanager
def history_once(con: duckdb.DuckDBPyConnection, today: date | None = None) -> Iterator[None]:
    """Within, `escalation_history_as_of(today)` on `con` is evaluated once: the ladder's
    checks, the units' and the stretches read the same rows; a store without the ladder
    is left as it is."""
    day = today or date.today()
    where = con.execute("SELECT current_database(), current_schema()").fetchall()[0]
    store = ".".join('"' + str(name).replace('"', '""') + '"' for name in where)
    try:
        con.execute(PIN_SQL, {"today": day})
        con.execute(PINNED_SQL.format(day=day.isoformat(), store=store))
    except duckdb.CatalogException:
        pass  # no ladder: its readers find no macro and read nothing
    try:
        yield
    finally:
        con.execute(UNPIN_SQL)


class EscalationCollector(Collector):
    """Metric families built from one immutable EscalationData."""

    def __init__(self, data: EscalationData) -> None:
        self.data = data

    def collect(self) -> Iterator[Metric]:
        checks = GaugeMetricFamily(
            "kpiwatch_escalation_level",
            "Escalation level of a check: 0 none, 1 通报, 2 约谈, 3 问责.",
            labels=["indicator", "region", "unit"],
        )
        for indicator, region, unit, level in self.data.checks:
            checks.add_metric([indicator, region, unit], level)
        yield checks
        top = {unit: 0 for _, _, unit, _ in self.data.checks}  # a check's owner shows 0 too
        counts = {(u, v): n for u, v, n in self.data.units}
        for unit, level, _ in self.data.units:
            top[unit] = max(top.get(unit, 0), level)
        highest = GaugeMetricFamily(
            "kpiwatch_escalation_unit_level",
            "Highest escalation level of the unit's items: 0 none, 1 通报, 2 约谈, 3 问责.",
            labels=["unit"],
        )
        items = GaugeMetricFamily(
            "kpiwatch_escalation_items",
            "Items of the unit (checks, tasks, project nodes) at each escalation level.",
            labels=["unit", "level"],
        )
        for unit in sorted(u for u in top if u):
            highest.add_metric([unit], top[unit])
            for level in LEVELS:
                items.add_metric([unit, str(level)], counts.get((unit, level), 0))
        yield highest
        yield items
        yield from self._every_period()

    def _every_period(self) -> Iterator[Metric]:
        without = GaugeMetricFamily(
            "kpiwatch_every_period_without_one",
            "Periods of an at-least-one-per-period rule that ended without one, so far.",
            labels=["rule", "unit"],
        )
        run = GaugeMetricFamily(
            "kpiwatch_every_period_behind_run",
            "The rule's latest periods without one, in a row (0: the latest had one).",
            labels=["rule", "unit"],
        )
        for rule, unit, count, behind in self.data.every_period:
            without.add_metric([rule, unit], count)
            run.add_metric([rule, unit], behind)
        yield without
        yield run
