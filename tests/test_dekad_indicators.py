"""Indicators published per 旬 (frequency = "dekad"): loaded, checked per 旬, summed to months."""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb
import pytest

from exporters.snapshot import read_snapshot_data, render
from ingest.periods import PeriodError, parse_period
from ingest.store import open_store
from tests.cli_helpers import run_kpiwatch

CONFIG = """
[store]
path = "store.duckdb"

[[regions]]
id = "wc"
name = "西海岸新区"

[[regions]]
id = "west"
name = "西区"

[[regions]]
id = "wa"
name = "甲"
parent = "west"

[[regions]]
id = "wb"
name = "乙"
parent = "west"

[[indicators]]
id = "fai_d"
name = "固定资产投资"
unit = "亿元"
kind = "flow"
frequency = "dekad"

[[indicators]]
id = "building_d"
name = "在建项目"
unit = "个"
kind = "stock"
frequency = "dekad"

[[indicators]]
id = "rate_d"
name = "投资增速"
unit = "%"
kind = "growth"
frequency = "dekad"

[[indicators]]
id = "gdp"
name = "GDP"
kind = "flow"

[[targets]]
indicator = "fai_d"
region = "wc"
year = 2026
annual = 360

[[targets]]
indicator = "fai_d"
region = "west"
year = 2026
annual = 720

[[targets]]
indicator = "building_d"
region = "wc"
year = 2026
annual = 120

[[targets]]
indicator = "rate_d"
region = "wc"
year = 2026
annual = 6.5

[[sources]]
name = "dekads"
path = "dekads_*.csv"
layout = "long"
region = "wc"
columns = { period = "旬", series = "指标", measure = "口径", value = "数值" }

[[sources]]
name = "by_region"
path = "regions_*.csv"
layout = "long"
indicator = "fai_d"
columns = { period = "旬", region = "地区", value = "数值" }
"""

# west has no figures of its own: its 旬 are wa's and wb's summed where both report
BY_REGION = """旬,地区,数值
2026-01-D1,甲,5
2026-01-D2,甲,6
2026-01-D1,乙,7
"""

# fai_d: January 10 + 10 + 11 = 31, February 8 + 9 + 9 = 26, March's first 旬 alone.
# building_d: levels at a few 旬 ends; rate_d: rates as published at a few 旬 ends.
ROWS = """旬,指标,口径,数值
2026年1月上旬,fai_d,value,10
2026年1月中旬,fai_d,value,10
2026年1月下旬,fai_d,value,11
2026-02-D1,fai_d,value,8
2026-02-D2,fai_d,value,9
2026-02-D3,fai_d,value,9
2026-03-D1,fai_d,value,12
2026年1月下旬,building_d,value,100
2026年2月上旬,building_d,value,105
2026年2月下旬,building_d,value,110
2026年3月上旬,building_d,value,118
2026-01-D3,rate_d,yoy_pct,6.0
2026-02-D2,rate_d,yoy_pct,6.4
2026-02-D3,rate_d,yoy_pct,6.6
2026-03-D1,rate_d,yoy_pct,6.8
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 旬 releases loaded by `kpiwatch ingest` and refreshed on 12 March 2026."""
    tmp = tmp_path_factory.mktemp("dekads")
    (tmp / "config.toml").write_text(CONFIG, encoding="utf-8")
    (tmp / "dekads_1.csv").write_text(ROWS, encoding="utf-8")
    (tmp / "regions_1.csv").write_text(BY_REGION, encoding="utf-8")
    loaded = run_kpiwatch(tmp, "ingest")
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    refreshed = run_kpiwatch(tmp, "refresh", "--today", "2026-03-12")
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    return tmp


def store_rows(tmp: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(tmp / "store.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_dekads_are_stored_as_published(store: Path) -> None:
    rows = store_rows(
        store,
        "SELECT period, CAST(period_start AS VARCHAR), CAST(period_end AS VARCHAR), months, "
        "freq, value FROM observations_latest WHERE indicator = 'fai_d' AND region = 'wc' "
        "ORDER BY period_start",
    )
    assert rows[2] == ("2026-01-D3", "2026-01-21", "2026-01-31", 0, "D", 11.0)
    assert rows[5] == ("2026-02-D3", "2026-02-21", "2026-02-28", 0, "D", 9.0)  # 8 days


def test_dekads_roll_up_to_complete_months(store: Path) -> None:
    rows = store_rows(
        store, "SELECT indicator, period, value, basis FROM monthly ORDER BY indicator, period"
    )
    # a flow sums its three 旬; a level and a rate are the month's last 旬's; March has
    # only its first 旬: no month yet
    assert rows == [
        ("building_d", "2026-01", 100.0, "from_dekads"),
        ("building_d", "2026-02", 110.0, "from_dekads"),
        ("fai_d", "2026-01", 31.0, "from_dekads"),
        ("fai_d", "2026-02", 26.0, "from_dekads"),
        ("rate_d", "2026-01", 6.0, "from_dekads"),
        ("rate_d", "2026-02", 6.6, "from_dekads"),
    ]


def test_month_checks_run_on_the_rolled_up_months(store: Path) -> None:
    rows = store_rows(
        store,
        "SELECT indicator, as_of, horizon, actual, round(pace_target, 4), status FROM progress "
        "WHERE horizon IN ('month', 'year') AND region = 'wc' ORDER BY indicator, as_of, horizon",
    )
    # 360 a year, linear: 30 a month; the level 120 all year; the rate 6.5 %
    assert [r for r in rows if r[0] == "fai_d"] == [
        ("fai_d", "2026-01", "month", 31.0, 30.0, "on_track"),
        ("fai_d", "2026-01", "year", 31.0, 30.0, "on_track"),
        ("fai_d", "2026-02", "month", 26.0, 30.0, "at_risk"),
        ("fai_d", "2026-02", "year", 57.0, 60.0, "at_risk"),
    ]
    assert ("building_d", "2026-02", "year", 110.0, 120.0, "at_risk") in rows
    assert ("rate_d", "2026-02", "year", 6.6, 6.5, "on_track") in rows
    forecasts = store_rows(store, "SELECT DISTINCT as_of FROM forecasts WHERE indicator = 'fai_d'")
    assert forecasts == [("2026-02",)]  # at month grain, from the last complete month


def test_each_dekad_is_checked_against_the_pace_on_its_last_day(store: Path) -> None:
    rows = store_rows(
        store,
        "SELECT indicator, period, actual, round(dekad_target, 4), round(attainment, 4), "
        "status FROM progress_dekads WHERE region = 'wc' ORDER BY indicator, period_start",
    )
    fai = [r for r in rows if r[0] == "fai_d"]
    assert [r[1] for r in fai] == [f"2026-0{m}-D{d}" for m in (1, 2) for d in (1, 2, 3)] + [
        "2026-03-D1"
    ]
    # 30 × 10/31 = 9.6774 by 10 January; 60 by 28 February; 60 + 30 × 10/31 by 10 March
    assert fai[0] == ("fai_d", "2026-01-D1", 10.0, 9.6774, round(10 / (300 / 31), 4), "on_track")
    assert fai[5] == ("fai_d", "2026-02-D3", 57.0, 60.0, 0.95, "at_risk")
    assert fai[6][2:4] == (69.0, round(60 + 300 / 31, 4))
    building = {r[1]: r for r in rows if r[0] == "building_d"}
    assert building["2026-01-D1"][2:] == (None, 120.0, None, "no_data")  # not published
    assert building["2026-03-D1"][2:] == (118.0, 120.0, round(118 / 120, 4), "at_risk")
    rate = {r[1]: r for r in rows if r[0] == "rate_d"}
    assert rate["2026-01-D3"][2:] == (6.0, 6.5, -0.5, "at_risk")  # −0.5 pp: not below −0.5
    assert rate["2026-03-D1"][2:] == (6.8, 6.5, 0.3, "on_track")


def test_a_parent_region_is_checked_on_its_children_summed(store: Path) -> None:
    rows = store_rows(
        store,
        "SELECT region, period, actual, round(dekad_target, 4), status FROM progress_dekads "
        "WHERE region IN ('west', 'wa', 'wb') ORDER BY region, period_start",
    )
    # 720 a year: 60 × 10/31 = 19.3548 by 10 January; 5 + 7 = 12 done (62 %, 红); wb has
    # no second 旬, so west has none either (nor a January)
    assert rows == [("west", "2026-01-D1", 12.0, round(600 / 31, 4), "behind")]


def test_dekad_checks_reach_status_and_metrics(store: Path) -> None:
    board = run_kpiwatch(store, "status", "--horizon", "dekad")
    assert board.returncode == 0, board.stderr
    text = board.stdout.replace("\n", " ")
    assert "2026-03-D1" in text and "69 to 2026-03-10 against 69.68" in text
    assert "6.80% to 2026-03-10 against 6.50% (+0.30 pp)" in text
    con = open_store(store / "store.duckdb", read_only=True)
    try:
        metrics = render(read_snapshot_data(con), 0.0, 100_000).text.decode()
    finally:
        con.close()
    labels = 'horizon="dekad",indicator="fai_d",region="wc",year="2026"'
    assert f"kpiwatch_kpi_actual{{{labels}}} 69.0" in metrics
    check = subprocess.run(
        ["promtool", "check", "metrics"], input=metrics, capture_output=True, text=True
    )
    assert check.returncode == 0 and not check.stdout.strip(), check.stdout + check.stderr


def test_the_dekad_alert_passes_promtool(store: Path) -> None:
    out = store / "rules"
    written = run_kpiwatch(store, "rules", "--output", str(out))
    assert written.returncode == 0, written.stderr
    rules = (out / "kpiwatch-dekad-rules.yml").read_text(encoding="utf-8")
    assert 'indicator=~"building_d|fai_d|rate_d"' in rules
    for command in (
        ["promtool", "check", "rules", "kpiwatch-dekad-rules.yml"],
        ["promtool", "test", "rules", "kpiwatch-dekad-rules.test.yml"],
    ):
        run = subprocess.run(command, cwd=out, capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize(
    ("rows", "line", "words"),
    [
        ("2026-03-D2,gdp,value,5\n", 2, 'a 旬 figure for gdp, whose frequency is not "dekad"'),
        ("2026-03-D2,fai_d,value,5\n2026年3月中旬,fai_d,value,6\n", 3, "duplicate key"),
        ("2026-02,fai_d,value,26\n", 2, "overlaps 2026-02-D1 already stored"),
        ("2026-03,fai_d,ytd,83\n2026-03-D2,fai_d,ytd,80\n", 3, "one figure per month"),
        ("2026-04-D4,fai_d,value,5\n", 2, "is not a period"),
    ],
)
def test_bad_dekad_rows_refuse_the_file(store: Path, rows: str, line: int, words: str) -> None:
    before = store_rows(store, "SELECT count(*), max(load_id) FROM vintages")
    bad = store / "bad.csv"
    bad.write_text("旬,指标,口径,数值\n" + rows, encoding="utf-8")
    run = run_kpiwatch(store, "ingest", "--source", "dekads", str(bad))
    assert run.returncode != 0
    message = " ".join(run.stdout.split() + run.stderr.split())
    assert f"bad.csv: line {line}," in message, message
    assert " ".join(words.split()) in message, message
    assert store_rows(store, "SELECT count(*), max(load_id) FROM vintages") == before


@pytest.mark.parametrize(
    ("text", "freq", "label"),
    [
        ("2026-03-D2", "M", "2026-03-D2"),
        ("2026年3月中旬", "M", "2026-03-D2"),
        ("２０２６年３月 下旬", "M", "2026-03-D3"),
        ("2026-03中旬", "M", "2026-03-D2"),
        ("2026/3/d1", "M", "2026-03-D1"),
        ("2026-02-28", "D", "2026-02-D3"),  # a release dated by its 旬's last day
        ("2026-03-11", "旬", "2026-03-D2"),
    ],
)
def test_dekad_periods_as_published(text: str, freq: str, label: str) -> None:
    assert parse_period(text, freq).label == label


@pytest.mark.parametrize("text", ["2026-03", "2026Q1", "2026年1-3月"])
def test_a_source_of_dekads_refuses_months(text: str) -> None:
    with pytest.raises(PeriodError, match="not a 旬"):
        parse_period(text, "D")
