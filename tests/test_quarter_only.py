"""A target given only as quarters (no year) pages like any other: late data and behind
pace, once each, with its owner; and its release shows on the overview."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.cli_helpers import run_kpiwatch, store_metrics

# gdp_g is a quarterly growth rate, fai a monthly flow; both have targets for Q1 alone.
# Region a reported 5.0 % for Q1 (6.5 % due: red) and 100 of fai by February (257 due by
# March: 171.33 by February, 58 %: red); n reported nothing. Lags: 25 days a month, 30 a
# quarter: on 1 June n's Q1 (due 30 April) and January (due 25 February) are late, and a's
# March of fai (due 25 April); a's Q2 of gdp_g is not due before 30 July.
CONFIG = """
[store]
path = "store.duckdb"

[[regions]]
id = "a"
name = "甲"

[[regions]]
id = "n"
name = "无"

[[indicators]]
id = "gdp_g"
name = "GDP增速"
unit = "%"
kind = "growth"
frequency = "quarterly"
owner = "统计局"

[[indicators]]
id = "fai"
name = "投资"
unit = "亿元"
kind = "flow"
owner = "发改局"

[[sources]]
name = "figures"
path = "figures_*.csv"
layout = "long"
columns = { period = "期", region = "地区", series = "指标", measure = "口径", value = "数值" }
"""
TARGETS = """
[[targets]]
indicator = "gdp_g"
region = "{region}"
year = 2026
quarters = {{ Q1 = 6.5 }}
owner = "专班{region}"

[[targets]]
indicator = "fai"
region = "{region}"
year = 2026
quarters = {{ Q1 = 257 }}
"""
ROWS = ["2026Q1,甲,gdp_g,yoy_pct,5.0", "2026Q1,甲,gdp_g,ytd_yoy_pct,5.0"]
ROWS += ["2026-01,甲,fai,value,50", "2026-02,甲,fai,value,50"]
TODAY = "2026-06-01"
OWNERS = {"gdp_g": "专班{}", "fai": "发改局"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The store refreshed on TODAY, and its /metrics text."""
    tmp = tmp_path_factory.mktemp("quarteronly")
    targets = "".join(TARGETS.format(region=r) for r in ("a", "n"))
    (tmp / "config.toml").write_text(CONFIG + targets, encoding="utf-8")
    (tmp / "figures_1.csv").write_text("期,地区,指标,口径,数值\n" + "\n".join(ROWS) + "\n", "utf-8")
    for args in (("ingest",), ("refresh", "--today", TODAY), ("rules", "-o", str(tmp / "rules"))):
        done = run_kpiwatch(tmp, *args)
        assert done.returncode == 0, done.stdout + done.stderr
    return tmp, store_metrics(tmp)


def _pages(tmp: Path, metrics: str, items: dict[str, list[dict[str, str]]]) -> str:
    """promtool's complaints (none: it agrees) about whether each alert's generated
    expression finds exactly its items, with their owners, in the exported series."""
    exprs = {
        r["alert"]: r["expr"]
        for g in yaml.safe_load((tmp / "rules" / "kpiwatch-rules.yml").read_text("utf-8"))["groups"]
        for r in g["rules"]
    }
    series = [
        {"series": f'{name[:-1]},job="kpiwatch",instance="a"}}', "values": f"{value}x30"}
        for name, value in re.findall(r"^(kpiwatch_kpi_\w+\{.*\}) (\S+)$", metrics, re.M)
    ]
    tests = [
        {
            "expr": f"count by (indicator, region, horizon, year, owner, name) ({exprs[alert]})",
            "eval_time": "20m",
            "exp_samples": [{"labels": _labels(item), "value": 1} for item in found],
        }
        for alert, found in items.items()
    ]
    test = {"interval": "1m", "input_series": series, "promql_expr_test": tests}
    out = tmp / "pages.yml"
    out.write_text(yaml.safe_dump({"tests": [test]}, allow_unicode=True), encoding="utf-8")
    run = subprocess.run(["promtool", "test", "rules", str(out)], capture_output=True, text=True)
    return "" if run.returncode == 0 else run.stdout + run.stderr


def _labels(item: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(item.items())) + "}"


def _item(indicator: str, region: str, horizon: str) -> dict[str, str]:
    name = {"gdp_g": "GDP增速", "fai": "投资"}[indicator]
    owner = OWNERS[indicator].format(region)
    return {"indicator": indicator, "region": region, "horizon": horizon, "year": "2026"} | {
        "owner": owner,
        "name": name,
    }


def test_a_quarter_only_target_pages_late_data_and_behind_pace_once(
    store: tuple[Path, str],
) -> None:
    tmp, metrics = store
    late = [_item(i, r, "quarter") for i, r in (("fai", "a"), ("fai", "n"), ("gdp_g", "n"))]
    behind = [_item(i, "a", "quarter") for i in ("fai", "gdp_g")]
    items = {"KpiDataStale": late, "KpiBehindPace": behind}
    assert not _pages(tmp, metrics, items | {"KpiForecastShortfall": []})


def test_a_quarter_only_target_exports_its_owner_once(store: tuple[Path, str]) -> None:
    _, metrics = store
    owners = re.findall(r"^kpiwatch_kpi_target_info\{(.*)\} 1\.0$", metrics, re.M)
    assert sorted(owners) == sorted(
        f'indicator="{i}",owner="{OWNERS[i].format(r)}",region="{r}",year="2026"'
        for i in ("fai", "gdp_g")
        for r in ("a", "n")
    )
    assert 'horizon="year"' not in metrics  # it has no year check
    check = subprocess.run(
        ["promtool", "check", "metrics"], input=metrics, capture_output=True, text=True
    )
    assert check.returncode == 0 and not check.stdout.strip(), check.stdout + check.stderr
