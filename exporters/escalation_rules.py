"""Alert rules on the escalation ladder, and their `promtool test rules` unit tests.

One alert per unit and level, with the level's severity: KpiEscalationNotice (通报,
info), KpiEscalationTalk (约谈, warning), KpiEscalationAccountability (问责, critical).
Each carries the unit as `owner`, the label the Alertmanager example routes by; two
kpiwatch instances scraped side by side give one alert (the highest level of any).
KpiEveryPeriodMissed (warning) names an [[every_period]] rule whose latest period ended
without one, with its owner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exporters.rules import write_yaml_files

RULES_FILE = "kpiwatch-escalation-rules.yml"
TESTS_FILE = "kpiwatch-escalation-rules.test.yml"
ALERTS = (
    (1, "KpiEscalationNotice", "info"),
    (2, "KpiEscalationTalk", "warning"),
    (3, "KpiEscalationAccountability", "critical"),
)
DESCRIPTION = (
    "The unit's checks, tasks or project nodes have been behind long enough for {name}: "
    "`SELECT * FROM escalations WHERE current AND unit = '{{{{ $labels.owner }}}}'` "
    "lists them with the date each level was reached."
)


def rule_groups(labels: tuple[str, ...], for_: str = "1h") -> dict[str, Any]:
    """The rule file's content; `labels` names the levels 0..3."""
    rules = []
    for level, alert, severity in ALERTS:
        by_unit = "max by (job, unit) (kpiwatch_escalation_unit_level)"
        rules.append(
            {
                "alert": alert,
                "expr": f'label_replace({by_unit} == {level}, "owner", "$1", "unit", "(.+)")',
                "for": for_,
                "labels": {"severity": severity, "level": str(level)},
                "annotations": {
                    "summary": f"{{{{ $labels.owner }}}} stands at {labels[level]} "
                    f"(escalation level {level})",
                    "description": DESCRIPTION.format(name=labels[level]),
                },
            }
        )
    rules.append(every_period_rule(for_))
    return {"groups": [{"name": "kpiwatch-escalation", "rules": rules}]}


MISSED = "KpiEveryPeriodMissed"
MISSED_SUMMARY = "{rule}: the latest {run} period(s) ended without one"
MISSED_DESCRIPTION = (
    "`SELECT * FROM every_period WHERE rule = '{rule}' ORDER BY period_end` "
    "lists each period of the rule with its count."
)


def every_period_rule(for_: str) -> dict[str, Any]:
    """The alert on an at-least-one-per-period rule whose latest periods had none."""
    run = "max by (job, rule, unit) (kpiwatch_every_period_behind_run)"
    return {
        "alert": MISSED,
        "expr": f'label_replace({run} > 0, "owner", "$1", "unit", "(.+)")',
        "for": for_,
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": MISSED_SUMMARY.format(rule="{{ $labels.rule }}", run="{{ $value }}"),
            "description": MISSED_DESCRIPTION.format(rule="{{ $labels.rule }}"),
        },
    }


def unit_tests(labels: tuple[str, ...]) -> dict[str, Any]:
    """promtool tests: each level fires its own alert, level 0 none; an HA pair one alert
    (evaluated after 4h: a `for` of up to 4h is tested)."""
    units = ("dev", "finance", "housing", "calm")
    series = [
        {
            "series": f'kpiwatch_escalation_unit_level{{job="kpiwatch",instance="{i}",unit="{u}"}}',
            "values": f"{level}x300",
        }
        for i in ("a:1", "b:1")
        for u, level in zip(units, (1, 2, 3, 0), strict=True)
    ]
    cases = [
        _level_case(level, alert, severity, units[level - 1], labels)
        for level, alert, severity in ALERTS
    ]
    missed_series, missed_case = _missed_test()
    return {
        "rule_files": [RULES_FILE],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series + missed_series,
                "alert_rule_test": [*cases, missed_case],
            }
        ],
    }


def _level_case(
    level: int, alert: str, severity: str, unit: str, labels: tuple[str, ...]
) -> dict[str, Any]:
    """The one alert a unit standing at `level` fires."""
    expected = {
        "exp_labels": {
            "severity": severity,
            "level": str(level),
            "owner": unit,
            "unit": unit,
            "job": "kpiwatch",
        },
        "exp_annotations": {
            "summary": f"{unit} stands at {labels[level]} (escalation level {level})",
            "description": DESCRIPTION.format(name=labels[level]).replace(
                "{{ $labels.owner }}", unit
            ),
        },
    }
    return {"eval_time": "4h", "alertname": alert, "exp_alerts": [expected]}


def _missed_test() -> tuple[list[dict[str, str]], dict[str, Any]]:
    """The same every-period rule from both instances (one alert), and a rule whose last
    period had one (none)."""
    series = [
        {
            "series": f'kpiwatch_every_period_behind_run{{job="kpiwatch",instance="{i}",'
            f'rule="{rule}",unit="{unit}"}}',
            "values": f"{run}x300",
        }
        for i in ("a:1", "b:1")
        for rule, unit, run in (("weekly_signing", "invest", 2), ("monthly_starts", "dev", 0))
    ]
    missed = {
        "exp_labels": {
            "severity": "warning",
            "owner": "invest",
            "unit": "invest",
            "rule": "weekly_signing",
            "job": "kpiwatch",
        },
        "exp_annotations": {
            "summary": MISSED_SUMMARY.format(rule="weekly_signing", run=2),
            "description": MISSED_DESCRIPTION.format(rule="weekly_signing"),
        },
    }
    return series, {"eval_time": "4h", "alertname": MISSED, "exp_alerts": [missed]}


def write_rules(out: Path, labels: tuple[str, ...], for_: str = "1h") -> list[Path]:
    """Write the ladder's rule file and its unit tests into `out`."""
    files = {
        out / RULES_FILE: rule_groups(labels, for_),
        out / TESTS_FILE: unit_tests(labels),
    }
    return write_yaml_files(files)
