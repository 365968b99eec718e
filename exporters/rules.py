"""Prometheus alert rules for the targets and the service, generated from config.toml.

Every KPI expression aggregates by the item (`job, indicator, region, horizon, year`),
so two kpiwatch instances scraped under one job (an HA pair, or one host scraped by two
names) give one alert per item instead of a many-to-many error; the metadata join takes
one `kpiwatch_kpi_info` series per indicator for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from exporters import alertmanager, rule_tests
from ingest.files import write_atomic

ITEM = "job, indicator, region, horizon, year"
CHECKED = 'horizon=~"year|quarter"'  # months feed their quarter; they page nobody
DASHBOARD_UID = "kpiwatch-indicator"
HEALTH_UID = "kpiwatch-health"  # the service-health dashboard


@dataclass(frozen=True)
class AlertSettings:
    """Thresholds, durations and links the rules are generated from."""

    behind_for: str = "1h"
    forecast_for: str = "1h"
    stale_for: str = "1h"
    keep_firing_for: str = "1h"
    scrape_gap: str = "10m"
    stale_days_after_end: int = 92
    refresh_max_age_hours: float = 3.0
    job: str = "kpiwatch"
    runbook_url: str = "https://kpiwatch.example.org/README.md"
    grafana_url: str = "http://127.0.0.1:3000"
    at_risk_below: float = 0.5
    behind_below: float = 0.2


def latest(metric: str, scrape_gap: str, item: str = ITEM) -> str:
    """The item's latest sample, bridging missing scrapes (a restart) up to scrape_gap;
    one per HA pair (the max over the instances)."""
    return f"max by ({item}) (last_over_time({metric}[{scrape_gap}]))"


def _latest(s: AlertSettings, metric: str) -> str:
    return latest(metric, s.scrape_gap)


def _live(s: AlertSettings) -> str:
    """Items whose horizon has not ended: an ended horizon's outcome is decided."""
    return f"{_latest(s, 'kpiwatch_kpi_horizon_end_timestamp_seconds')} > time()"


def _behind(s: AlertSettings) -> str:
    selector = 'kpiwatch_kpi_pace_status{status="behind",' + CHECKED + "}"
    return f"{_latest(s, selector)} == 1"


def _p_meet(s: AlertSettings) -> str:
    return _latest(s, f"kpiwatch_kpi_target_met_probability{{{CHECKED}}}")


def _with_info(s: AlertSettings, expr: str) -> str:
    """Add the indicator's metadata and the target's owner, each from one instance."""
    info = f"last_over_time(kpiwatch_kpi_info[{s.scrape_gap}])"
    target = f"last_over_time(kpiwatch_kpi_target_info[{s.scrape_gap}])"
    return (
        f"({expr})\n* on(job, indicator) group_left(name, unit, kind, illustrative) "
        f"topk by (job, indicator) (1, {info})\n"
        "* on(job, indicator, region, year) group_left(owner) "
        f"topk by (job, indicator, region, year) (1, {target})"
    )


def _number(metric: str, fmt: str, scale: str = "", item: str = ITEM) -> str:
    """A template querying one number of the alert's item, or n/a when there is none.

    It reads the latest sample within [GAP] (the scrape gap, filled in per config) so
    the text stays right through a restart, as the alert itself does.
    """
    names = item.split(", ")
    sel = ",".join(f'{n}="%s"' for n in names)
    args = " ".join(f"$labels.{n}" for n in names)
    query = f"max(last_over_time({metric}{{{sel}}}[GAP])){scale}"
    return (
        f"{{{{ with printf `{query}` {args} | query }}}}"
        f"{{{{ . | first | value | {fmt} }}}}{{{{ else }}}}n/a{{{{ end }}}}"
    )


TWO = 'printf "%.2f"'
SIGNED = 'printf "%+.2f"'
PCT = "humanizePercentage"
P_MEET = _number("kpiwatch_kpi_target_met_probability", PCT)
# The item's numbers in words: flows and stocks in their unit, growth rates in percent.
LEVEL_FACTS = (
    f"Actual {_number('kpiwatch_kpi_actual', TWO)} {{{{ $labels.unit }}}} against "
    f"{_number('kpiwatch_kpi_pace_target', TWO)} due by now "
    f"({_number('kpiwatch_kpi_attainment_ratio', PCT)} of pace); the "
    f"{{{{ $labels.horizon }}}} target is {_number('kpiwatch_kpi_target', TWO)}."
)
GROWTH_FACTS = (
    f"Actual {_number('kpiwatch_kpi_growth_actual_ratio', TWO, ' * 100')} % against "
    f"{_number('kpiwatch_kpi_growth_pace_target_ratio', TWO, ' * 100')} % due by now "
    f"({_number('kpiwatch_kpi_growth_gap_ratio', SIGNED, ' * 100')} pp); the "
    f"{{{{ $labels.horizon }}}} target is "
    f"{_number('kpiwatch_kpi_growth_target_ratio', TWO, ' * 100')} %."
)
FACTS = (
    f'{{{{ if eq $labels.kind "growth" }}}}{GROWTH_FACTS}{{{{ else }}}}{LEVEL_FACTS}{{{{ end }}}}'
)
ILLUSTRATIVE = (
    '{{ if eq $labels.illustrative "true" }}Illustrative figures, not published data. {{ end }}'
)
ITEM_NAME = "{{ $labels.name }} ({{ $labels.indicator }}) in {{ $labels.region }}"
HORIZON = "{{ $labels.year }} {{ $labels.horizon }}"
OWNER = "Responsible unit: {{ $labels.owner }}."
STALE = 'kpiwatch_kpi_stale{horizon="year"}'
# a target given only as quarters has no year check: its quarter's flag stands for it
QUARTER_STALE = 'kpiwatch_kpi_stale{horizon="quarter"}'
# A series published per 旬 is late a 旬 (plus the release lag) after its last figure,
# long before its month is: that item (horizon "dekad") pages instead of its year's.
DEKAD_STALE = 'kpiwatch_kpi_stale{horizon="dekad"}'
TARGET = "job, indicator, region, year"
DATA_END = _number(  # the metric holds the first second after the period: show its last day
    "kpiwatch_kpi_data_period_end_timestamp_seconds",
    'toTime).Format "2006-01-02"',
    " - 86400",
    "job, indicator, region",
).replace("{{ . | first | value | toTime", "{{ (. | first | value | toTime")

# The day the item's next figure was due (the metric is the end of that day); the
# sentence is left out where the series has none (a snapshot saved before it was exported).
_DUE_QUERY = (
    "max(last_over_time(kpiwatch_kpi_next_release_due_timestamp_seconds{"
    + ",".join(f'{n}="%s"' for n in ITEM.split(", "))
    + "}[GAP])) - 86400"
)
RELEASE_LATE = (
    f"{{{{ with printf `{_DUE_QUERY}` "
    + " ".join(f"$labels.{n}" for n in ITEM.split(", "))
    + ' | query }}The next {{ if eq $labels.horizon "dekad" }}旬\'s {{ end }}figure was due by '
    '{{ (. | first | value | toTime).Format "2006-01-02" }}. {{ end }}'
)


# alert: severity, summary, description
TARGET_TEXTS = {
    "KpiBehindPace": (
        "critical",
        f"{ITEM_NAME} is behind pace (红) for the {HORIZON}",
        f"Actual progress is below the red line of the pace target. {FACTS} "
        f"P(meet target): {P_MEET}. {OWNER}",
    ),
    "KpiForecastShortfall": (
        "critical",
        f"{ITEM_NAME} will likely miss its {HORIZON} target",
        "Progress is not below the red line, but the forecast gives only "
        f"{{{{ $value | humanizePercentage }}}} chance of meeting the target. {FACTS} {OWNER}",
    ),
    "KpiForecastAtRisk": (
        "warning",
        f"{ITEM_NAME} may miss its {HORIZON} target",
        "Progress is not below the red line, but the forecast gives "
        f"{{{{ $value | humanizePercentage }}}} chance of meeting the target. {FACTS} {OWNER}",
    ),
    "KpiDataStale": (
        "warning",
        f"{ITEM_NAME}: the latest release has not arrived",
        "The next period's figures are later than the release calendar allows; "
        f"forecast alerts for it are held back until they arrive. {RELEASE_LATE}"
        f"Data runs to {DATA_END}. "
        f"{OWNER}",
    ),
}
SERVICE_TEXTS = {
    "KpiwatchRefreshFailing": (
        "warning",
        "kpiwatch has not refreshed successfully for {hours} hours",
        "The dashboards and KPI alerts show the last good data. "
        "`kpiwatch_refresh_failures_total` says at which stage refreshes fail; "
        "the kpiwatch log says why.",
    ),
    "KpiwatchStoreFailing": (
        "critical",
        "kpiwatch cannot use its DuckDB file: {{ $labels.reason }}",
        "The store is {{ $labels.reason }} (corrupt, unreadable, read-only, no space left "
        "or other). kpiwatch serves the last good snapshot; no refresh can succeed until "
        "the file or its disk is repaired. A lock is waited for, not alerted on here.",
    ),
    "KpiwatchConfigReloadFailed": (
        "warning",
        "kpiwatch could not reload its configuration",
        "config.toml or the web config has an error; kpiwatch keeps running with the "
        "previous one. `kpiwatch check-config` names the problem.",
    ),
    "KpiwatchScrapeMissing": (
        "critical",
        "Prometheus cannot scrape kpiwatch",
        "No KPI figures are arriving: the service is down or unreachable.",
    ),
}


def target_rules(s: AlertSettings) -> list[dict[str, Any]]:
    """One alert per cause for each item: behind pace, or on pace but forecast to miss."""
    live, behind, p = _live(s), _behind(s), _p_meet(s)
    forecast = f"and on({ITEM}) ({live})\nunless on({ITEM}) ({behind})"
    dekad_stale = f"{_latest(s, DEKAD_STALE)} == 1"
    late = f"({_latest(s, STALE)}\nor on({TARGET}) {_latest(s, QUARTER_STALE)}) == 1"
    stale = f"({late})\nunless on({TARGET}) ({dekad_stale})\nor {dekad_stale}"
    exprs = {
        "KpiBehindPace": (f"({behind})\nand on({ITEM}) ({live})", s.behind_for),
        "KpiForecastShortfall": (f"({p} < {s.behind_below})\n{forecast}", s.forecast_for),
        "KpiForecastAtRisk": (
            f"({p} >= {s.behind_below} < {s.at_risk_below})\n{forecast}",
            s.forecast_for,
        ),
        "KpiDataStale": (
            f"({stale})\nand on({TARGET}) ({_year_not_long_over(s)})",
            s.stale_for,
        ),
    }
    return [
        _alert(s, name, _with_info(s, expr), for_, *TARGET_TEXTS[name])
        for name, (expr, for_) in exprs.items()
    ]


def _year_not_long_over(s: AlertSettings) -> str:
    """Targets whose year ended less than stale_days_after_end ago: by the year check's
    end, or, for a target without one (given only as quarters), by its quarter's year."""
    ago = f"time() - {s.stale_days_after_end * 86400}"
    end = 'kpiwatch_kpi_horizon_end_timestamp_seconds{horizon="%s"}'
    year_end, quarter_end = _latest(s, end % "year"), _latest(s, end % "quarter")
    # a quarter's end (the first second after it) less a second falls in its year; the
    # year's end (the first second of the next) is after `ago` exactly when that year
    # is not before ago's
    by_quarter = f"year({quarter_end} - 1) >= scalar(year(vector({ago})))"
    return f"{year_end} > {ago}\nor on({TARGET}) ({by_quarter}\nunless on({TARGET}) {year_end})"


def _last_success(s: AlertSettings, age: int) -> str:
    """When each instance last refreshed: the latest success within `age` (it outlives a
    restart, which starts the gauge at 0), else the process start (none since then)."""
    last = f'kpiwatch_refresh_last_success_timestamp_seconds{{job="{s.job}"}}'
    return (
        f"max by (job, instance) (max_over_time({last}[{age}s]) > 0\n"
        f'  or on(job, instance) process_start_time_seconds{{job="{s.job}"}})'
    )


def service_rules(s: AlertSettings) -> list[dict[str, Any]]:
    """The service's own trouble: no recent refresh, a bad store or config, no scrape."""
    age = int(s.refresh_max_age_hours * 3600)
    job = f'job="{s.job}"'
    exprs = {
        "KpiwatchRefreshFailing": (f"time() - {_last_success(s, age)} > {age}", "15m"),
        "KpiwatchStoreFailing": (f'kpiwatch_store_error{{{job},reason!="locked"}} == 1', "5m"),
        "KpiwatchConfigReloadFailed": (
            f"kpiwatch_config_last_reload_successful{{{job}}} == 0",
            "10m",
        ),
        "KpiwatchScrapeMissing": (f"up{{{job}}} == 0 or absent(up{{{job}}})", "5m"),
    }
    rules = []
    for name, (expr, for_) in exprs.items():
        severity, summary, desc = SERVICE_TEXTS[name]
        summary = summary.replace("{hours}", f"{s.refresh_max_age_hours:g}")
        rules.append(_alert(s, name, expr, for_, severity, summary, desc, service=True))
    return rules


def rule_groups(s: AlertSettings) -> dict[str, Any]:
    """The rule file's content."""
    return {
        "groups": [
            {"name": "kpiwatch-targets", "rules": target_rules(s)},
            {"name": "kpiwatch-service", "rules": service_rules(s)},
        ]
    }


def _alert(
    s: AlertSettings,
    name: str,
    expr: str,
    for_: str,
    severity: str,
    summary: str,
    desc: str,
    service: bool = False,
) -> dict[str, Any]:
    if service:
        dashboard = f"{s.grafana_url}/d/{HEALTH_UID}"
    else:
        dashboard = (
            f"{s.grafana_url}/d/{DASHBOARD_UID}"
            "?var-indicator={{ $labels.indicator | urlquery }}"
            "&var-region={{ $labels.region | urlquery }}&var-horizon={{ $labels.horizon }}"
        )
    rule: dict[str, Any] = {"alert": name, "expr": expr, "for": for_}
    if not service:  # a restart or a failed scrape must not resolve a firing KPI alert
        rule["keep_firing_for"] = s.keep_firing_for
    rule["labels"] = {"severity": severity}
    rule["annotations"] = {
        "summary": summary,
        "description": ("" if service else ILLUSTRATIVE)
        + desc.replace("[GAP]", f"[{s.scrape_gap}]"),
        "runbook_url": f"{s.runbook_url}#{name.lower()}",
        "dashboard": dashboard,
    }
    return rule


def write_rules(out: Path, s: AlertSettings, owners: list[str]) -> list[Path]:
    """Write the rule file, its unit tests and the Alertmanager example into `out`."""
    files = {
        out / "kpiwatch-rules.yml": rule_groups(s),
        out / "kpiwatch-rules.test.yml": rule_tests.unit_tests(
            s, "kpiwatch-rules.yml", service_rules(s)
        ),
        out / "alertmanager.example.yml": alertmanager.example(owners),
    }
    for path, content in files.items():
        text = yaml.dump(content, Dumper=_Dumper, allow_unicode=True, sort_keys=False)
        write_atomic(path, text)
    return list(files)


def write_yaml_files(files: dict[Path, Any]) -> list[Path]:
    """Each generated rule or test file as YAML, written whole (Prometheus may be reading)."""
    for path, content in files.items():
        write_atomic(path, yaml.safe_dump(content, allow_unicode=True, sort_keys=False))
    return list(files)


class _Dumper(yaml.SafeDumper):
    """YAML with multi-line expressions as literal blocks, the way people write rules."""


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)
