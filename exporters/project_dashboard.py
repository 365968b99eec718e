"""The major-projects dashboard (按图督办): overdue nodes, stuck projects, start rate."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders.dashboard import Dashboard

from exporters.panels import (
    DS,
    LIVE,
    DashboardSettings,
    kpiwatch_dashboard,
    numbered,
    query,
)

UID = "kpiwatch-projects"
P = "kpiwatch_project_"


def _sum(metric: str, by: str = "", sel: str = "") -> str:
    """A project metric summed over the chosen instances (and by the given labels)."""
    group = f" by ({by})" if by else ""
    return f"sum{group} ({P}{metric}{{{LIVE}{sel}}})"


def _stat(title: str, expr: str, unit: str = "short") -> Any:
    return (
        stat.Panel()
        .title(title)
        .datasource(DS)
        .height(4)
        .span(6)
        .unit(unit)
        .with_target(query(expr))
    )


def panels() -> list[Any]:
    """Stats on top, overdue nodes by band and region, their trend, nodes by state."""
    rate = f"{_sum('started_when_due')} / {_sum('due_to_start')}"
    return [
        _stat("Overdue nodes", _sum("overdue_nodes")),
        _stat("Stuck projects", _sum("stuck")),
        _stat("Start rate (开工率)", rate, "percentunit"),
        _stat("Due to start this 旬, not started", _sum("due_this_dekad_not_started")),
        bargauge.Panel()
        .title("Overdue nodes by region and days late")
        .datasource(DS)
        .height(8)
        .span(12)
        .with_target(query(_sum("overdue_nodes", "region, days_late"), "{{region}} {{days_late}}")),
        timeseries.Panel()
        .title("Overdue nodes by node")
        .datasource(DS)
        .height(8)
        .span(12)
        .with_target(query(_sum("overdue_nodes", "node"), "{{node}}")),
        table.Panel()
        .title("Nodes by state")
        .datasource(DS)
        .height(10)
        .span(24)
        .with_target(query(_sum("nodes", "node, state"), table=True)),
    ]


def projects_dashboard(s: DashboardSettings | None = None) -> Dashboard:
    """Where the registers' projects are late or stuck, by region and node."""
    s = s or DashboardSettings()
    d = kpiwatch_dashboard("kpiwatch major projects", UID, s)
    return numbered(d, panels())
