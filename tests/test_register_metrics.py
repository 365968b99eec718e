"""Register metrics (bounded labels) and their alert rules, with promtool and a real Prometheus."""

from __future__ import annotations

import json
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from exporters.project_collector import ProjectCollector, read_project_data
from exporters.project_rules import ProjectAlertSettings, write_rules
from ingest.store import open_store
from kpiwatch import generated
from tests.register_helpers import load, project_line, register_config, write_register
from tests.service_helpers import free_port, kpiwatch_serve, prometheus, query, ready, wait_for


def _ago(days: int) -> str:
    return (date.today() - timedelta(days=days)).isoformat()


def _lines() -> list[str]:
    """Three projects judged on today: a land node 65 days late (stuck: more than 60), a
    permit 5 days late, a start reported and confirmed."""
    return [
        project_line("P1", signed=(_ago(70), _ago(70)), land=(_ago(65), "")),
        project_line("P2", region="董家口经济区", permit=(_ago(5), "")),
        project_line("P3", investment="50", started=(_ago(3), _ago(2), _ago(1))),
    ]


def _exposition(tmp_path: Path) -> str:
    config = register_config(tmp_path)
    load(config, write_register(tmp_path / "register.csv", _lines()), date.today().isoformat())
    con = open_store(config.store_path, read_only=True)
    try:
        data = read_project_data(con)
    finally:
        con.close()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProjectCollector(data))
    return generate_latest(registry).decode()


def test_metrics_have_bounded_labels_and_pass_promtool(tmp_path: Path) -> None:
    text = _exposition(tmp_path)
    for sample in (
        'kpiwatch_project_overdue_nodes{days_late="31-90",node="land",region="ecopark",'
        'register="major"} 1.0',
        'kpiwatch_project_overdue_nodes{days_late="1-10",node="permit",region="dongjiakou",'
        'register="major"} 1.0',
        'kpiwatch_project_nodes{node="started",region="ecopark",register="major",'
        'state="confirmed"} 1.0',
        'kpiwatch_project_stuck{region="ecopark",register="major"} 1.0',
        'kpiwatch_project_listed{region="ecopark",register="major"} 2.0',
        'kpiwatch_project_start_rate_ratio{region="ecopark",register="major"} 1.0',
        'kpiwatch_project_investment_yuan{region="ecopark",register="major"} 6e+09',
    ):
        assert sample in text
    assert "P1" not in text and "P2" not in text  # never a label per project
    check = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert check.returncode == 0 and not check.stdout.strip(), check.stdout + check.stderr


@pytest.mark.parametrize(
    "days,counts,wait", [(10, False, "1h"), (30, True, "1h"), (90, True, "0s")]
)
def test_rules_pass_promtool_and_their_unit_tests(
    tmp_path: Path, days: int, counts: bool, wait: str
) -> None:
    settings = ProjectAlertSettings(overdue_days=days, count_targets=counts, dekad_for=wait)
    write_rules(tmp_path, settings)
    check = subprocess.run(
        ["promtool", "check", "rules", "kpiwatch-project-rules.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    found = f"SUCCESS: {3 if counts else 2} rules found"
    assert check.returncode == 0 and found in check.stdout, check
    test = subprocess.run(
        ["promtool", "test", "rules", "kpiwatch-project-rules.test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert test.returncode == 0, test.stdout + test.stderr


def test_overdue_days_off_the_band_edges_is_refused() -> None:
    with pytest.raises(ValueError, match="one of 10, 30, 90"):
        ProjectAlertSettings(overdue_days=20).late_bands()


# 600 projects to start this year: the one started three days ago is behind at any 旬
TARGET = f"""
[[targets]]
indicator = "projects_started"
region = "west_coast"
year = {date.today().year}
annual = 600
"""


def test_a_real_prometheus_fires_the_project_alerts(tmp_path: Path) -> None:
    config = register_config(tmp_path, extra=TARGET)
    write_register(tmp_path / "register.csv", _lines())
    out = tmp_path / "rules"
    written = generated.write_rules(config, out)
    assert out / "kpiwatch-project-rules.yml" in written
    rules = out / "kpiwatch-project-rules.yml"
    rules.write_text(rules.read_text().replace("for: 1h", "for: 0s"))
    port = free_port()
    with kpiwatch_serve(tmp_path, port, today=date.today().isoformat()):
        wait_for(lambda: ready(port), 120, "kpiwatch serve")
        with prometheus(tmp_path, [f"127.0.0.1:{port}"], [rules]) as prom:

            def firing() -> set[str]:
                found = query(prom, 'ALERTS{alertstate="firing"}')["result"]
                return {r["metric"]["alertname"] for r in found}  # type: ignore[index]

            expected = {"ProjectNodesOverdue", "ProjectsStuck", "ProjectCountBehindDekad"}
            wait_for(lambda: firing() == expected, 60, "alerts")
            result = query(prom, 'ALERTS{alertname="ProjectNodesOverdue"}')["result"]
            assert [r["metric"]["node"] for r in result] == ["land"]  # type: ignore[index]
            result = query(prom, 'ALERTS{alertname="ProjectCountBehindDekad"}')["result"]
            shown = [(r["metric"]["indicator"], r["metric"]["region"]) for r in result]  # type: ignore[index]
            assert shown == [("projects_started", "west_coast")]
            # every panel of the projects dashboard has data
            for expr in _panel_queries(generated.write_dashboards(config, tmp_path / "grafana")):
                wait_for(lambda e=expr: bool(query(prom, e)["result"]), 30, expr)


def _panel_queries(written: list[Path]) -> list[str]:
    board = next(p for p in written if p.name == "kpiwatch-projects.json")
    panels = json.loads(board.read_text(encoding="utf-8"))["panels"]
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    assert len(exprs) == 7
    return [e.replace("$job", "kpiwatch").replace("$instance", ".*") for e in exprs]
