"""Alert rules on units' lists, and their `promtool test rules` unit tests.

- KpiwatchUnitTasksOverdue: a unit has overdue tasks (one alert per unit, with the count).
- KpiwatchUnitCompletionLow: a unit's completion rate of the tasks due is below
  `[unit_alerts] completion_below`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from exporters.rules import write_yaml_files
from ingest.schema import Strict

RULES_FILE = "kpiwatch-units-rules.yml"
TESTS_FILE = "kpiwatch-units-rules.test.yml"
DURATION = r"^\d+[smhd]$"


class UnitAlerts(Strict):
    """[unit_alerts]: when units' lists page someone."""

    overdue_for: str = Field(default="1h", pattern=DURATION)
    completion_below: float = Field(default=0.8, gt=0, le=1)
    completion_for: str = Field(default="1h", pattern=DURATION)
    # a firing alert outlives a restart or a failed scrape this long
    keep_firing_for: str = Field(default="1h", pattern=DURATION)


def rule_groups(a: UnitAlerts) -> dict[str, Any]:
    """The rule file's content."""
    overdue = {
        "alert": "KpiwatchUnitTasksOverdue",
        "expr": 'max by (unit) (kpiwatch_unit_tasks{status="overdue"}) > 0',
        "for": a.overdue_for,
        "keep_firing_for": a.keep_firing_for,
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": "{{ $labels.unit }} has {{ $value }} overdue task(s)",
            "description": "Tasks past their deadline (办结时限) and not reported done: "
            "`kpiwatch units --unit {{ $labels.unit }}` lists them, worst first.",
        },
    }
    completion = {
        "alert": "KpiwatchUnitCompletionLow",
        "expr": f"max by (unit) (kpiwatch_unit_completion_ratio) < {a.completion_below}",
        "for": a.completion_for,
        "keep_firing_for": a.keep_firing_for,
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": "{{ $labels.unit }} has done {{ $value | humanizePercentage }} "
            f"of its tasks due (below {a.completion_below:.0%})",
            "description": "Completion rate of the tasks whose deadline has passed.",
        },
    }
    return {"groups": [{"name": "kpiwatch-units", "rules": [overdue, completion]}]}


def unit_tests(a: UnitAlerts) -> dict[str, Any]:
    """promtool tests: overdue tasks and low completion fire, done units stay quiet."""
    low = round(a.completion_below / 2, 2)
    series = [
        {"series": 'kpiwatch_unit_tasks{unit="renewal",status="overdue"}', "values": "2x180"},
        {"series": 'kpiwatch_unit_tasks{unit="housing",status="overdue"}', "values": "0x180"},
        {"series": 'kpiwatch_unit_completion_ratio{unit="renewal"}', "values": f"{low}x180"},
        {"series": 'kpiwatch_unit_completion_ratio{unit="housing"}', "values": "1x180"},
    ]
    at = "2h"
    return {
        "rule_files": [RULES_FILE],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    _expect(
                        at,
                        "KpiwatchUnitTasksOverdue",
                        "renewal",
                        "renewal has 2 overdue task(s)",
                        "Tasks past their deadline (办结时限) and not reported done: "
                        "`kpiwatch units --unit renewal` lists them, worst first.",
                    ),
                    _expect(
                        at,
                        "KpiwatchUnitCompletionLow",
                        "renewal",
                        f"renewal has done {low * 100:.4g}% of its tasks due "  # humanizePercentage
                        f"(below {a.completion_below:.0%})",
                        "Completion rate of the tasks whose deadline has passed.",
                    ),
                ],
            }
        ],
    }


def _expect(at: str, name: str, unit: str, summary: str, description: str) -> dict[str, Any]:
    alert = {
        "exp_labels": {"severity": "warning", "unit": unit},
        "exp_annotations": {"summary": summary, "description": description},
    }
    return {"eval_time": at, "alertname": name, "exp_alerts": [alert]}


def write_rules(out: Path, a: UnitAlerts) -> list[Path]:
    """Write the units' rule file and its unit tests into `out`."""
    files = {out / RULES_FILE: rule_groups(a), out / TESTS_FILE: unit_tests(a)}
    return write_yaml_files(files)
