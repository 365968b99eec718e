"""The ladder's alert rules under promtool, and fired by a real Prometheus scraping kpiwatch."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from exporters.alertmanager import example
from exporters.escalation_rules import RULES_FILE, TESTS_FILE, write_rules
from metrics.ladder import LEVELS
from tests.checks_helpers import pipeline
from tests.service_helpers import free_port, kpiwatch_serve, prometheus, query, ready, wait_for
from tests.test_ladder import TARGET, rows


def promtool(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True)


def test_rules_pass_promtool_check_and_their_unit_tests(tmp_path: Path) -> None:
    write_rules(tmp_path, LEVELS)
    check = promtool(tmp_path, "check", "rules", RULES_FILE)
    assert check.returncode == 0 and "SUCCESS: 4 rules found" in check.stdout, check
    test = promtool(tmp_path, "test", "rules", TESTS_FILE)
    assert test.returncode == 0, test.stdout + test.stderr


# No progress is reported on the task: by 10 May the weeks W15..W18 ended without one.
WEEKLY = """
[[tasks]]
id = "signing"
title = "招商签约"
unit = "zone_a"
deadline = 2026-12-31

[[every_period]]
id = "weekly_signing"
name = "每周有签约入驻"
grain = "week"
start = 2026-04-06
end = 2026-05-31
owner = "发展改革局"
task = "signing"
"""


def test_a_real_prometheus_fires_the_level_of_each_unit(tmp_path: Path) -> None:
    extra = TARGET + '[[targets]]\nindicator = "energy"\nregion = "zone_b"\nyear = 2026\n'
    extra += "annual = 1200\n" + WEEKLY
    data = rows([150, 70, 70, 70]) + "\n" + "2026-01,zone_b,energy,value,130"
    pipeline(
        tmp_path, data, extra.replace('region = "zone_b"', 'region = "zone_b"\nowner = "财政局"')
    )
    write_rules(tmp_path / "rules", LEVELS, for_="0s")
    port = free_port()
    with kpiwatch_serve(tmp_path, port, today="2026-05-10"):
        wait_for(lambda: ready(port), what="/readyz")
        rules = [tmp_path / "rules" / RULES_FILE]
        with prometheus(tmp_path, [f"127.0.0.1:{port}"], rule_files=rules) as prom:
            firing = 'ALERTS{alertstate="firing"}'
            wait_for(lambda: len(query(prom, firing)["result"]) == 3, 90, "three alerts")  # type: ignore[arg-type]
            got = {
                (r["metric"]["alertname"], r["metric"]["owner"], r["metric"]["severity"])
                for r in query(prom, firing)["result"]  # type: ignore[union-attr]
            }
            missed = query(prom, 'ALERTS{alertname="KpiEveryPeriodMissed"}')["result"]
            without = query(prom, "kpiwatch_every_period_without_one")["result"]
    assert got == {
        ("KpiEscalationAccountability", "发展改革局", "critical"),
        ("KpiEscalationNotice", "财政局", "info"),
        ("KpiEveryPeriodMissed", "发展改革局", "warning"),
    }
    assert [r["metric"]["rule"] for r in missed] == ["weekly_signing"]  # type: ignore[index]
    assert [r["value"][1] for r in without] == ["4"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("alert", "receivers"),
    [
        ("KpiEscalationNotice", "owner-1"),
        ("KpiEscalationTalk", "supervision,owner-1"),
        ("KpiEscalationAccountability", "supervision,owner-1"),
        ("KpiEveryPeriodMissed", "owner-1"),  # the rule's owner alone, like 通报
    ],
)
def test_the_alertmanager_example_routes_talks_and_accountability_apart(
    tmp_path: Path, alert: str, receivers: str
) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(example(["发展改革局"]), allow_unicode=True), encoding="utf-8")
    done = subprocess.run(
        [
            "amtool",
            "config",
            "routes",
            "test",
            f"--config.file={path}",
            f"alertname={alert}",
            "owner=发展改革局",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == receivers
