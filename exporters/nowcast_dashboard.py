"""The nowcast dashboard: each open quarter's nowcast across the quarter, with its bands
and target, and the news bars (what the latest releases of each indicator did to it)."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import bargauge, stat, timeseries
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

UID = "kpiwatch-nowcast"
P = "kpiwatch_kpi_nowcast_"
ITEM = 'indicator=~"$indicator",region=~"$region"'


def _open(metric: str, extra: str = "") -> str:
    """The open quarter's series, in percent, over the chosen instances."""
    sel = f'{LIVE},{ITEM},quarter="open"{extra}'
    return f"100 * max by (indicator, region) ({P}{metric}{{{sel}}})"


def panels() -> list[Any]:
    """The nowcast's path with 80/95 % bands and the target, P(meet), the news bars."""
    path = timeseries.Panel().title("Nowcast of the open quarter (%), 80 / 95 % bands")
    for ref, (metric, extra, legend) in zip(
        "ABCDEF",
        (
            ("growth_ratio", "", "nowcast {{region}}"),
            ("growth_lower_ratio", ',interval="80"', "80 % low"),
            ("growth_upper_ratio", ',interval="80"', "80 % high"),
            ("growth_lower_ratio", ',interval="95"', "95 % low"),
            ("growth_upper_ratio", ',interval="95"', "95 % high"),
            ("growth_target_ratio", "", "target"),
        ),
        strict=True,
    ):
        path = path.with_target(query(_open(metric, extra), legend, ref=ref))
    meet = (
        stat.Panel()
        .title("P(meet the quarter's target)")
        .unit("percentunit")
        .with_target(
            query(f'max by (region) ({P}target_met_probability{{{LIVE},{ITEM},quarter="open"}})')
        )
    )
    news = (
        bargauge.Panel()
        .title("News: what the latest releases did to the nowcast (pp)")
        .with_target(
            query(
                f"100 * max by (series) ({P}news_impact_ratio{{{LIVE},{ITEM}}})",
                "{{series}}",
                table=False,
            ).instant()
        )
    )
    return [
        path.datasource(DS).height(10).span(16),
        meet.datasource(DS).height(10).span(8),
        news.datasource(DS).height(8).span(24),
    ]


def nowcast_dashboard(s: DashboardSettings | None = None) -> Dashboard:
    """The nowcast across the quarter and the news that moved it."""
    s = s or DashboardSettings()
    variables = [
        query_variable(
            "indicator", "Indicator", f"label_values({P}growth_ratio, indicator)", all_value=".*"
        ),
        query_variable(
            "region", "Region", f"label_values({P}growth_ratio, region)", all_value=".*"
        ),
    ]
    board = kpiwatch_dashboard("kpiwatch nowcast", UID, s, since="now-90d", variables=variables)
    return numbered(board, panels())
