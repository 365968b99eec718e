"""Prometheus alert rules, their promtool unit tests and an Alertmanager route by owner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ingest.files import write_atomic

OWNER_JOIN = " * on(indicator) group_left(name, unit, owner) kpiwatch_kpi_info"


@dataclass(frozen=True)
class AlertSettings:
    """Thresholds and durations the rules are generated from."""

    behind_for: str = "1h"
    forecast_for: str = "1h"
    at_risk_below: float = 0.5
    behind_below: float = 0.2
    stale_for: str = "1h"
    refresh_max_age_hours: float = 3.0
    job: str = "kpiwatch"


def rule_groups(s: AlertSettings) -> dict[str, Any]:
    """The rule file's content."""
    kpi = "{{ $labels.name }} ({{ $labels.indicator }}) in {{ $labels.region }}"
    return {
        "groups": [
            {
                "name": "kpiwatch-targets",
                "rules": [
                    _alert(
                        "KpiBehindPace",
                        '(kpiwatch_kpi_status{status="behind",horizon=~"year|quarter"} == 1)'
                        + OWNER_JOIN,
                        s.behind_for,
                        "critical",
                        f"{kpi} is behind pace (红) for the {{{{ $labels.horizon }}}}",
                        "Actual progress is below the red line of the pace target. "
                        "Responsible unit: {{ $labels.owner }}. "
                        "Run `kpiwatch status` or open the overview dashboard for the numbers.",
                    ),
                    _alert(
                        "KpiForecastShortfall",
                        f"(kpiwatch_kpi_target_met_probability < {s.behind_below}){OWNER_JOIN}",
                        s.forecast_for,
                        "critical",
                        f"{kpi} will likely miss its {{{{ $labels.horizon }}}} target",
                        "The forecast gives only {{ $value | humanizePercentage }} chance "
                        "of meeting the target. Responsible unit: {{ $labels.owner }}.",
                    ),
                    _alert(
                        "KpiForecastAtRisk",
                        f"(kpiwatch_kpi_target_met_probability >= {s.behind_below} and "
                        f"kpiwatch_kpi_target_met_probability < {s.at_risk_below}){OWNER_JOIN}",
                        s.forecast_for,
                        "warning",
                        f"{kpi} may miss its {{{{ $labels.horizon }}}} target",
                        "The forecast gives {{ $value | humanizePercentage }} chance of "
                        "meeting the target. Responsible unit: {{ $labels.owner }}.",
                    ),
                    _alert(
                        "KpiDataStale",
                        f"(max by (indicator, region) (kpiwatch_kpi_stale) == 1){OWNER_JOIN}",
                        s.stale_for,
                        "warning",
                        f"{kpi}: the latest release has not arrived",
                        "The next period's figures are later than the release calendar "
                        "allows. Responsible unit: {{ $labels.owner }}.",
                    ),
                ],
            },
            {
                "name": "kpiwatch-service",
                "rules": [
                    _alert(
                        "KpiwatchRefreshFailing",
                        "increase(kpiwatch_refresh_failures_total[1h]) > 0",
                        "0m",
                        "warning",
                        "kpiwatch refreshes are failing at the {{ $labels.stage }} stage",
                        "The dashboards show the last good data. Look at the kpiwatch log.",
                    ),
                    _alert(
                        "KpiwatchNoRecentRefresh",
                        "time() - kpiwatch_refresh_last_success_timestamp_seconds > "
                        f"{int(s.refresh_max_age_hours * 3600)}",
                        "5m",
                        "warning",
                        f"kpiwatch has not refreshed for {s.refresh_max_age_hours:g} hours",
                        "The figures on the dashboards may be out of date.",
                    ),
                    _alert(
                        "KpiwatchScrapeMissing",
                        f'up{{job="{s.job}"}} == 0 or absent(up{{job="{s.job}"}})',
                        "5m",
                        "critical",
                        "Prometheus cannot scrape kpiwatch",
                        "No KPI figures are arriving: the service is down or unreachable.",
                    ),
                ],
            },
        ]
    }


def _alert(
    name: str, expr: str, for_: str, severity: str, summary: str, desc: str
) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {"summary": summary, "description": desc},
    }


def unit_tests(s: AlertSettings, rule_file: str) -> dict[str, Any]:
    """promtool test rules cases: every alert once firing and once not."""
    info = (
        'kpiwatch_kpi_info{indicator="projects_started",name="重点项目开工",unit="个",'
        'owner="发展改革局"}'
    )
    sel = 'indicator="projects_started",region="west_coast",horizon="year"'
    p_meet = "kpiwatch_kpi_target_met_probability"
    owner = {"name": "重点项目开工", "unit": "个", "owner": "发展改革局"}
    base = {"indicator": "projects_started", "region": "west_coast", **owner}
    wait = "2h"
    service = {  # the service alerts' annotations, with their one template filled in
        r["alert"]: {
            k: v.replace("{{ $labels.stage }}", "checks") for k, v in r["annotations"].items()
        }
        for r in rule_groups(s)["groups"][1]["rules"]
    }
    lo = round(s.behind_below / 2, 3)
    mid = round((s.behind_below + s.at_risk_below) / 2, 3)
    hi = round(min(1.0, s.at_risk_below + 0.2), 3)
    return {
        "rule_files": [rule_file],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": info, "values": "1x200"},
                    {"series": f'kpiwatch_kpi_status{{{sel},status="behind"}}', "values": "1x200"},
                    {
                        "series": f"kpiwatch_kpi_status{{{sel.replace('year', 'month')},"
                        'status="behind"}',
                        "values": "1x200",
                    },
                    {"series": f"{p_meet}{{{sel}}}", "values": f"{lo}x200"},
                    {"series": f"kpiwatch_kpi_stale{{{sel}}}", "values": "1x200"},
                ],
                "alert_rule_test": [
                    {
                        "eval_time": wait,
                        "alertname": "KpiBehindPace",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    **base,
                                    "horizon": "year",
                                    "status": "behind",
                                    "severity": "critical",
                                }
                            }
                            | _annotations("KpiBehindPace", "year", None)
                        ],
                    },
                    {
                        "eval_time": wait,
                        "alertname": "KpiForecastShortfall",
                        "exp_alerts": [
                            {"exp_labels": {**base, "horizon": "year", "severity": "critical"}}
                            | _annotations("KpiForecastShortfall", "year", lo)
                        ],
                    },
                    {"eval_time": wait, "alertname": "KpiForecastAtRisk", "exp_alerts": []},
                    {
                        "eval_time": wait,
                        "alertname": "KpiDataStale",
                        "exp_alerts": [
                            {"exp_labels": {**base, "severity": "warning"}}
                            | _annotations("KpiDataStale", None, None)
                        ],
                    },
                ],
            },
            {
                "interval": "1m",
                "input_series": [
                    {"series": info, "values": "1x200"},
                    {"series": f'kpiwatch_kpi_status{{{sel},status="behind"}}', "values": "0x200"},
                    {"series": f"{p_meet}{{{sel}}}", "values": f"{mid}x200"},
                    {"series": f"kpiwatch_kpi_stale{{{sel}}}", "values": "0x200"},
                ],
                "alert_rule_test": [
                    {"eval_time": wait, "alertname": "KpiBehindPace", "exp_alerts": []},
                    {"eval_time": wait, "alertname": "KpiForecastShortfall", "exp_alerts": []},
                    {
                        "eval_time": wait,
                        "alertname": "KpiForecastAtRisk",
                        "exp_alerts": [
                            {"exp_labels": {**base, "horizon": "year", "severity": "warning"}}
                            | _annotations("KpiForecastAtRisk", "year", mid)
                        ],
                    },
                    {"eval_time": wait, "alertname": "KpiDataStale", "exp_alerts": []},
                ],
            },
            {
                "interval": "1m",
                "input_series": [
                    {"series": f"{p_meet}{{{sel}}}", "values": f"{hi}x200"},
                    {
                        "series": 'kpiwatch_refresh_failures_total{job="kpiwatch",stage="checks"}',
                        "values": "0x100 1x100",
                    },
                    {
                        "series": 'kpiwatch_refresh_last_success_timestamp_seconds{job="kpiwatch"}',
                        "values": "0x200",
                    },
                    {"series": 'up{job="kpiwatch"}', "values": "1x100 0x100"},
                ],
                "alert_rule_test": [
                    {"eval_time": "50m", "alertname": "KpiwatchRefreshFailing", "exp_alerts": []},
                    {"eval_time": "50m", "alertname": "KpiwatchScrapeMissing", "exp_alerts": []},
                    {"eval_time": "50m", "alertname": "KpiwatchNoRecentRefresh", "exp_alerts": []},
                    {
                        "eval_time": "120m",
                        "alertname": "KpiwatchRefreshFailing",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "job": "kpiwatch",
                                    "stage": "checks",
                                    "severity": "warning",
                                },
                                "exp_annotations": service["KpiwatchRefreshFailing"],
                            }
                        ],
                    },
                    {
                        "eval_time": "120m",
                        "alertname": "KpiwatchScrapeMissing",
                        "exp_alerts": [
                            {
                                "exp_labels": {"job": "kpiwatch", "severity": "critical"},
                                "exp_annotations": service["KpiwatchScrapeMissing"],
                            }
                        ],
                    },
                    {
                        "eval_time": f"{int(s.refresh_max_age_hours * 60) + 10}m",
                        "alertname": "KpiwatchNoRecentRefresh",
                        "exp_alerts": [
                            {
                                "exp_labels": {"job": "kpiwatch", "severity": "warning"},
                                "exp_annotations": service["KpiwatchNoRecentRefresh"],
                            }
                        ],
                    },
                    {"eval_time": "120m", "alertname": "KpiForecastAtRisk", "exp_alerts": []},
                ],
            },
        ],
    }


def _annotations(alert: str, horizon: str | None, value: float | None) -> dict[str, Any]:
    """Expected annotations, rendered the way Prometheus renders the templates."""
    kpi = "重点项目开工 (projects_started) in west_coast"
    pct = f"{value * 100:g}%" if value is not None else ""
    texts = {
        "KpiBehindPace": (
            f"{kpi} is behind pace (红) for the {horizon}",
            "Actual progress is below the red line of the pace target. Responsible unit: "
            "发展改革局. Run `kpiwatch status` or open the overview dashboard for the numbers.",
        ),
        "KpiForecastShortfall": (
            f"{kpi} will likely miss its {horizon} target",
            f"The forecast gives only {pct} chance of meeting the target. "
            "Responsible unit: 发展改革局.",
        ),
        "KpiForecastAtRisk": (
            f"{kpi} may miss its {horizon} target",
            f"The forecast gives {pct} chance of meeting the target. Responsible unit: 发展改革局.",
        ),
        "KpiDataStale": (
            f"{kpi}: the latest release has not arrived",
            "The next period's figures are later than the release calendar allows. "
            "Responsible unit: 发展改革局.",
        ),
    }
    summary, description = texts[alert]
    return {"exp_annotations": {"summary": summary, "description": description}}


def alertmanager_example(owners: list[str]) -> dict[str, Any]:
    """An Alertmanager config routing each responsible unit to a receiver of its own."""
    receivers = [{"name": "kpi-office", "email_configs": [{"to": "kpi-office@example.org"}]}]
    routes = []
    for n, owner in enumerate(sorted(set(o for o in owners if o))):
        name = f"owner-{n + 1}"
        receivers.append({"name": name, "email_configs": [{"to": f"{name}@example.org"}]})
        routes.append({"matchers": [f'owner="{owner}"'], "receiver": name})
    routes.append({"matchers": ['alertname=~"Kpiwatch.*"'], "receiver": "kpi-office"})
    return {
        "route": {"receiver": "kpi-office", "group_by": ["alertname", "owner"], "routes": routes},
        "receivers": receivers,
    }


def write_rules(out: Path, s: AlertSettings, owners: list[str]) -> list[Path]:
    """Write the rule file, its unit tests and the Alertmanager example into `out`."""
    files = {
        out / "kpiwatch-rules.yml": rule_groups(s),
        out / "kpiwatch-rules.test.yml": unit_tests(s, "kpiwatch-rules.yml"),
        out / "alertmanager.example.yml": alertmanager_example(owners),
    }
    for path, content in files.items():
        write_atomic(path, yaml.safe_dump(content, allow_unicode=True, sort_keys=False))
    return list(files)
