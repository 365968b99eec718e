"""Alert rules, dashboards and history backfill, checked with promtool and a real Prometheus."""

from __future__ import annotations

import re
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

from exporters import backfill
from exporters.snapshot import read_snapshot_data, render
from kpiwatch import app, generated
from kpiwatch.config import load_config
from tests.checks_helpers import CONFIG
from tests.service_helpers import (
    KPIWATCH,
    free_port,
    kpiwatch_serve,
    prometheus,
    query,
    ready,
    wait_for,
)
from tests.test_service import BEHIND, DATA


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "config.toml").write_text(
        CONFIG + BEHIND + '\n[alerts]\nbehind_for = "0s"\nforecast_for = "0s"\n', encoding="utf-8"
    )
    (tmp_path / "data.csv").write_text(DATA, encoding="utf-8")
    return tmp_path


def cli(cwd: Path, *args: str) -> str:
    done = subprocess.run([KPIWATCH, *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_generated_rules_pass_promtool_check_and_unit_tests(workdir: Path) -> None:
    cli(workdir, "rules", "-o", "rules")
    rules = workdir / "rules"
    check = subprocess.run(
        ["promtool", "check", "rules", "kpiwatch-rules.yml"],
        cwd=rules,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0 and "SUCCESS: 8 rules found" in check.stdout, check
    test = subprocess.run(
        ["promtool", "test", "rules", "kpiwatch-rules.test.yml"],
        cwd=rules,
        capture_output=True,
        text=True,
    )
    assert test.returncode == 0 and "SUCCESS" in test.stdout, test.stdout + test.stderr
    tests = yaml.safe_load((rules / "kpiwatch-rules.test.yml").read_text())
    alerts = {
        r["alert"]
        for g in yaml.safe_load((rules / "kpiwatch-rules.yml").read_text())["groups"]
        for r in g["rules"]
    }
    cases = [c for t in tests["tests"] for c in t["alert_rule_test"]]
    for alert in alerts:  # every alert is tested firing and not firing
        assert any(c["alertname"] == alert and c["exp_alerts"] for c in cases), alert
        assert any(c["alertname"] == alert and not c["exp_alerts"] for c in cases), alert
    route = yaml.safe_load((rules / "alertmanager.example.yml").read_text())["route"]
    assert {'owner="发展改革局"'} <= {m for r in route["routes"] for m in r["matchers"]}


def expressions(workdir: Path) -> list[str]:
    """Every PromQL expression of the rules (the dashboards' are run in test_dashboards)."""
    cli(workdir, "rules", "-o", "rules")
    exprs = [
        r["expr"]
        for g in yaml.safe_load((workdir / "rules" / "kpiwatch-rules.yml").read_text())["groups"]
        for r in g["rules"]
    ]
    return exprs


def test_every_promql_expression_runs_on_real_prometheus(workdir: Path) -> None:
    exprs = expressions(workdir)
    port = free_port()
    with kpiwatch_serve(workdir, port):
        wait_for(lambda: ready(port), what="/readyz")
        rules = workdir / "rules" / "kpiwatch-rules.yml"
        with prometheus(workdir, [f"127.0.0.1:{port}"], rule_files=[rules]) as prom:
            wait_for(lambda: bool(query(prom, 'up{job="kpiwatch"} == 1')["result"]), 60, "up")
            for e in exprs:
                query(prom, e)  # fails on any API error
            firing = 'ALERTS{alertname="KpiBehindPace",alertstate="firing"}'
            wait_for(lambda: bool(query(prom, firing)["result"]), 60, "KpiBehindPace firing")
            alert = query(prom, firing)["result"][0]["metric"]  # type: ignore[index]
            assert alert["owner"] == "发展改革局" and alert["region"] == "west_coast"


def test_backfill_creates_blocks_prometheus_serves(workdir: Path) -> None:
    config = load_config(workdir / "config.toml")
    app.ingest(config)
    app.refresh_checks(config)
    n = generated.write_backfill(config, workdir / "history.om")
    assert n > 0
    blocks = workdir / "blocks"
    made = subprocess.run(
        [
            "promtool",
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(workdir / "history.om"),
            str(blocks),
        ],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    con = duckdb.connect(str(config.store_path), read_only=True)
    want = con.execute(
        "SELECT epoch(last_day(make_date(year, month, 1)) + INTERVAL 1 DAY), actual "
        "FROM progress_checks WHERE indicator = 'projects_started' AND region = 'west_coast' "
        "AND horizon = 'year' ORDER BY 1"
    ).fetchall()
    con.close()
    assert len(want) == 2
    with prometheus(
        workdir, ["127.0.0.1:1"], tsdb=blocks, extra_args=["--storage.tsdb.retention.time=100y"]
    ) as prom:
        sel = (
            'kpiwatch_kpi_actual{indicator="projects_started",region="west_coast",'
            'horizon="year"}[400d]'
        )
        url_time = int(want[-1][0]) + 3600
        got = query(prom, f"{sel} @ {url_time}")["result"]
        assert isinstance(got, list) and len(got) == 1
        values = [(float(t), float(v)) for t, v in got[0]["values"]]
        assert values == [(float(t), float(v)) for t, v in want]


def test_backfill_uses_the_live_names_and_labels(workdir: Path) -> None:
    config = load_config(workdir / "config.toml")
    app.ingest(config)
    app.refresh(config, date(2026, 11, 1))
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        live = render(read_snapshot_data(con), 0.0, 10**6).text.decode()
        history = list(backfill.samples(con))
    finally:
        con.close()

    def shape(name: str, labels: str) -> tuple[str, tuple[str, ...]]:
        return name, tuple(sorted(re.findall(r'(\w+)="', labels)))

    live_shapes = {
        shape(*re.fullmatch(r"(\w+)(\{.*\}) .*", ln).groups())  # type: ignore[union-attr]
        for ln in live.splitlines()
        if ln.startswith("kpiwatch_kpi_") and "{" in ln
    }
    history_shapes = {shape(name, labels) for name, labels, _, _ in history}
    assert history_shapes and history_shapes <= live_shapes
    assert {n for n, _ in live_shapes} - {n for n, _ in history_shapes} <= {
        "kpiwatch_kpi_stale",
        "kpiwatch_kpi_next_release_due_timestamp_seconds",
        "kpiwatch_kpi_info",
        "kpiwatch_kpi_data_period_end_timestamp_seconds",
    }
