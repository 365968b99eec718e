"""Grafana dashboards and provisioning files, built with grafana-foundation-sdk's models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders.dashboard import (
    Dashboard,
    DatasourceVariable,
    QueryVariable,
    ThresholdsConfig,
)
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from ingest.files import write_atomic

DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
STATUS_COLOURS = {
    "on_track": ("蓝 on track", "blue"),
    "at_risk": ("黄 at risk", "yellow"),
    "behind": ("红 behind", "red"),
    "no_data": ("no data", "gray"),
}


def _q(expr: str, legend: str = "", instant: bool = False, ref: str = "A") -> prometheus.Dataquery:
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DS)
    if legend:
        q = q.legend_format(legend)
    return q.instant().format(PromQueryFormat.TABLE) if instant else q


def _ds_variable() -> DatasourceVariable:
    return DatasourceVariable("datasource").label("Prometheus").type("prometheus")


def _status_mapping() -> ValueMap:
    return ValueMap(
        options={
            k: ValueMappingResult(text=text, color=colour, index=i)
            for i, (k, (text, colour)) in enumerate(STATUS_COLOURS.items())
        }
    )


def overview() -> Dashboard:
    """The three-colour board of every indicator × region, worst first, with owner."""
    board = (
        'sort((kpi_attainment_ratio{horizon="year"} or kpi_gap{horizon="year"} + 1)'
        " * on(indicator) group_left(name, owner) kpi_info)"
    )
    status = '(kpi_status{horizon="year"} == 1) * on(indicator) group_left(name, owner) kpi_info'
    d = (
        Dashboard("kpiwatch overview · 三色图")
        .uid("kpiwatch-overview")
        .tags(["kpiwatch"])
        .refresh("5m")
        .time("now-1y", "now")
        .with_variable(_ds_variable())
    )
    for i, (key, (text, colour)) in enumerate(STATUS_COLOURS.items()):
        if key == "no_data":
            continue
        d = d.with_panel(
            stat.Panel()
            .title(text)
            .datasource(DS)
            .height(4)
            .span(8)
            .with_target(
                _q(f'count(kpi_status{{horizon="year",status="{key}"}} == 1) or vector(0)')
            )
            .color_scheme(_fixed(colour))
            .id(i + 1)
        )
    d = d.with_panel(
        table.Panel()
        .title("Status by indicator and region (year)")
        .datasource(DS)
        .height(12)
        .span(24)
        .with_target(_q(status, instant=True))
        .mappings([_status_mapping()])
        .description("One row per indicator × region whose year check is in that status.")
    )
    return d.with_panel(
        table.Panel()
        .title("Attainment, worst first (growth: 1 + gap in pp)")
        .datasource(DS)
        .height(12)
        .span(24)
        .with_target(_q(board, instant=True))
        .unit("percentunit")
        .thresholds(_thresholds([(None, "red"), (0.8, "yellow"), (1.0, "blue")]))
    )


def indicator() -> Dashboard:
    """One indicator in one region: actual, pace, target, forecast fan, P(meet), rate."""
    sel = 'indicator="$indicator",region="$region"'
    d = (
        Dashboard("kpiwatch indicator · 挂图作战")
        .uid("kpiwatch-indicator")
        .tags(["kpiwatch"])
        .refresh("5m")
        .time("now-2y", "now")
        .with_variable(_ds_variable())
        .with_variable(
            QueryVariable("indicator")
            .label("Indicator")
            .datasource(DS)
            .query("label_values(kpi_info, indicator)")
        )
        .with_variable(
            QueryVariable("region")
            .label("Region")
            .datasource(DS)
            .query('label_values(kpi_actual{indicator="$indicator"}, region)')
        )
        .with_variable(
            QueryVariable("horizon")
            .label("Horizon")
            .datasource(DS)
            .query('label_values(kpi_actual{indicator="$indicator"}, horizon)')
        )
    )
    hsel = f'{sel},horizon="$horizon"'
    d = d.with_panel(
        timeseries.Panel()
        .title("Actual vs pace vs target")
        .datasource(DS)
        .height(10)
        .span(16)
        .with_target(_q(f"kpi_actual{{{hsel}}}", "actual"))
        .with_target(_q(f"kpi_pace_target{{{hsel}}}", "pace", ref="B"))
        .with_target(_q(f"kpi_target{{{hsel}}}", "target", ref="C"))
    )
    d = d.with_panel(
        stat.Panel()
        .title("Status")
        .datasource(DS)
        .height(5)
        .span(8)
        .with_target(_q(f"kpi_status{{{hsel}}} == 1", "{{status}}"))
        .description("蓝 on track · 黄 at risk · 红 behind")
    )
    d = d.with_panel(
        stat.Panel()
        .title("Required per remaining period (倒排)")
        .datasource(DS)
        .height(5)
        .span(8)
        .with_target(_q(f"kpi_required_rate{{{hsel}}}"))
    )
    d = d.with_panel(
        timeseries.Panel()
        .title("Forecast with 80 % and 95 % intervals")
        .datasource(DS)
        .height(10)
        .span(16)
        .with_target(_q(f"kpi_forecast{{{hsel}}}", "forecast"))
        .with_target(_q(f'kpi_forecast_lower{{{hsel},interval="80"}}', "lower 80 %", ref="B"))
        .with_target(_q(f'kpi_forecast_upper{{{hsel},interval="80"}}', "upper 80 %", ref="C"))
        .with_target(_q(f'kpi_forecast_lower{{{hsel},interval="95"}}', "lower 95 %", ref="D"))
        .with_target(_q(f'kpi_forecast_upper{{{hsel},interval="95"}}', "upper 95 %", ref="E"))
        .with_target(_q(f"kpi_target{{{hsel}}}", "target", ref="F"))
    )
    return d.with_panel(
        stat.Panel()
        .title("Probability of meeting the target")
        .datasource(DS)
        .height(10)
        .span(8)
        .unit("percentunit")
        .min(0)
        .max(1)
        .with_target(_q(f"kpi_target_met_probability{{{hsel}}}"))
        .thresholds(_thresholds([(None, "red"), (0.2, "yellow"), (0.5, "blue")]))
    )


def _thresholds(steps: list[tuple[float | None, str]]) -> ThresholdsConfig:
    return (
        ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=v, color=c) for v, c in steps])
    )


def _fixed(colour: str) -> Any:
    from grafana_foundation_sdk.builders.dashboard import FieldColor
    from grafana_foundation_sdk.models.dashboard import FieldColorModeId

    return FieldColor().mode(FieldColorModeId.FIXED).fixed_color(colour)


def dashboard_json(d: Dashboard) -> str:
    """The dashboard as the JSON Grafana reads."""
    return json.dumps(d.build(), cls=JSONEncoder, indent=2, ensure_ascii=False, sort_keys=True)


def write_dashboards(out: Path, prometheus_url: str, dashboards_path: str) -> list[Path]:
    """Write both dashboards and a provisioning folder a stock Grafana loads."""
    files: dict[Path, str] = {
        out / "dashboards" / "kpiwatch-overview.json": dashboard_json(overview()),
        out / "dashboards" / "kpiwatch-indicator.json": dashboard_json(indicator()),
        out / "provisioning" / "datasources" / "kpiwatch.yml": yaml.safe_dump(
            {
                "apiVersion": 1,
                "datasources": [
                    {
                        "name": "Prometheus",
                        "type": "prometheus",
                        "uid": "prometheus",
                        "access": "proxy",
                        "url": prometheus_url,
                        "isDefault": True,
                    }
                ],
            }
        ),
        out / "provisioning" / "dashboards" / "kpiwatch.yml": yaml.safe_dump(
            {
                "apiVersion": 1,
                "providers": [
                    {
                        "name": "kpiwatch",
                        "folder": "kpiwatch",
                        "type": "file",
                        "disableDeletion": False,
                        "allowUiUpdates": True,
                        "options": {"path": dashboards_path},
                    }
                ],
            }
        ),
    }
    for path, text in files.items():
        write_atomic(path, text)
    return list(files)
