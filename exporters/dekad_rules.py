"""The alert on targets of indicators published per 旬, with its promtool unit test.

A 旬 figure arrives after its 旬 has ended, so its check cannot page "in the 旬 in
progress" as a register count's does (exporters.project_rules): it pages from the
release of a 旬 behind pace (红) until the next 旬's figure is due
(kpiwatch_kpi_next_release_due_timestamp_seconds: the next 旬's end and the release lag),
when KpiDataStale takes over, unless a later 旬's check replaces it first. Without that
series (a snapshot saved before it was exported) the longest 旬 bounds it instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exporters.rule_tests import dekad_check_series, minutes
from exporters.rules import latest, write_yaml_files

RULES_FILE = "kpiwatch-dekad-rules.yml"
TESTS_FILE = "kpiwatch-dekad-rules.test.yml"
ITEM = "job, indicator, region, year"
LONGEST_DEKAD_DAYS = 11


@dataclass(frozen=True)
class DekadAlertSettings:
    """The 旬 indicators with targets, how long a 旬 stays current, and the durations."""

    indicators: tuple[str, ...] = ("fai_dekad",)
    release_lag_days: int = 5
    behind_for: str = "1h"
    scrape_gap: str = "10m"

    @property
    def matcher(self) -> str:
        """A label matcher naming the 旬 indicators (ids are plain: no escaping needed)."""
        return "|".join(re.escape(i) for i in sorted(self.indicators))

    @property
    def current_seconds(self) -> int:
        """How long after its 旬 a check stays current: the next 旬 and the release lag."""
        return (LONGEST_DEKAD_DAYS + self.release_lag_days) * 86400


def _expr(s: DekadAlertSettings) -> str:
    def dekad(metric: str, extra: str = "") -> str:
        selector = f'{metric}{{horizon="dekad",indicator=~"{s.matcher}"{extra}}}'
        return latest(selector, s.scrape_gap, ITEM)

    behind = dekad("kpiwatch_kpi_pace_status", ',status="behind"')
    end = dekad("kpiwatch_kpi_horizon_end_timestamp_seconds")
    due = dekad("kpiwatch_kpi_next_release_due_timestamp_seconds")
    return (
        f"{dekad('kpiwatch_kpi_attainment_ratio')}\n"
        f"and on({ITEM}) ({behind} == 1)\n"
        f"and on({ITEM}) ({due} > time()\n"
        f"or ({end} > time() - {s.current_seconds} unless on({ITEM}) {due}))"
    )


def rule_groups(s: DekadAlertSettings) -> dict[str, Any]:
    """The rule file's content."""
    rule = {
        "alert": "KpiBehindDekad",
        "expr": _expr(s),
        "for": s.behind_for,
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": "{{ $labels.indicator }} in {{ $labels.region }} is behind pace (红) "
            "at its latest 旬",
            "description": "{{ $value | humanizePercentage }} of the pace due by that 旬's "
            "end; `kpiwatch status --horizon dekad` shows it against its pace.",
        },
    }
    return {"groups": [{"name": "kpiwatch-dekads", "rules": [rule]}]}


def unit_tests(s: DekadAlertSettings) -> dict[str, Any]:
    """promtool unit test: a 旬 behind released a day ago pages after behind_for; one
    whose next figure was due yesterday (KpiDataStale's), one on track, and one without
    a due day that ended longer ago than a 旬 and the lag do not."""
    wait = minutes(s.behind_for)
    n = wait + 60
    day = 86400
    # evaluation starts at 0: a 旬 "ended" (its end timestamp) a day after the epoch
    # is current, its next figure due in 15 days; "late" ended as long ago but the
    # next 8-day 旬's figure was due yesterday; "old" (no due day) ended too long ago
    cases = (
        ("wc", day, 1, 16 * day),
        ("late", -s.current_seconds + day, 1, -day),
        ("old", -s.current_seconds - day, 1, None),
        ("ok", day, 0, 16 * day),
    )
    indicator = sorted(s.indicators)[0]
    series = []
    for instance in ("a", "b"):  # an HA pair: one alert per item
        for region, end, behind, due in cases:
            values = {"attainment_ratio": 0.5, "pace_status": behind}
            values["horizon_end_timestamp_seconds"] = end
            if due is not None:
                values["next_release_due_timestamp_seconds"] = due
            series += dekad_check_series(instance, indicator, region, values, n)
    fired = {
        "exp_labels": {
            "severity": "warning",
            "job": "kpiwatch",
            "indicator": indicator,
            "region": "wc",
            "year": "2026",
        },
        "exp_annotations": {
            "summary": f"{indicator} in wc is behind pace (红) at its latest 旬",
            "description": "50% of the pace due by that 旬's end; `kpiwatch status "
            "--horizon dekad` shows it against its pace.",
        },
    }
    name = "KpiBehindDekad"
    early = [{"eval_time": f"{wait // 2}m", "alertname": name, "exp_alerts": []}] if wait else []
    expected = [*early, {"eval_time": f"{wait + 30}m", "alertname": name, "exp_alerts": [fired]}]
    return {
        "rule_files": [RULES_FILE],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": expected}],
    }


def write_rules(out: Path, s: DekadAlertSettings) -> list[Path]:
    """Write the 旬 rule file and its unit test into `out`."""
    return write_yaml_files({out / RULES_FILE: rule_groups(s), out / TESTS_FILE: unit_tests(s)})
