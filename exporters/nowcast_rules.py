"""Alert rules on the nowcast of a quarter's growth, and their `promtool test rules` tests.

- KpiNowcastTargetAtRisk (warning): the open quarter's nowcast meets its growth target
  with a probability below `[forecasts] at_risk_below`.
- KpiNowcastTargetBehind (critical): below `[forecasts] behind_below`.
Both aggregate by (job, indicator, region) and read the latest sample within the scrape
gap, so a restart neither resolves nor duplicates them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exporters.rules import AlertSettings, write_yaml_files

RULES_FILE = "kpiwatch-nowcast-rules.yml"
TESTS_FILE = "kpiwatch-nowcast-rules.test.yml"
P_MEET = "kpiwatch_kpi_nowcast_target_met_probability"
GROWTH = "kpiwatch_kpi_nowcast_growth_ratio"
TARGET = "kpiwatch_kpi_nowcast_growth_target_ratio"
ITEM = "job, indicator, region"


def _latest(s: AlertSettings, metric: str) -> str:
    return f'max by ({ITEM}) (last_over_time({metric}{{quarter="open"}}[{s.scrape_gap}]))'


def _number(s: AlertSettings, metric: str) -> str:
    """A template reading one number of the alert's item (n/a when there is none)."""
    sel = 'job="%s",indicator="%s",region="%s",quarter="open"'
    query = f"max(last_over_time({metric}{{{sel}}}[{s.scrape_gap}]))"
    return (
        f"{{{{ with printf `{query}` $labels.job $labels.indicator $labels.region | query }}}}"
        "{{ . | first | value | humanizePercentage }}{{ else }}n/a{{ end }}"
    )


def _rule(s: AlertSettings, name: str, below: float, severity: str) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": f"{_latest(s, P_MEET)} < {below}",
        "for": s.forecast_for,
        "keep_firing_for": s.keep_firing_for,
        "labels": {"severity": severity},
        "annotations": {
            "summary": "{{ $labels.indicator }} in {{ $labels.region }}: the quarter's "
            "nowcast meets its target with {{ $value | humanizePercentage }} probability",
            "description": f"Nowcast {_number(s, GROWTH)} against a target of "
            f"{_number(s, TARGET)}, from the monthly releases before the quarter's figure "
            "is published; the view nowcast_news says which releases moved it.",
        },
    }


def rule_groups(s: AlertSettings) -> dict[str, Any]:
    """The rule file's content."""
    rules = [
        _rule(s, "KpiNowcastTargetAtRisk", s.at_risk_below, "warning"),
        _rule(s, "KpiNowcastTargetBehind", s.behind_below, "critical"),
    ]
    return {"groups": [{"name": "kpiwatch-nowcasts", "rules": rules}]}


def rule_tests(s: AlertSettings) -> dict[str, Any]:
    """promtool tests: a low P(meet) pages at both levels, a middling one only warns."""
    low, mid = round(s.behind_below / 2, 4), round((s.behind_below + s.at_risk_below) / 2, 4)
    series = []
    for region, p in (("CN", low), ("shandong", mid), ("beijing", 0.9)):
        key = f'job="kpiwatch",indicator="gdp_growth",region="{region}",quarter="open"'
        series += [
            {"series": f"{P_MEET}{{{key}}}", "values": f"{p}x180"},
            {"series": f"{GROWTH}{{{key}}}", "values": "0.048x180"},
            {"series": f"{TARGET}{{{key}}}", "values": "0.05x180"},
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
                    {
                        "eval_time": at,
                        "alertname": "KpiNowcastTargetAtRisk",
                        "exp_alerts": [
                            _expect("CN", low, "warning"),
                            _expect("shandong", mid, "warning"),
                        ],
                    },
                    {
                        "eval_time": at,
                        "alertname": "KpiNowcastTargetBehind",
                        "exp_alerts": [_expect("CN", low, "critical")],
                    },
                ],
            }
        ],
    }


def _expect(region: str, p: float, severity: str) -> dict[str, Any]:
    return {
        "exp_labels": {
            "severity": severity,
            "job": "kpiwatch",
            "indicator": "gdp_growth",
            "region": region,
        },
        "exp_annotations": {
            "summary": f"gdp_growth in {region}: the quarter's nowcast meets its target "
            f"with {p * 100:.4g}% probability",
            "description": "Nowcast 4.8% against a target of 5%, from the monthly releases "
            "before the quarter's figure is published; the view nowcast_news says which "
            "releases moved it.",
        },
    }


def write_rules(out: Path, s: AlertSettings) -> list[Path]:
    """Write the nowcasts' rule file and its unit tests into `out`."""
    files = {out / RULES_FILE: rule_groups(s), out / TESTS_FILE: rule_tests(s)}
    return write_yaml_files(files)
