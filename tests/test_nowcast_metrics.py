"""The nowcast's metrics (exact exposition, promtool) and its P(meet) alert rules."""

from __future__ import annotations

import subprocess
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from exporters.nowcast_metrics import NowcastCollector, NowcastData, NowcastRow
from exporters.nowcast_rules import RULES_FILE, TESTS_FILE, rule_groups, write_rules
from exporters.rules import AlertSettings

DATA = NowcastData(
    [
        NowcastRow("gdp_growth", "CN", "2024Q3", 4.8, 4.4, 5.2, 4.2, 5.4, 5.0, 0.25, 0.31, False),
        NowcastRow("gdp_growth", "CN", "2024Q4", 5.1, 4.3, 5.9, 3.9, 6.3, 5.0, 0.55, 0.2, False),
    ],
    [("gdp_growth", "CN", "iav_growth", -0.2)],
)


def exposition(data: NowcastData) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NowcastCollector(data))
    return generate_latest(registry).decode()


def test_the_open_and_next_quarter_and_the_news() -> None:
    lines = [x for x in exposition(DATA).splitlines() if x and not x.startswith("#")]
    key = 'indicator="gdp_growth",quarter="open",region="CN"'
    assert f"kpiwatch_kpi_nowcast_growth_ratio{{{key}}} 0.048" in lines
    assert (
        'kpiwatch_kpi_nowcast_growth_lower_ratio{indicator="gdp_growth",interval="95",'
        'quarter="open",region="CN"} 0.042'
    ) in lines
    assert f"kpiwatch_kpi_nowcast_target_met_probability{{{key}}} 0.25" in lines
    assert (
        'kpiwatch_kpi_nowcast_target_met_probability{indicator="gdp_growth",quarter="next",'
        'region="CN"} 0.55'
    ) in lines
    assert f"kpiwatch_kpi_nowcast_quarter_end_timestamp_seconds{{{key}}} 1.7277408e+09" in lines
    assert 'kpiwatch_kpi_nowcast_fallback{indicator="gdp_growth",region="CN"} 0.0' in lines
    assert (
        'kpiwatch_kpi_nowcast_news_impact_ratio{indicator="gdp_growth",region="CN",'
        'series="iav_growth"} -0.002'
    ) in lines
    assert len(lines) == 2 * 9 + 1 + 1


def test_exposition_passes_promtool_check_metrics() -> None:
    done = subprocess.run(
        ["promtool", "check", "metrics"], input=exposition(DATA), capture_output=True, text=True
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_the_rules_pass_promtool_check_and_their_unit_tests(tmp_path: Path) -> None:
    settings = AlertSettings(at_risk_below=0.6, behind_below=0.3)
    written = write_rules(tmp_path, settings)
    assert [p.name for p in written] == [RULES_FILE, TESTS_FILE]
    for args in (["check", "rules", RULES_FILE], ["test", "rules", TESTS_FILE]):
        run = subprocess.run(["promtool", *args], cwd=tmp_path, capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
    exprs = [r["expr"] for g in rule_groups(settings)["groups"] for r in g["rules"]]
    assert [e.rsplit(" ", 1)[1] for e in exprs] == ["0.6", "0.3"]
