"""Prometheus metrics of the project register, with bounded labels only.

Labels are register, region (the project's own: sum in PromQL for a parent), node,
state and a band of days late: never a project. Read once per refresh into an immutable
ProjectData; ProjectCollector yields fresh families from it on every collect().
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

import duckdb
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ingest.grains import span_of

P = "kpiwatch_project_"
YUAN_PER_YI = 1e8  # investment is registered in 亿元; exported in base units (yuan)
# Overdue nodes by how late: upper bounds in days, the last open.
BANDS = (("1-10", 10), ("11-30", 30), ("31-90", 90), ("91+", None))

NODES_SQL = """
SELECT register, region, node, state, count(*)
FROM project_nodes_at($known, $today) WHERE state <> 'unplanned' GROUP BY ALL ORDER BY ALL
"""
OVERDUE_SQL = """
SELECT register, region, node,
       CASE WHEN days_late <= 10 THEN '1-10' WHEN days_late <= 30 THEN '11-30'
            WHEN days_late <= 90 THEN '31-90' ELSE '91+' END AS band, count(*)
FROM project_nodes_at($known, $today) WHERE state = 'overdue' GROUP BY ALL ORDER BY ALL
"""
PROJECTS_SQL = """
WITH s AS (SELECT register, project, planned, actual
           FROM project_nodes_at($known, $today) WHERE node = 'started')
SELECT p.register, p.region,
       count(*) FILTER (p.listed), count(*) FILTER (NOT p.listed),
       count(*) FILTER (p.listed AND p.stuck),
       count(*) FILTER (p.listed AND s.planned <= $today),
       count(*) FILTER (p.listed AND s.planned <= $today AND s.actual IS NOT NULL),
       count(*) FILTER (p.listed AND s.actual IS NULL AND s.planned BETWEEN $first AND $last),
       coalesce(sum(p.investment) FILTER (p.listed), 0),
       coalesce(sum(p.funds) FILTER (p.listed), 0),
       avg(p.progress) FILTER (p.listed AND p.progress IS NOT NULL)
FROM projects_at($known, $today) p LEFT JOIN s USING (register, project)
GROUP BY ALL ORDER BY ALL
"""

HELP = {
    "nodes": "Nodes of listed projects by state (confirmed, reported, overdue, planned).",
    "overdue_nodes": "Overdue nodes (planned date passed, not reported) by days late.",
    "listed": "Projects the latest register lists.",
    "unlisted": "Projects stored earlier that the latest register no longer lists.",
    "stuck": "Projects waiting at one node longer than the register's stuck_after_days.",
    "due_to_start": "Projects whose planned start has come.",
    "started_when_due": "Projects whose planned start has come that have started.",
    "start_rate_ratio": "Started of those due to start (开工率).",
    "due_this_dekad_not_started": "Projects due to start in the current 旬, not started.",
    "investment_yuan": "Planned investment of the listed projects.",
    "funds_in_place_yuan": "Funds in place (到位资金) of the listed projects.",
    "physical_progress_ratio": "Mean physical progress (形象进度) of projects reporting it.",
}
_COUNTS = (
    "listed",
    "unlisted",
    "stuck",
    "due_to_start",
    "started_when_due",
    "due_this_dekad_not_started",
)


@dataclass(frozen=True)
class RegionRow:
    """One register's projects in one region: counts, amounts in 亿元, progress in %."""

    register: str
    region: str
    listed: int
    unlisted: int
    stuck: int
    due_to_start: int
    started_when_due: int
    due_this_dekad_not_started: int
    investment: float
    funds: float
    progress: float | None


@dataclass(frozen=True)
class ProjectData:
    """What one refresh exports about the registers; never changed after it is built."""

    nodes: Sequence[tuple[str, str, str, str, int]] = ()
    overdue: Sequence[tuple[str, str, str, str, int]] = ()
    regions: Sequence[RegionRow] = ()


NO_PROJECTS = ProjectData()


def read_project_data(con: duckdb.DuckDBPyConnection, today: date | None = None) -> ProjectData:
    """Read the registers' counts judged on `today`, as known by its end (default: the
    machine's date, with every register loaded)."""
    day = today or date.today()
    dekad = span_of(day, "dekad")
    known: datetime | str = datetime.combine(today, time.max) if today else "infinity"
    params = {"today": day, "known": known}
    return ProjectData(
        con.execute(NODES_SQL, params).fetchall(),
        con.execute(OVERDUE_SQL, params).fetchall(),
        [
            RegionRow(*r)
            for r in con.execute(
                PROJECTS_SQL, dict(params, first=dekad.start, last=dekad.end)
            ).fetchall()
        ],
    )


class ProjectCollector(Collector):
    """Yields fresh gauge families from a ProjectData on every collect()."""

    def __init__(self, data: ProjectData) -> None:
        self._data = data

    def collect(self) -> Iterator[Metric]:
        nodes = _family("nodes", "node", "state")
        for register, region, node, state, n in self._data.nodes:
            nodes.add_metric([register, region, node, state], n)
        yield nodes
        overdue = _family("overdue_nodes", "node", "days_late")
        for register, region, node, band, n in self._data.overdue:
            overdue.add_metric([register, region, node, band], n)
        yield overdue
        yield from self._per_region()

    def _per_region(self) -> Iterator[Metric]:
        names = [*_COUNTS, "investment_yuan", "funds_in_place_yuan"]
        families = {n: _family(n) for n in [*names, "physical_progress_ratio", "start_rate_ratio"]}
        for row in self._data.regions:
            labels = [row.register, row.region]
            for name in _COUNTS:
                families[name].add_metric(labels, getattr(row, name))
            families["investment_yuan"].add_metric(labels, row.investment * YUAN_PER_YI)
            families["funds_in_place_yuan"].add_metric(labels, row.funds * YUAN_PER_YI)
            if row.progress is not None:
                families["physical_progress_ratio"].add_metric(labels, row.progress / 100)
            if row.due_to_start:
                rate = row.started_when_due / row.due_to_start
                families["start_rate_ratio"].add_metric(labels, rate)
        yield from families.values()


def _family(name: str, *labels: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(P + name, HELP[name], labels=["register", "region", *labels])
