"""The escalation dashboard (通报 → 约谈 → 问责): which units stand on the ladder, and why."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.builders.common import ReduceDataOptions, TableSortByFieldState
from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.models.common import TableColoredBackgroundCellOptions
from grafana_foundation_sdk.models.dashboard import ValueMap, ValueMappingResult

from exporters.panels import (
    DS,
    LIVE,
    DashboardSettings,
    fixed_colour,
    kpiwatch_dashboard,
    numbered,
    query,
    thresholds,
)

UID = "kpiwatch-escalations"
P = "kpiwatch_escalation_"
COLOURS = ("transparent", "yellow", "orange", "red")  # none, 通报, 约谈, 问责


def _max(metric: str, by: str) -> str:
    """A ladder metric over the chosen instances (two kpiwatch instances show once)."""
    return f"max by ({by}) ({P}{metric}{{{LIVE}}})"


def level_mapping(s: DashboardSettings) -> ValueMap:
    """Levels 0–3 in the configured words and the ladder's colours."""
    return ValueMap(
        options={
            str(n): ValueMappingResult(text=label, color=COLOURS[n], index=n)
            for n, label in enumerate(s.escalation_labels)
        }
    )


def _counts(s: DashboardSettings) -> list[Any]:
    """One stat per level: how many units stand at it now."""
    return [
        stat.Panel()
        .title(f"Units at {s.escalation_labels[n]}")
        .datasource(DS)
        .height(4)
        .span(8)
        .with_target(query(f"count({_max('unit_level', 'unit')} == {n}) or vector(0)"))
        .color_scheme(fixed_colour(COLOURS[n]))
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        for n in (3, 2, 1)
    ]


def _table(title: str, expr: str, description: str, s: DashboardSettings) -> Any:
    """Instant rows, highest level first, coloured by level."""
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DS)
        .height(10)
        .span(12)
        .with_target(query(expr, table=True))
        .cell_options(TableColoredBackgroundCellOptions())
        .thresholds(thresholds([(None, "transparent"), (1, "yellow"), (2, "orange"), (3, "red")]))
        .sort_by([TableSortByFieldState().display_name("Value").desc(True)])
    )


def panels(s: DashboardSettings) -> list[Any]:
    """Counts per level, the units and their items, the checks, the units over time."""
    units = _table(
        "Units on the ladder",
        _max("unit_level", "unit"),
        "The highest current level of each unit's checks, tasks, project nodes and "
        "at-least-one-per-period rules.",
        s,
    ).mappings([level_mapping(s)])
    items = _table(
        "Items per unit and level",
        _max("items", "unit, level"),
        "How many of the unit's items stand at each level now (the value is a count).",
        s,
    ).thresholds(thresholds([(None, "transparent")]))
    checks = _table(
        "Checks on the ladder",
        _max("level", "indicator, region, unit"),
        "Each progress check's current level, by the unit answering for it.",
        s,
    ).mappings([level_mapping(s)])
    over_time = (
        timeseries.Panel()
        .title("Level by unit")
        .datasource(DS)
        .height(10)
        .span(12)
        .min(0)
        .max(3)
        .with_target(query(_max("unit_level", "unit"), "{{unit}}"))
    )
    return [*_counts(s), units, items, checks, over_time]


def escalations_dashboard(s: DashboardSettings | None = None) -> Dashboard:
    """Who is named (通报), summoned (约谈) or held to account (问责), and for what."""
    s = s or DashboardSettings()
    return numbered(kpiwatch_dashboard("kpiwatch escalations · 通报 约谈 问责", UID, s), panels(s))
