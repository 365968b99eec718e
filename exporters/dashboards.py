"""The KPI dashboards (overview board and one indicator), built with grafana-foundation-sdk."""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders.common import ReduceDataOptions, TableSortByFieldState
from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BigValueColorMode,
    BigValueTextMode,
    LineInterpolation,
    TableColoredBackgroundCellOptions,
)
from grafana_foundation_sdk.models.dashboard import (
    DataTransformerConfig,
    ValueMap,
    ValueMappingResult,
)

from exporters.panels import (
    DS,
    KPI,
    LIVE,
    PERCENT,
    STATUS_TEXT,
    DashboardSettings,
    Steps,
    cell_steps,
    custom_variable,
    figures_mapping,
    fixed_colour,
    kpiwatch_dashboard,
    level,
    numbered,
    pp_steps,
    probability_steps,
    query,
    query_variable,
    ratio_steps,
    status_code,
    status_mapping,
    thresholds,
    with_info,
)


def _last() -> ReduceDataOptions:
    return ReduceDataOptions().calcs(["lastNotNull"]).values(False)


def _status_counts(s: DashboardSettings) -> list[Any]:
    """One stat per colour: how many checks of the horizon are in it."""
    panels = []
    for status in ("on_track", "at_risk", "behind"):
        expr = (
            "count(max without (job, instance) "
            f'({KPI}status{{{LIVE},horizon="$horizon",status="{status}"}} == 1)) or vector(0)'
        )
        colour = {"on_track": "blue", "at_risk": "yellow", "behind": "red"}[status]
        panels.append(
            stat.Panel()
            .title(f"{s.labels.get(status, '')} {STATUS_TEXT[status]}".strip())
            .datasource(DS)
            .height(4)
            .span(8)
            .with_target(query(expr))
            .color_scheme(fixed_colour(colour))
            .reduce_options(_last())
        )
    return panels


COLUMNS = {
    "name": "Indicator",
    "region": "Region",
    "year": "Year",
    "owner": "Owner",
    "illustrative": "Figures",
}


def _organize(hidden: tuple[str, ...], names: dict[str, str]) -> DataTransformerConfig:
    """A table's columns: some hidden, the rest renamed for people."""
    return DataTransformerConfig(
        id_val="organize",
        options={"excludeByName": dict.fromkeys(hidden, True), "renameByName": names},
    )


def _table(title: str, expr: str, span: int, description: str, *maps: ValueMap) -> Any:
    """One row per check: name, region, year, owner, figures and a coloured value."""
    joined = f"max without (job, instance) ({with_info(expr)})"
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DS)
        .height(12)
        .span(span)
        .with_target(query(joined, table=True))
        .with_transformation(_organize(("Time", "horizon"), COLUMNS))
        .cell_options(TableColoredBackgroundCellOptions())
        .mappings([*maps, figures_mapping()])
    )


def _measure(title: str, expr: str, unit: str, steps: Steps, description: str) -> Any:
    """A table of one measure in its unit, coloured by its thresholds, lowest first."""
    return (
        _table(title, expr, 8, description)
        .unit(unit)
        .thresholds(thresholds(cell_steps(steps)))
        .sort_by([TableSortByFieldState().display_name("Value")])
    )


def _tables(s: DashboardSettings) -> list[Any]:
    """Status, attainment (ratio), gap (percentage points) and P(meet), each in its unit."""
    sel = f'{LIVE},horizon="$horizon"'
    ratio, pp, prob = ratio_steps(s), pp_steps(s), probability_steps(s)
    status = (
        _table("Status", status_code(sel), 24, "Every check, worst first.", status_mapping(s))
        .thresholds(thresholds([(None, "transparent")]))
        .sort_by([TableSortByFieldState().display_name("Value").desc(True)])
    )
    return [
        status,
        _measure(
            "Attainment: actual ÷ pace (flows and stocks)",
            f"{KPI}attainment_ratio{{{sel}}}",
            "percentunit",
            ratio,
            f"Red below {ratio[1][0]:.0%}, yellow below {ratio[2][0]:.0%} of pace.",
        ),
        _measure(
            "Gap to target in percentage points (growth rates)",
            f"{PERCENT} * {KPI}growth_gap_ratio{{{sel}}}",
            "suffix: pp",
            pp,
            f"Red below {pp[1][0]:+g} pp, yellow below {pp[2][0]:+g} pp.",
        ),
        _measure(
            "Probability of meeting the target (forecast)",
            f"{KPI}target_met_probability{{{sel}}}",
            "percentunit",
            prob,
            f"Red below {prob[1][0]:.0%}, yellow below {prob[2][0]:.0%}, as the alert rules.",
        ),
    ]


def _release_rows(metric: str) -> str:
    """A release row: the year check carries the month's (or quarter's) staleness and the
    day its next figure is due, the 旬 check the 旬's; a target given only as quarters has
    no year check, its quarter check stands for it."""
    rows = f'{KPI}{metric}{{{LIVE},horizon=~"year|dekad"}}'
    target = "job, instance, indicator, region, year"
    return f'{rows} or on({target}) {KPI}{metric}{{{LIVE},horizon="quarter"}}'


RELEASES = _release_rows("stale")
# Noon of the due day reads as the same date in every time zone from UTC-12 to UTC+11
# (the metric is the end of the day, UTC).
DUE_DAY = f"1000 * (({_release_rows('next_release_due_timestamp_seconds')}) - 43200)"


def _releases() -> Any:
    """Per indicator and region: whether the next figure is late and the day it is due,
    month or quarter releases and 旬 releases in rows of their own."""
    late = ValueMap(
        options={
            "0": ValueMappingResult(text="on time", color="blue", index=0),
            "1": ValueMappingResult(text="late", color="red", index=1),
            "year": ValueMappingResult(text="month or quarter", index=2),
            "dekad": ValueMappingResult(text="旬", index=3),
            "quarter": ValueMappingResult(text="month or quarter", index=4),
        }
    )
    names = {**COLUMNS, "horizon": "Release", "Value #A": "Late", "Value #B": "Next figure due"}
    return (
        table.Panel()
        .title("Next figure due, and late figures (旬, months, quarters)")
        .description(
            "Late: the next figure is past the day it was due, the end of the period after "
            "the newest plus its release lag ([checks] release_lag_days_*); a series without "
            "a figure in its target's year awaits the year's first period."
        )
        .datasource(DS)
        .height(10)
        .span(24)
        .with_target(query(f"max without (job, instance) ({with_info(RELEASES)})", table=True))
        .with_target(
            query(f"max without (job, instance) ({with_info(DUE_DAY)})", ref="B", table=True)
        )
        .with_transformation(DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(_organize(("Time", "illustrative"), names))
        .unit("time:YYYY-MM-DD")
        .cell_options(TableColoredBackgroundCellOptions())
        .thresholds(thresholds([(None, "transparent")]))
        .mappings([late])
        .sort_by([TableSortByFieldState().display_name("Late").desc(True)])
    )


def overview(s: DashboardSettings | None = None) -> Dashboard:
    """The three-colour board of every indicator × region, worst first, with owner."""
    s = s or DashboardSettings()
    horizon = custom_variable("horizon", "Horizon", ["year", "quarter", "month", "dekad"])
    d = kpiwatch_dashboard(
        "kpiwatch overview · 三色图", "kpiwatch-overview", s, since="now-1y", variables=[horizon]
    )
    return numbered(d, [*_status_counts(s), *_tables(s), _releases()])


def _indicator_variables() -> list[Any]:
    has_data = (
        f"kpiwatch_kpi_info{{{LIVE}}} * on(job, instance, indicator) group_left() "
        f"count by (job, instance, indicator) ({KPI}actual{{{LIVE}}} "
        f"or {KPI}growth_actual_ratio{{{LIVE}}})"
    )
    return [
        query_variable(
            "indicator",
            "Indicator",
            f"query_result(max by (indicator, name) ({has_data}))",
            regex='/indicator="(?<value>[^"]+)".*name="(?<text>[^"]*)"/',
        ),
        query_variable(
            "region",
            "Region",
            f'label_values(kpiwatch_kpi_status{{{LIVE},indicator="$indicator"}}, region)',
        ),
        query_variable(
            "horizon",
            "Horizon",
            f'label_values({KPI}status{{{LIVE},indicator="$indicator",region="$region"}}, horizon)',
        ),
    ]


def _indicator_stats(s: DashboardSettings, hsel: str) -> list[Any]:
    def one(title: str, expr: str, legend: str = "", span: int = 5) -> Any:
        return (
            stat.Panel()
            .title(title)
            .datasource(DS)
            .height(5)
            .span(span)
            .with_target(query(f"max without (job, instance) ({expr})", legend))
            .reduce_options(_last())
        )

    owner = f'kpiwatch_kpi_target_info{{{LIVE},indicator="$indicator",region="$region"}}'
    flag = f'kpiwatch_kpi_info{{{LIVE},indicator="$indicator",illustrative='
    figures = f'max without (illustrative) ({flag}"true"}} or {flag}"false"}} * 0)'
    return [
        one("Status", status_code(f"{LIVE},{hsel}"))
        .mappings([status_mapping(s)])
        .color_mode(BigValueColorMode.BACKGROUND)
        .description("蓝 on track · 黄 at risk · 红 behind, by the indicator's thresholds"),
        one(
            "Probability of meeting the target",
            f"{KPI}target_met_probability{{{LIVE},{hsel}}}",
        )
        .unit("percentunit")
        .min(0)
        .max(1)
        .thresholds(thresholds(probability_steps(s))),
        one("Required per remaining period (倒排)", f"kpiwatch_kpi_required_rate{{{LIVE},{hsel}}}"),
        one("Responsible unit", owner, "{{owner}}").text_mode(BigValueTextMode.NAME),
        one("Figures", figures, span=4)
        .mappings([figures_mapping()])
        .color_mode(BigValueColorMode.BACKGROUND)
        .description("Illustrative figures are an example, not published data."),
    ]


def _lines(title: str, span: int, targets: list[tuple[str, str]]) -> Any:
    panel = (
        timeseries.Panel()
        .title(title)
        .datasource(DS)
        .height(10)
        .span(span)
        .line_interpolation(LineInterpolation.STEP_AFTER)
    )
    for i, (expr, legend) in enumerate(targets):
        panel = panel.with_target(query(expr, legend, ref=chr(ord("A") + i)))
    return panel


def indicator(s: DashboardSettings | None = None) -> Dashboard:
    """One indicator in one region: status, actual vs pace vs target, forecast fan."""
    s = s or DashboardSettings()
    d = kpiwatch_dashboard(
        "kpiwatch indicator · 挂图作战",
        "kpiwatch-indicator",
        s,
        since="now-2y",
        variables=_indicator_variables(),
    )
    hsel = 'indicator="$indicator",region="$region",horizon="$horizon"'
    progress = _lines(
        "Actual vs pace vs target (growth rates in %)",
        24,
        [
            (level("actual", hsel, past=True), "actual {{year}}"),
            (level("pace_target", hsel, past=True), "pace {{year}}"),
            (level("target", hsel, past=True), "target {{year}}"),
        ],
    )
    fan = _lines(
        "Forecast with 80 % and 95 % intervals (growth rates in %)",
        24,
        [
            (level("forecast", hsel, past=True), "forecast {{year}}"),
            (level("forecast_lower", f'{hsel},interval="80"', past=True), "lower 80 % {{year}}"),
            (level("forecast_upper", f'{hsel},interval="80"', past=True), "upper 80 % {{year}}"),
            (level("forecast_lower", f'{hsel},interval="95"', past=True), "lower 95 % {{year}}"),
            (level("forecast_upper", f'{hsel},interval="95"', past=True), "upper 95 % {{year}}"),
            (level("target", hsel, past=True), "target {{year}}"),
        ],
    )
    statuses = (
        statetimeline.Panel()
        .title("Status month by month (以月保季、以季保年)")
        .datasource(DS)
        .height(6)
        .span(24)
        .with_target(query(status_code(hsel, past=True), "{{year}}"))
        .mappings([status_mapping(s)])
        .thresholds(thresholds([(None, "transparent")]))
    )
    return numbered(d, [*_indicator_stats(s, hsel), statuses, progress, fan])


def dashboard_json(d: Dashboard) -> str:
    """The dashboard as the JSON Grafana reads."""
    return json.dumps(d.build(), cls=JSONEncoder, indent=2, ensure_ascii=False, sort_keys=True)
