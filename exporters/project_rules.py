"""Alert rules on the project registers' metrics, with their promtool unit tests.

Two alerts, by register and region (never by project: the board names the projects):
nodes overdue by more than `overdue_days` (a band edge of the exported bands), and
projects stuck at one node longer than their register's stuck_after_days. Where targets
are set on register counts, a third pages when a count is behind (红) at the 旬 in
progress: the year and quarter alerts of the targets judge months, and a 旬 behind
would otherwise wait for its month's end to be seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exporters.project_collector import BANDS
from exporters.rule_tests import dekad_check_series, minutes
from exporters.rules import latest, write_yaml_files

RULES_FILE = "kpiwatch-project-rules.yml"
TESTS_FILE = "kpiwatch-project-rules.test.yml"


@dataclass(frozen=True)
class ProjectAlertSettings:
    """How late is too late, and how long a condition must hold before it pages."""

    overdue_days: int = 30  # 10, 30 or 90: the bands' edges
    overdue_for: str = "1h"
    stuck_for: str = "1h"
    count_targets: bool = False  # targets on register counts: alert per 旬 too
    dekad_for: str = "1h"
    scrape_gap: str = "10m"
    # indicators published per 旬: their own alert (exporters.dekad_rules), not this one
    released: tuple[str, ...] = ()

    def late_bands(self) -> list[str]:
        """The bands of days late beyond overdue_days."""
        edges = [edge for _, edge in BANDS]
        if self.overdue_days not in edges:
            shown = ", ".join(str(e) for e in edges if e is not None)
            raise ValueError(f"overdue_days must be one of {shown}")
        first = edges.index(self.overdue_days) + 1
        return [band for band, _ in BANDS[first:]]


def _overdue_expr(s: ProjectAlertSettings) -> str:
    bands = "|".join(b.replace("+", "\\\\+") for b in s.late_bands())
    # two kpiwatch instances export the same counts: take one before summing the bands
    return (
        "sum by (job, register, region, node) (max without (instance) "
        f'(kpiwatch_project_overdue_nodes{{days_late=~"{bands}"}})) > 0'
    )


def rule_groups(s: ProjectAlertSettings) -> dict[str, Any]:
    """The rule file's content."""
    overdue = {
        "alert": "ProjectNodesOverdue",
        "expr": _overdue_expr(s),
        "for": s.overdue_for,
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": f"{{{{ $labels.node }}}} nodes overdue by more than {s.overdue_days} "
            "days in {{ $labels.region }} ({{ $labels.register }})",
            "description": "{{ $value }} node(s); `kpiwatch projects --region "
            "{{ $labels.region }}` lists them by responsible unit.",
        },
    }
    stuck = {
        "alert": "ProjectsStuck",
        "expr": "sum by (job, register, region) "
        "(max without (instance) (kpiwatch_project_stuck)) > 0",
        "for": s.stuck_for,
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": "projects stuck at one node in {{ $labels.region }} "
            "({{ $labels.register }})",
            "description": "{{ $value }} project(s) waiting longer than the register's "
            "stuck_after_days; `kpiwatch projects` lists them.",
        },
    }
    rules = [overdue, stuck, _dekad_rule(s)] if s.count_targets else [overdue, stuck]
    return {"groups": [{"name": "kpiwatch-projects", "rules": rules}]}


DEKAD_ITEM = "job, indicator, region, year"


def _dekad_expr(s: ProjectAlertSettings) -> str:
    """The attainment of each count behind at a 旬 that has not ended (one per HA pair)."""

    counts = f',indicator!~"{"|".join(sorted(s.released))}"' if s.released else ""

    def dekad(metric: str) -> str:
        return latest(metric.replace("}", counts + "}"), s.scrape_gap, DEKAD_ITEM)

    behind = dekad('kpiwatch_kpi_pace_status{horizon="dekad",status="behind"}')
    live = dekad('kpiwatch_kpi_horizon_end_timestamp_seconds{horizon="dekad"}')
    attainment = dekad('kpiwatch_kpi_attainment_ratio{horizon="dekad"}')
    return (
        f"{attainment}\n"
        f"and on({DEKAD_ITEM}) ({behind} == 1)\n"
        f"and on({DEKAD_ITEM}) ({live} > time())"
    )


def _dekad_rule(s: ProjectAlertSettings) -> dict[str, Any]:
    return {
        "alert": "ProjectCountBehindDekad",
        "expr": _dekad_expr(s),
        "for": s.dekad_for,
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": "{{ $labels.indicator }} in {{ $labels.region }} is behind pace (红) "
            "in the 旬 in progress",
            "description": "{{ $value | humanizePercentage }} of the pace due by now; "
            "`kpiwatch status --horizon dekad` shows the count against its pace.",
        },
    }


def unit_tests(s: ProjectAlertSettings) -> dict[str, Any]:
    """promtool unit tests: a late band fires, an early band and a short spell do not."""
    late, early = s.late_bands()[0], BANDS[0][0]
    metric = "kpiwatch_project_overdue_nodes"
    series = []
    for instance in ("a", "b"):  # an HA pair: the counts are not doubled
        labels = f'job="kpiwatch",instance="{instance}",register="major",region="ecopark"'
        series += [
            {"series": f'{metric}{{{labels},node="land",days_late="{late}"}}', "values": "2x180"},
            {
                "series": f'{metric}{{{labels},node="permit",days_late="{early}"}}',
                "values": "5x180",
            },
            {"series": f"kpiwatch_project_stuck{{{labels}}}", "values": "0x60 3x120"},
        ]
        series += _dekad_series(s, instance) if s.count_targets else []
    return {
        "rule_files": [RULES_FILE],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": _expected(s)}],
    }


def _expected(s: ProjectAlertSettings) -> list[dict[str, Any]]:
    """Nothing in the first hour; then the late land node, and later the stuck projects."""
    base = {"severity": "warning", "job": "kpiwatch", "register": "major", "region": "ecopark"}
    overdue = {
        "exp_labels": {**base, "node": "land"},
        "exp_annotations": {
            "summary": f"land nodes overdue by more than {s.overdue_days} days in ecopark (major)",
            "description": "2 node(s); `kpiwatch projects --region ecopark` lists them by "
            "responsible unit.",
        },
    }
    stuck = {
        "exp_labels": base,
        "exp_annotations": {
            "summary": "projects stuck at one node in ecopark (major)",
            "description": "3 project(s) waiting longer than the register's stuck_after_days; "
            "`kpiwatch projects` lists them.",
        },
    }
    return [
        {"eval_time": "30m", "alertname": "ProjectNodesOverdue", "exp_alerts": []},
        {"eval_time": "90m", "alertname": "ProjectNodesOverdue", "exp_alerts": [overdue]},
        {"eval_time": "90m", "alertname": "ProjectsStuck", "exp_alerts": []},
        {"eval_time": "150m", "alertname": "ProjectsStuck", "exp_alerts": [stuck]},
        *(_dekad_expected(s) if s.count_targets else []),
    ]


def _dekad_series(s: ProjectAlertSettings, instance: str) -> list[dict[str, str]]:
    """Two counts behind at their 旬: west_coast's 旬 runs for two days, ecopark's ends a
    quarter of an hour after dekad_for; dongjiakou's is on track."""
    wait = minutes(s.dekad_for)
    n, ended = wait + 60, (wait + 15) * 60
    out = []
    for region, ends, behind in (
        ("west_coast", 86400 * 2, 1),
        ("ecopark", ended, 1),
        ("dongjiakou", 86400, 0),
    ):
        values = {"attainment_ratio": 0.4, "pace_status": behind}
        values["horizon_end_timestamp_seconds"] = ends
        out += dekad_check_series(instance, "projects_started", region, values, n)
    return out


def _dekad_expected(s: ProjectAlertSettings) -> list[dict[str, Any]]:
    """Nothing before dekad_for; then west_coast alone (ecopark's 旬 has ended)."""
    wait = minutes(s.dekad_for)
    behind = {
        "exp_labels": {
            "severity": "warning",
            "job": "kpiwatch",
            "indicator": "projects_started",
            "region": "west_coast",
            "year": "2026",
        },
        "exp_annotations": {
            "summary": "projects_started in west_coast is behind pace (红) in the 旬 in progress",
            "description": "40% of the pace due by now; `kpiwatch status --horizon dekad` "
            "shows the count against its pace.",
        },
    }
    name = "ProjectCountBehindDekad"
    early = [{"eval_time": f"{wait // 2}m", "alertname": name, "exp_alerts": []}] if wait else []
    return [*early, {"eval_time": f"{wait + 30}m", "alertname": name, "exp_alerts": [behind]}]


def write_rules(out: Path, s: ProjectAlertSettings | None = None) -> list[Path]:
    """Write the project rule file and its unit tests into `out`."""
    settings = s or ProjectAlertSettings()
    files = {out / RULES_FILE: rule_groups(settings), out / TESTS_FILE: unit_tests(settings)}
    return write_yaml_files(files)
