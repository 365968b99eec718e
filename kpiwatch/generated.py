"""The files kpiwatch writes for Prometheus and Grafana: alert rules, dashboards, the
mixin and the backfill, each from the config's thresholds and labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exporters import (
    backfill,
    dashboards,
    dekad_rules,
    escalation_rules,
    grafana,
    mixin,
    nowcast_dashboard,
    nowcast_rules,
    project_dashboard,
    project_rules,
    rules,
    unit_dashboard,
    unit_rules,
)
from exporters.panels import DashboardSettings
from exporters.rules import AlertSettings
from ingest.schema import per_dekad
from kpiwatch.board import read_store
from kpiwatch.config import Config


def alert_settings(config: Config) -> AlertSettings:
    """What the alert rules are generated from: durations, thresholds, the job, links."""
    return AlertSettings(
        **config.alerts.model_dump(),
        grafana_url=config.grafana.url,
        at_risk_below=config.forecasts.at_risk_below,
        behind_below=config.forecasts.behind_below,
    )


def project_alert_settings(config: Config) -> project_rules.ProjectAlertSettings:
    """The registers' alerts; a 旬 alert where a target is set on a register count."""
    counted = {c.indicator for r in config.registers for c in r.counts}
    return project_rules.ProjectAlertSettings(
        count_targets=any(t.indicator in counted for t in config.targets),
        released=tuple(sorted(per_dekad(config.indicators))),
        dekad_for=config.alerts.behind_for,
        scrape_gap=config.alerts.scrape_gap,
    )


def dekad_alert_settings(config: Config) -> dekad_rules.DekadAlertSettings | None:
    """The 旬 alert, where a target is set on an indicator published per 旬."""
    targeted = tuple(sorted({t.indicator for t in config.targets} & per_dekad(config.indicators)))
    if not targeted:
        return None
    return dekad_rules.DekadAlertSettings(
        indicators=targeted,
        release_lag_days=config.checks.release_lag_days_dekad,
        behind_for=config.alerts.behind_for,
        scrape_gap=config.alerts.scrape_gap,
    )


def write_rules(config: Config, out: Path) -> list[Path]:
    """Alert rules from the config's thresholds, with unit tests and a route example."""
    owners = [i.owner for i in config.indicators] + [r.owner or "" for r in config.regions]
    owners += [t.owner or "" for t in config.targets]
    written = rules.write_rules(out, alert_settings(config), owners)
    if config.units or config.tasks or config.task_files:
        written += unit_rules.write_rules(out, config.unit_alerts)
    if config.registers:
        written += project_rules.write_rules(out, project_alert_settings(config))
    if (dekads := dekad_alert_settings(config)) is not None:
        written += dekad_rules.write_rules(out, dekads)
    written += escalation_rules.write_rules(out, config.escalation.labels)
    if config.nowcasts:
        written += nowcast_rules.write_rules(out, alert_settings(config))
    return written


def dashboard_settings(config: Config) -> DashboardSettings:
    """The thresholds and labels the checks and the rules use, for the dashboards' colours."""
    t = config.thresholds
    return DashboardSettings(
        at_risk_below=t.at_risk_below,
        behind_below=t.behind_below,
        growth_at_risk_below_pp=t.growth_at_risk_below_pp,
        growth_behind_below_pp=t.growth_behind_below_pp,
        p_at_risk_below=config.forecasts.at_risk_below,
        p_behind_below=config.forecasts.behind_below,
        refresh_max_age_hours=config.alerts.refresh_max_age_hours,
        job=config.alerts.job,
        labels={str(k): v for k, v in config.checks.labels.items()},
        escalation_labels=config.escalation.labels,
    )


def dashboard_files(config: Config) -> dict[str, str]:
    """Every dashboard this config gets, by file name (for Grafana and for the mixin)."""
    s = dashboard_settings(config)
    files = grafana.dashboard_files(s)
    if config.registers:
        board = project_dashboard.projects_dashboard(s)
        files[f"{project_dashboard.UID}.json"] = dashboards.dashboard_json(board)
    if config.units or config.tasks or config.task_files:
        board = unit_dashboard.units_dashboard(s)
        files[f"{unit_dashboard.UID}.json"] = dashboards.dashboard_json(board)
    if config.nowcasts:
        board = nowcast_dashboard.nowcast_dashboard(s)
        files[f"{nowcast_dashboard.UID}.json"] = dashboards.dashboard_json(board)
    return files


def all_rule_groups(config: Config) -> dict[str, Any]:
    """Every rule group `kpiwatch rules` writes, in one rule file's content."""
    groups = list(rules.rule_groups(alert_settings(config))["groups"])
    if config.units or config.tasks or config.task_files:
        groups += unit_rules.rule_groups(config.unit_alerts)["groups"]
    if config.registers:
        groups += project_rules.rule_groups(project_alert_settings(config))["groups"]
    if (dekads := dekad_alert_settings(config)) is not None:
        groups += dekad_rules.rule_groups(dekads)["groups"]
    groups += escalation_rules.rule_groups(config.escalation.labels)["groups"]
    if config.nowcasts:
        groups += nowcast_rules.rule_groups(alert_settings(config))["groups"]
    return {"groups": groups}


def write_dashboards(config: Config, out: Path) -> list[Path]:
    """Grafana dashboards and provisioning files."""
    g = config.grafana
    return grafana.write_dashboards(
        out, g.prometheus_url, g.dashboards_path, dashboard_files(config)
    )


def write_mixin(config: Config, out: Path) -> list[Path]:
    """The alert rules and dashboards as a monitoring mixin (the same generated content)."""
    return mixin.write_mixin(out, all_rule_groups(config), dashboard_files(config))


def write_backfill(config: Config, path: Path) -> int:
    """The stored history as OpenMetrics with timestamps."""
    with read_store(config) as con:
        return backfill.write_backfill(con, path)
