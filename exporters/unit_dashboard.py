"""The units dashboard (一单位一清单): the ranking, and one panel per unit of its tasks."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.builders.dashboard import Dashboard

from exporters.panels import (
    DS,
    LIVE,
    DashboardSettings,
    kpiwatch_dashboard,
    numbered,
    query,
    query_variable,
)

UID = "kpiwatch-units"
P = "kpiwatch_unit_"
UNIT = 'unit=~"$unit"'


def _max(metric: str, sel: str = "", by: str = "unit") -> str:
    """A unit metric over the chosen instances (two kpiwatch instances show once)."""
    return f"max by ({by}) ({P}{metric}{{{LIVE},{UNIT}{sel}}})"


def panels() -> list[Any]:
    """The ranking table, overdue tasks over time, then one stat row repeated per unit."""
    ranking = (
        table.Panel()
        .title("Units: score (own, with the units below), completion, on time, overdue")
        .datasource(DS)
    )
    for ref, (metric, sel) in zip(
        "ABCDEF",
        (
            ("score", ""),
            ("tree_score", ""),
            ("completion_ratio", ""),
            ("on_time_ratio", ""),
            ("tasks", ',status="overdue"'),
            ("problems", ',status="overdue"'),
        ),
        strict=True,
    ):
        ranking = ranking.with_target(query(_max(metric, sel), ref=ref, table=True))
    per_unit = (
        stat.Panel()
        .title("$unit: tasks by status")
        .datasource(DS)
        .repeat("unit")
        .height(5)
        .span(24)
        .with_target(query(f'max by (status) ({P}tasks{{{LIVE},unit="$unit"}})', "{{status}}"))
    )
    return [
        ranking.height(10).span(14),
        timeseries.Panel()
        .title("Overdue tasks by unit")
        .datasource(DS)
        .height(10)
        .span(10)
        .with_target(query(_max("tasks", ',status="overdue"'), "{{unit}}")),
        per_unit,
    ]


def units_dashboard(s: DashboardSettings | None = None) -> Dashboard:
    """Which units are behind on their lists, and each unit's tasks by status."""
    s = s or DashboardSettings()
    units = query_variable("unit", "Unit", f"label_values({P}info, unit)", all_value=".*")
    return numbered(kpiwatch_dashboard("kpiwatch units", UID, s, variables=[units]), panels())
