"""Units' lists as Prometheus metrics: counts by unit and status, never a label per task.

Families (labels bounded by the configured units and five statuses):
  kpiwatch_unit_tasks{unit, status}          tasks in each status (overdue, done_late, …)
  kpiwatch_unit_tasks_due{unit}              tasks whose deadline has passed
  kpiwatch_unit_completion_ratio{unit}       done ÷ due (absent while nothing is due)
  kpiwatch_unit_on_time_ratio{unit}          done by the deadline ÷ due
  kpiwatch_unit_problems{unit, status}       problems open and overdue
  kpiwatch_unit_score{unit}                  the unit score (节点考核), 0–100
  kpiwatch_unit_tree_score{unit}             the score over the unit and the units below it
  kpiwatch_unit_rank{unit}                   rank among the units with the same parent
  kpiwatch_unit_info{unit, name, kind, parent, task_force}   value 1
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import date

import duckdb
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from metrics.unit_list import ranking

P = "kpiwatch_unit_"
TASK_STATUSES = ("overdue", "done_late", "due_soon", "on_time", "done")

COUNTS_SQL = "SELECT unit, status, count(*) FROM task_status_as_of(?) GROUP BY ALL ORDER BY ALL"


@dataclass(frozen=True)
class UnitRow:
    """One unit's figures as of the refresh."""

    unit: str
    name: str
    kind: str
    parent: str
    task_force: str
    due: int
    open_problems: int
    overdue_problems: int
    completion_rate: float | None
    on_time_rate: float | None
    score: float | None
    tree_score: float | None
    rank: int | None


@dataclass(frozen=True)
class UnitData:
    """Everything the units' metrics show, read once per refresh."""

    units: Sequence[UnitRow] = ()
    counts: Sequence[tuple[str, str, int]] = ()  # unit, task status, tasks


def read_unit_data(con: duckdb.DuckDBPyConnection, today: date | None = None) -> UnitData:
    """The units `kpiwatch units --as-of` ranks, as of `today` (default: the machine's
    date); empty for a store that has no lists yet."""
    day = today or date.today()
    try:
        ranked = ranking(con, day)
        rows = con.execute(COUNTS_SQL, [day]).fetchall()
    except duckdb.CatalogException:
        return UnitData()
    units = sorted((_row(r) for r in ranked), key=lambda u: u.unit)
    return UnitData(units, [(str(u), str(s), int(n)) for u, s, n in rows])


def _row(r: dict[str, object]) -> UnitRow:
    """A ranking row as a UnitRow; labels never NULL."""
    labels = {k: str(r[k] or "") for k in ("unit", "name", "kind", "parent", "task_force")}
    figures = {f.name: r[f.name] for f in fields(UnitRow) if f.name not in {*labels, "rank"}}
    return UnitRow(**labels, **figures, rank=r["rank_in_parent"])  # type: ignore[arg-type]


class UnitCollector(Collector):
    """Metric families built from one immutable UnitData."""

    def __init__(self, data: UnitData) -> None:
        self.data = data

    def collect(self) -> Iterator[Metric]:
        tasks = GaugeMetricFamily(
            f"{P}tasks", "Tasks of the unit in each status.", labels=["unit", "status"]
        )
        counts = {(u, s): n for u, s, n in self.data.counts}
        for row in self.data.units:
            for status in TASK_STATUSES:
                tasks.add_metric([row.unit, status], counts.get((row.unit, status), 0))
        yield tasks
        yield from self._per_unit()
        problems = GaugeMetricFamily(
            f"{P}problems", "Problems of the unit open or overdue.", labels=["unit", "status"]
        )
        for row in self.data.units:
            problems.add_metric([row.unit, "open"], row.open_problems)
            problems.add_metric([row.unit, "overdue"], row.overdue_problems)
        yield problems
        info = GaugeMetricFamily(
            f"{P}info",
            "Unit metadata: name, kind, parent and task force (value 1).",
            labels=["unit", "name", "kind", "parent", "task_force"],
        )
        for row in self.data.units:
            info.add_metric([row.unit, row.name, row.kind, row.parent, row.task_force], 1)
        yield info

    def _per_unit(self) -> Iterator[Metric]:
        fields = (
            ("tasks_due", "Tasks of the unit whose deadline has passed.", "due"),
            ("completion_ratio", "Tasks due that are done (1 is all).", "completion_rate"),
            ("on_time_ratio", "Tasks due that were done by their deadline.", "on_time_rate"),
            ("score", "The unit score (节点考核), 0 to 100.", "score"),
            ("tree_score", "The score over the unit and the units below it.", "tree_score"),
            ("rank", "Rank by tree score among the units with the same parent.", "rank"),
        )
        for name, doc, attr in fields:
            family = GaugeMetricFamily(f"{P}{name}", doc, labels=["unit"])
            for row in self.data.units:
                value = getattr(row, attr)
                if value is not None:
                    family.add_metric([row.unit], float(value))
            yield family
