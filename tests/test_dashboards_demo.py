"""The dashboards on the bundled demo: every query, for every check the demo has, on Prometheus."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from exporters.collector import SnapshotData
from exporters.snapshot import read_snapshot_data
from kpiwatch.config import load_config
from tests.conftest import ROOT
from tests.service_helpers import free_port, kpiwatch_serve, prometheus, query, ready, wait_for
from tests.test_dashboards import (
    as_promql,
    assert_loads_in_grafana,
    cli,
    filled,
    grafana_text,
    results,
)

TODAY = "2026-11-01"
NOWCAST_PANELS = ("retail_sales", "manufacturing_pmi", "exports", "imports")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled config and sample beside the shared data, refreshed, with its history."""
    work = tmp_path_factory.mktemp("demo")
    (work / "shared").symlink_to(ROOT.parent / "shared")
    kw = work / "kpiwatch"
    kw.mkdir()
    shutil.copy(ROOT / "config.toml", kw)
    shutil.copytree(ROOT / "sample", kw / "sample")
    # the national figures known before TODAY: the nowcast made as of TODAY sees them
    nbs = "../shared/data/china_nbs/"
    panels = [f"{nbs}akshare_panel/{name}.csv" for name in NOWCAST_PANELS]
    cli(kw, "ingest", "--vintage", "2026-10-01", f"{nbs}china_core_indicators_long.csv", *panels)
    cli(kw, "refresh", "--today", TODAY)
    cli(kw, "backfill", "-o", "history.om")
    cli(kw, "dashboards", "-o", "grafana")
    made = subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", "history.om", "tsdb"],
        cwd=kw,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    return kw


@pytest.fixture(scope="module")
def snapshot(demo: Path) -> SnapshotData:
    """What the service exports, read from the store before the service opens it."""
    con = duckdb.connect(str(demo / "kpiwatch.duckdb"), read_only=True)
    try:
        return read_snapshot_data(con)
    finally:
        con.close()


@pytest.fixture(scope="module")
def prom(demo: Path, snapshot: SnapshotData) -> Iterator[int]:
    port = free_port()
    with kpiwatch_serve(demo, port, today=TODAY):
        wait_for(lambda: ready(port), what="/readyz")
        with prometheus(
            demo,
            [f"127.0.0.1:{port}"],
            tsdb=demo / "tsdb",
            extra_args=["--storage.tsdb.retention.time=100y"],
        ) as p:
            wait_for(lambda: bool(results(p, "count_over_time(up[1m]) >= 3")), 60, "scrapes")
            yield p


def dashboard(demo: Path, name: str) -> dict[str, Any]:
    return json.loads((demo / "grafana" / "dashboards" / f"{name}.json").read_text())


def test_the_indicator_list_holds_what_has_data(
    demo: Path, snapshot: SnapshotData, prom: int
) -> None:
    variable = next(
        v
        for v in dashboard(demo, "kpiwatch-indicator")["templating"]["list"]
        if v["name"] == "indicator"
    )
    pattern = variable["regex"].strip("/").replace("?<", "?P<")
    listed = set()
    for r in results(prom, filled(as_promql(variable["query"]), {})):
        m = re.search(pattern, grafana_text(r["metric"]))
        assert m, r["metric"]
        listed.add(m["value"])
    with_data = {c.indicator for c in snapshot.checks if c.actual is not None}
    assert listed == with_data
    configured = {i.id for i in load_config(demo / "config.toml").indicators}
    assert with_data < configured  # indicators without checks are not offered


def expected(panel: str, legend: str, snapshot: SnapshotData, key: tuple[str, str]) -> bool:
    """Whether a query of the indicator dashboard must return data for a year check."""
    check = next(c for c in snapshot.checks if (c.indicator, c.region, c.horizon) == (*key, "year"))
    forecast = next(
        (f for f in snapshot.forecasts if (f.indicator, f.region, f.horizon) == (*key, "year")),
        None,
    )
    if panel.startswith("Required"):
        return check.required_rate is not None and check.kind != "growth"
    if panel.startswith("Probability"):
        return forecast is not None and forecast.p_meet is not None
    if panel.startswith("Forecast"):
        return forecast is not None or legend.startswith("target")
    if legend.startswith("pace"):
        return check.pace_target is not None
    return True


def test_every_indicator_query_for_every_check(
    demo: Path, snapshot: SnapshotData, prom: int
) -> None:
    checks = {
        (c.indicator, c.region)
        for c in snapshot.checks
        if c.horizon == "year" and c.actual is not None
    }
    assert len(checks) >= 5
    d = dashboard(demo, "kpiwatch-indicator")
    illustrative = {i.id: i.illustrative for i in load_config(demo / "config.toml").indicators}
    assert any(illustrative[i] for i, _ in checks) and not all(illustrative.values())
    for indicator, region in sorted(checks):
        key = (indicator, region)
        values = {"$indicator": indicator, "$region": region, "$horizon": "year"}
        for panel in d["panels"]:
            for t in panel["targets"]:
                got = bool(results(prom, filled(t["expr"], values)))
                want = expected(
                    panel["title"], t.get("legendFormat", ""), snapshot, (indicator, region)
                )
                assert got or not want, (indicator, region, panel["title"], t.get("legendFormat"))
        for v in d["templating"]["list"]:
            if v["type"] == "query":
                assert results(prom, filled(as_promql(v["query"]), values)), (indicator, v["name"])
        panels = {p["title"]: p["targets"][0]["expr"] for p in d["panels"]}
        figures = results(prom, filled(panels["Figures"], values))
        assert float(figures[0]["value"][1]) == float(illustrative[indicator]), indicator
        owner = results(prom, filled(panels["Responsible unit"], values))
        check = next(
            c for c in snapshot.checks if (c.indicator, c.region, c.horizon) == (*key, "year")
        )
        assert check.owner and [r["metric"]["owner"] for r in owner] == [check.owner], key


def overview_expected(title: str, snapshot: SnapshotData, horizon: str) -> bool:
    """Whether an overview panel must show something for the horizon on this store."""
    checks = [c for c in snapshot.checks if c.horizon == horizon]
    if title.startswith("Attainment"):
        return any(c.attainment is not None and c.kind != "growth" for c in checks)
    if title.startswith("Gap"):
        return any(c.gap is not None and c.kind == "growth" for c in checks)
    if title.startswith("Probability"):
        return any(f.horizon == horizon and f.p_meet is not None for f in snapshot.forecasts)
    return bool(checks)


def test_every_overview_and_health_query_has_data(
    demo: Path, snapshot: SnapshotData, prom: int
) -> None:
    for horizon in ("year", "quarter", "month"):
        for panel in dashboard(demo, "kpiwatch-overview")["panels"]:
            expr = filled(panel["targets"][0]["expr"], {"$horizon": horizon})
            got = bool(results(prom, expr))
            assert got or not overview_expected(panel["title"], snapshot, horizon), expr
    for panel in dashboard(demo, "kpiwatch-health")["panels"]:
        for t in panel["targets"]:
            if "authentication" in t.get("legendFormat", ""):
                continue  # no password is set in the demo: nothing is refused
            expr = filled(t["expr"], {})
            wait_for(lambda e=expr: bool(results(prom, e)), 30, f"health: {expr}")


def test_every_nowcast_query_has_data(demo: Path, prom: int) -> None:
    board = dashboard(demo, "kpiwatch-nowcast")
    fill = {"$indicator": "gdp_growth", "$region": "CN"}
    variables = [as_promql(v["query"]) for v in board["templating"]["list"] if v["type"] == "query"]
    for panel in board["panels"]:
        if panel["type"] == "bargauge":
            continue  # news needs a second refresh; test_nowcast reads it from a store
        for expr in [t["expr"] for t in panel["targets"]] + variables:
            assert results(prom, filled(expr, fill)), expr


def test_the_colour_counts_are_the_stores(demo: Path, snapshot: SnapshotData, prom: int) -> None:
    labels = {"蓝 on track": "on_track", "黄 at risk": "at_risk", "红 behind": "behind"}
    panels = [p for p in dashboard(demo, "kpiwatch-overview")["panels"] if p["title"] in labels]
    assert len(panels) == 3
    seen = set()
    for horizon in ("year", "quarter", "month", "dekad"):  # 旬: the register counts' targets
        for panel in panels:
            status = labels[panel["title"]]
            got = query(prom, filled(panel["targets"][0]["expr"], {"$horizon": horizon}))
            want = sum(1 for c in snapshot.checks if (c.horizon, c.status) == (horizon, status))
            assert isinstance(got["result"], list)
            assert float(got["result"][0]["value"][1]) == want, (horizon, status)
            if want:
                seen.add(status)
    assert seen == set(labels.values())  # the demo shows every colour somewhere


def test_every_generated_file_is_in_the_mixin(demo: Path) -> None:
    """Whatever `kpiwatch dashboards` and `kpiwatch rules` write for the demo, the mixin has."""
    cli(demo, "rules", "-o", "rules")
    cli(demo, "mixin", "-o", "mixin")
    written = sorted((demo / "grafana" / "dashboards").iterdir())
    assert len(written) > 3  # the demo's registers and units add dashboards of their own
    for path in written:
        assert_loads_in_grafana(path.stem, json.loads(path.read_text()))
        assert (demo / "mixin" / "dashboards_out" / path.name).read_bytes() == path.read_bytes()
    assert len(list((demo / "mixin" / "dashboards_out").iterdir())) == len(written)
    alerts = [
        r
        for f in sorted((demo / "rules").glob("*rules.yml"))
        for g in yaml.safe_load(f.read_text())["groups"]
        for r in g["rules"]
    ]
    assert len({f.name for f in (demo / "rules").glob("*rules.yml")}) > 1
    mixed = yaml.safe_load((demo / "mixin" / "prometheus_alerts.yaml").read_text())
    got = [r for g in mixed["groups"] for r in g["rules"]]
    assert sorted(r["alert"] for r in got) == sorted(r["alert"] for r in alerts if "alert" in r)
    check = subprocess.run(
        ["promtool", "check", "rules", "prometheus_alerts.yaml"],
        cwd=demo / "mixin",
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
