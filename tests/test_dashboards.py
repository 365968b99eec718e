"""Grafana dashboards: their shape, provisioning, and every query on a real Prometheus."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.models.dashboard import Dashboard

from exporters import grafana
from tests.checks_helpers import CONFIG
from tests.service_helpers import (
    KPIWATCH,
    free_port,
    get,
    kpiwatch_serve,
    prometheus,
    query,
    ready,
    wait_for,
)

TARGETS = """
[[targets]]
indicator = "projects_started"
region = "west_coast"
year = 2025
annual = 300
[[targets]]
indicator = "projects_started"
region = "west_coast"
year = 2026
annual = 600
quarters = { Q1 = 257 }
[[targets]]
indicator = "gdp_growth"
region = "CN"
year = 2025
annual = 6.5
[[targets]]
indicator = "gdp_growth"
region = "CN"
year = 2026
annual = 6.5

[thresholds]
growth_at_risk_below_pp = 0.0
growth_behind_below_pp = -0.5
"""
# An indicator published per 旬 and a monthly one late on the demo's day (see data_rows).
RELEASES = """
[[indicators]]
id = "fai_d"
name = "投资旬报"
unit = "亿元"
kind = "flow"
frequency = "dekad"
[[indicators]]
id = "retail"
name = "社零"
unit = "亿元"
kind = "flow"
[[targets]]
indicator = "fai_d"
region = "zone_a"
year = 2026
annual = 360
[[targets]]
indicator = "fai_d"
region = "zone_b"
year = 2026
annual = 360
[[targets]]
indicator = "retail"
region = "CN"
year = 2026
annual = 1200
[[targets]]
indicator = "retail"
region = "zone_a"
year = 2026
quarters = { Q1 = 300 }
"""
DASHBOARDS = tuple(grafana.DASHBOARDS)  # every dashboard there is, new ones included


def data_rows() -> str:
    """Two years of monthly projects started, six of quarterly GDP growth, no energy."""
    rows = ["period,region,indicator,measure,value"]
    for year, months in ((2025, 12), (2026, 10)):
        rows.append(f"{year}年1-2月,west_coast,projects_started,value,{40 + year % 5}")
        rows += [
            f"{year}年{m}月,west_coast,projects_started,value,{20 + (m * 7) % 11}"
            for m in range(3, months + 1)
        ]
    for year in range(2021, 2027):  # enough quarters for a growth forecast
        quarters = 3 if year == 2026 else 4
        rows += [
            f"{year}Q{q},CN,gdp_growth,{measure},{6.0 + q / 10 - (year % 3) / 5:.2f}"
            for q in range(1, quarters + 1)
            for measure in ("yoy_pct", "ytd_yoy_pct")
        ]
    # 旬 figures: zone_a's to October's 中旬, zone_b's to its 上旬; retail's months to August
    rows += [f"2026-{m}-D{d},zone_a,fai_d,value,10" for m in ("09", "10") for d in (1, 2, 3)][:-1]
    rows += [f"2026-{m}-D{d},zone_b,fai_d,value,10" for m in ("09", "10") for d in (1, 2, 3)][:-2]
    rows += [f"2026年{m}月,CN,retail,value,100" for m in range(1, 9)]
    return "\n".join(rows) + "\n"


def cli(cwd: Path, *args: str) -> str:
    done = subprocess.run([KPIWATCH, *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A refreshed store, its backfilled history as TSDB blocks, and the generated files."""
    work = tmp_path_factory.mktemp("dashboards")
    (work / "config.toml").write_text(CONFIG + TARGETS + RELEASES, encoding="utf-8")
    (work / "data.csv").write_text(data_rows(), encoding="utf-8")
    cli(work, "refresh", "--today", "2026-11-01")
    cli(work, "backfill", "-o", "history.om")
    cli(work, "dashboards", "-o", "grafana")
    made = subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", "history.om", "tsdb"],
        cwd=work,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    return work


def load(demo: Path, name: str) -> dict[str, Any]:
    return json.loads((demo / "grafana" / "dashboards" / f"{name}.json").read_text())


def targets(d: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for panel in d["panels"]:
        for t in panel["targets"]:
            yield panel, t


def assert_loads_in_grafana(name: str, raw: dict[str, Any]) -> None:
    """What Grafana and its dashboard schema ask of every generated dashboard."""
    assert Dashboard.from_json(raw).uid == name
    assert "style" not in raw
    ids = [p["id"] for p in raw["panels"]]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids), name
    for panel in raw["panels"]:
        assert isinstance(panel.get("options", {}), dict), (name, panel["title"])
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"]
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])
        fields = panel.get("fieldConfig", {})
        for step in fields.get("defaults", {}).get("thresholds", {}).get("steps", []):
            assert isinstance(step["value"], int | float), (name, panel["title"])
        assert not fields.get("overrides"), "overrides the schema cannot hold"
    for v in raw["templating"]["list"]:
        assert "id" not in v
        if v["type"] == "query":
            assert v["refresh"] == 2 and v["datasource"]["uid"] == "${datasource}", v["name"]
    names = [v["name"] for v in raw["templating"]["list"]]
    assert names[:3] == ["datasource", "job", "instance"], name


def test_dashboards_load_as_grafana_models(demo: Path) -> None:
    for name in DASHBOARDS:
        assert_loads_in_grafana(name, load(demo, name))


def test_provisioned_datasource_is_not_a_second_default(demo: Path) -> None:
    prov = demo / "grafana" / "provisioning"
    ds = yaml.safe_load((prov / "datasources" / "kpiwatch.yml").read_text())["datasources"]
    assert len(ds) == 1 and ds[0]["isDefault"] is False and ds[0]["name"] != "Prometheus"
    for name in DASHBOARDS:
        variable = load(demo, name)["templating"]["list"][0]
        assert variable["type"] == "datasource" and variable["query"] == "prometheus"
        assert variable["current"]["value"] == ds[0]["uid"]
    providers = yaml.safe_load((prov / "dashboards" / "kpiwatch.yml").read_text())["providers"]
    assert providers[0]["type"] == "file"


def test_colours_follow_the_configured_thresholds(demo: Path) -> None:
    overview = {p["title"]: p for p in load(demo, "kpiwatch-overview")["panels"]}
    gap = next(p for t, p in overview.items() if "percentage points" in t)
    steps = gap["fieldConfig"]["defaults"]["thresholds"]["steps"]

    def colour(value: float) -> str:
        return [s["color"] for s in steps if value >= s["value"]][-1]

    # The checks call −0.3 pp yellow and −0.6 pp red: the table must agree.
    assert (colour(-0.3), colour(-0.6), colour(0.1)) == ("yellow", "red", "blue")
    ratio = next(p for t, p in overview.items() if "Attainment" in t)
    steps = ratio["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert (colour(0.79), colour(0.9), colour(1.0)) == ("red", "yellow", "blue")
    assert ratio["fieldConfig"]["defaults"]["unit"] == "percentunit"
    assert gap["fieldConfig"]["defaults"]["unit"] == "suffix: pp"
    status = load(demo, "kpiwatch-indicator")["panels"][0]
    assert status["title"] == "Status"
    mapping = status["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert {k: (m["text"], m["color"]) for k, m in mapping.items()} == {
        "0": ("no data", "gray"),
        "1": ("蓝 on track", "blue"),
        "2": ("黄 at risk", "yellow"),
        "3": ("红 behind", "red"),
    }


FILL = {"$job": "kpiwatch", "$instance": ".*", "$__rate_interval": "1m", "$__interval": "1d"}
CHECKS = {
    "flow": {"$indicator": "projects_started", "$region": "west_coast", "$horizon": "year"},
    "growth": {"$indicator": "gdp_growth", "$region": "CN", "$horizon": "year"},
}
# Panels or queries with nothing to show: no required rate for growth rates, and no
# authentication failure where no password is set.
EMPTY = {
    ("growth", "Required per remaining period (倒排)"),
    ("*", "{{instance}} authentication"),
}


def filled(expr: str, values: dict[str, str]) -> str:
    for k, v in {**FILL, **values}.items():
        expr = expr.replace(k, v)
    return expr


def as_promql(variable_query: str) -> str:
    """What Grafana sends for a variable's query (label_values or query_result)."""
    if m := re.fullmatch(r"label_values\((.+), *(\w+)\)", variable_query):
        return f"count by ({m[2]}) ({m[1]})"
    if m := re.fullmatch(r"query_result\((.+)\)", variable_query):
        return m[1]
    return variable_query


def grafana_text(metric: dict[str, str]) -> str:
    """A query_result row as Grafana shows it to a variable's regex."""
    labels = ",".join(f'{k}="{v}"' for k, v in metric.items() if k != "__name__")
    return metric.get("__name__", "") + "{" + labels + "}"


def results(prom: int, expr: str) -> list[dict[str, Any]]:
    got = query(prom, expr)["result"]
    assert isinstance(got, list)
    return got


@pytest.fixture(scope="module")
def prom(demo: Path) -> Iterator[int]:
    """kpiwatch serving the demo, scraped by a Prometheus that also holds the history."""
    port = free_port()
    with kpiwatch_serve(demo, port):
        wait_for(lambda: ready(port), what="/readyz")
        with prometheus(
            demo,
            [f"127.0.0.1:{port}"],
            tsdb=demo / "tsdb",
            extra_args=["--storage.tsdb.retention.time=100y"],
        ) as p:
            # Two scrapes at least, so that increase() over a minute has data.
            wait_for(lambda: bool(results(p, "count_over_time(up[1m]) >= 3")), 60, "scrapes")
            yield p


def test_every_panel_and_variable_query_returns_data(demo: Path, prom: int) -> None:
    for name in DASHBOARDS:
        for kind, values in CHECKS.items():
            for panel, t in targets(load(demo, name)):
                names = {panel["title"], t.get("legendFormat", "")}
                if {(k, n) for k in (kind, "*") for n in names} & EMPTY:
                    continue
                expr = filled(t["expr"], values)
                wait_for(lambda e=expr: bool(results(prom, e)), 30, f"{name}: {expr}")
            for v in load(demo, name)["templating"]["list"]:
                if v["type"] == "query":
                    expr = filled(as_promql(v["query"]), values)
                    assert results(prom, expr), (name, v["name"], expr)


def test_variables_list_what_has_data(demo: Path, prom: int) -> None:
    variables = {v["name"]: v for v in load(demo, "kpiwatch-indicator")["templating"]["list"]}
    indicator = variables["indicator"]
    found = {
        re.search(indicator["regex"].strip("/").replace("?<", "?P<"), grafana_text(r["metric"]))
        for r in results(prom, filled(as_promql(indicator["query"]), {}))
    }
    assert None not in found
    assert {(m["value"], m["text"]) for m in found if m} == {
        ("projects_started", "重点项目开工"),
        ("gdp_growth", "GDP growth"),
        ("fai_d", "投资旬报"),
        ("retail", "社零"),
    }  # energy has no data: not listed
    for name in ("job", "instance", "region", "horizon"):
        expr = filled(as_promql(variables[name]["query"]), CHECKS["flow"])
        assert results(prom, expr), name
    horizons = results(prom, filled(as_promql(variables["horizon"]["query"]), CHECKS["flow"]))
    assert {r["metric"]["horizon"] for r in horizons} == {"year", "quarter", "month"}


def test_history_and_live_values_draw_as_lines(demo: Path, prom: int) -> None:
    """Every step of a range query at a 2-year view's interval has a value: no gaps."""
    history = [
        (panel, t)
        for panel, t in targets(load(demo, "kpiwatch-indicator"))
        if panel["type"] in {"timeseries", "state-timeline"}
    ]
    assert len(history) >= 10
    start, end = 1735689600, int(time_now(prom))  # 2025-01-01 .. now
    for panel, t in history:
        expr = filled(t["expr"], CHECKS["flow"])
        url = f"http://127.0.0.1:{prom}/api/v1/query_range?" + urllib.parse.urlencode(
            {"query": expr, "start": start, "end": end, "step": 86400}
        )
        code, _, body = get(url)
        series = json.loads(body)["data"]["result"]
        assert code == 200 and series, (panel["title"], expr)
        for s in series:
            stamps = [int(float(ts)) for ts, _ in s["values"]]
            gaps = [b - a for a, b in itertools.pairwise(stamps) if b - a > 86400]
            assert not gaps, (panel["title"], t["legendFormat"], s["metric"], gaps[:3])
        years = {s["metric"].get("year") for s in series}
        if t["legendFormat"].split()[0] in {"actual", "pace", "target"}:
            assert {"2025", "2026"} <= years, (t["legendFormat"], years)
        live = [s for s in series if int(float(s["values"][-1][0])) >= end - 86400]
        assert live, ("no line reaches now", t["legendFormat"])


def test_the_release_table_says_when_figures_are_due_and_which_are_late(
    demo: Path, prom: int
) -> None:
    """Judged on 1 November 2026: zone_b's October 中旬 was due on 25 October (its 上旬 is
    the newest), zone_a's 下旬 is due on 5 November; retail's September was due on 25
    October (September's end plus 25 days), zone_a's (given only as quarters, never
    reported) its January on 25 February; the other months and quarters are on time:
    November's projects by 25 December, fai_d's October (its 旬 incomplete) by 25
    November, GDP's Q4 by 30 January (the quarter's end plus 30 days)."""
    panel = next(
        p for p in load(demo, "kpiwatch-overview")["panels"] if p["title"].startswith("Next")
    )
    late, due = (filled(t["expr"], {}) for t in panel["targets"])

    def rows(expr: str) -> dict[tuple[str, str, str], float]:
        got = results(prom, expr)
        keys = [
            (r["metric"]["indicator"], r["metric"]["region"], r["metric"]["horizon"]) for r in got
        ]
        assert all(r["metric"]["name"] and r["metric"]["year"] == "2026" for r in got)
        return {k: float(r["value"][1]) for k, r in zip(keys, got, strict=True)}

    assert rows(late) == {
        ("projects_started", "west_coast", "year"): 0,
        ("gdp_growth", "CN", "year"): 0,
        ("retail", "CN", "year"): 1,
        ("fai_d", "zone_a", "year"): 0,
        ("fai_d", "zone_b", "year"): 0,
        ("fai_d", "zone_a", "dekad"): 0,
        ("fai_d", "zone_b", "dekad"): 1,
        ("retail", "zone_a", "quarter"): 1,  # given only as quarters: no year check
    }
    noon = {
        ("fai_d", "zone_a", "dekad"): "2026-11-05",
        ("fai_d", "zone_b", "dekad"): "2026-10-25",
        ("fai_d", "zone_a", "year"): "2026-11-25",
        ("fai_d", "zone_b", "year"): "2026-11-25",
        ("projects_started", "west_coast", "year"): "2026-12-25",
        ("retail", "CN", "year"): "2026-10-25",
        ("gdp_growth", "CN", "year"): "2027-01-30",
        ("retail", "zone_a", "quarter"): "2026-02-25",  # never reported: January's
    }
    assert rows(due) == {
        k: 1000 * datetime.fromisoformat(f"{t}T12:00:00+00:00").timestamp() for k, t in noon.items()
    }
    assert panel["fieldConfig"]["defaults"]["unit"] == "time:YYYY-MM-DD"
    words = panel["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert (words["0"]["text"], words["1"]["text"], words["1"]["color"]) == (
        "on time",
        "late",
        "red",
    )


def time_now(prom: int) -> float:
    got = query(prom, "time()")["result"]
    assert isinstance(got, list)
    return float(got[1])


def test_alert_links_open_a_dashboard_with_its_variables(demo: Path) -> None:
    cli(demo, "rules", "-o", "rules")
    groups = yaml.safe_load((demo / "rules" / "kpiwatch-rules.yml").read_text())["groups"]
    variables = {
        name: {v["name"] for v in load(demo, name)["templating"]["list"]} for name in DASHBOARDS
    }
    for group in groups:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            url = urllib.parse.urlsplit(rule["annotations"]["dashboard"])
            uid = url.path.removeprefix("/d/")
            assert uid in variables, (rule["alert"], uid)
            for key in urllib.parse.parse_qs(url.query):
                assert key.removeprefix("var-") in variables[uid], (rule["alert"], key)
            if rule["alert"].startswith("Kpiwatch"):  # the service's own trouble
                assert uid == "kpiwatch-health", rule["alert"]
