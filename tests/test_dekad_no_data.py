"""A 旬 target whose year has no 旬 figure is checked once, at its first 旬, as no_data."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from exporters.snapshot import read_snapshot_data, render
from ingest.store import open_store
from tests.cli_helpers import run_kpiwatch
from tests.test_dekad_indicators import store_rows
from tests.test_release_due import _found

# a reports 10 a 旬 from 2026's first 旬 to March's 上旬; b reports nothing. a's targets
# for 2025 (before its figures) and 2027 (configured early) have no figure in their year.
CONFIG = """
[store]
path = "store.duckdb"

[[regions]]
id = "a"
name = "甲"
[[regions]]
id = "b"
name = "乙"

[[indicators]]
id = "fai_d"
name = "固定资产投资"
unit = "亿元"
kind = "flow"
frequency = "dekad"
[[indicators]]
id = "rate_d"
name = "投资增速"
unit = "%"
kind = "growth"
frequency = "dekad"

[[sources]]
name = "dekads"
path = "dekads_*.csv"
layout = "long"
columns = { period = "旬", region = "地区", series = "指标", value = "数值" }
"""
TARGETS: list[tuple[str, str, int, float]] = [("fai_d", "a", y, 360) for y in (2025, 2026, 2027)]
TARGETS += [("fai_d", "b", 2026, 720), ("rate_d", "b", 2026, 6.5)]
FIGURES = [f"2026-{m:02d}-D{d}" for m in (1, 2) for d in (1, 2, 3)] + ["2026-03-D1"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("dekad_no_data")
    targets = "".join(
        f'\n[[targets]]\nindicator = "{i}"\nregion = "{r}"\nyear = {y}\nannual = {v}\n'
        for i, r, y, v in TARGETS
    )
    (tmp / "config.toml").write_text(CONFIG + targets, encoding="utf-8")
    rows = "".join(f"{p},甲,fai_d,10\n" for p in FIGURES)
    (tmp / "dekads_1.csv").write_text("旬,地区,指标,数值\n" + rows, encoding="utf-8")
    for args in (("ingest",), ("refresh", "--today", "2026-03-12")):
        done = run_kpiwatch(tmp, *args)
        assert done.returncode == 0, done.stdout + done.stderr
    return tmp


def test_a_year_without_a_dekad_figure_is_one_no_data_check(store: Path) -> None:
    """Linear pacing: 360 a year is 30 by January's end, 30 × 10/31 on 10 January."""
    rows = store_rows(
        store,
        "SELECT indicator, region, year, period, as_of_day::VARCHAR, round(pace_target, 4), "
        "round(dekad_target, 4), status FROM progress_dekads WHERE actual IS NULL ORDER BY ALL",
    )
    assert rows == [
        ("fai_d", "a", 2025, "2025-01-D1", "2025-01-10", 9.6774, 9.6774, "no_data"),
        ("fai_d", "a", 2027, "2027-01-D1", "2027-01-10", 9.6774, 9.6774, "no_data"),
        ("fai_d", "b", 2026, "2026-01-D1", "2026-01-10", 19.3548, 19.3548, "no_data"),
        ("rate_d", "b", 2026, "2026-01-D1", "2026-01-10", 6.5, 6.5, "no_data"),
    ]
    # a's year with figures is checked from its first 旬 to the last one with a figure
    checked = store_rows(
        store,
        "SELECT count(*), sum(actual) FROM progress_dekads WHERE year = 2026 AND region = 'a'",
    )
    assert checked == [(7, 280.0)]  # 10, 20, …, 70 to date


def test_the_board_and_the_metrics_show_it(store: Path) -> None:
    board = run_kpiwatch(store, "status", "--horizon", "dekad")
    assert board.returncode == 0, board.stderr
    text = " ".join(board.stdout.replace("│", " ").split())
    years = re.findall(r"no data for (\d{4}(?:-\d\d-D\d)?)", text)
    assert sorted(years) == ["2025", "2026", "2026", "2027"]  # the year, not its first 旬
    # b never reported: its first 旬 was due on 15 January (10 January + 5 days)
    late = "no data for 2026; the figure for 2026-01-D1 is late (due 2026-01-15)"
    assert text.count(late) == 2 and text.count("is late") == 2, text
    con = open_store(store / "store.duckdb", read_only=True)
    try:
        metrics = render(read_snapshot_data(con), 0.0, 100_000).text.decode()
    finally:
        con.close()

    def sample(name: str, indicator: str, region: str, extra: str = "") -> list[tuple[str, str]]:
        labels = rf'horizon="dekad",indicator="{indicator}",region="{region}"{extra}'
        return re.findall(rf"^kpiwatch_kpi_{name}{{{labels},year=\"(\d+)\"}} (\S+)$", metrics, re.M)

    nodata = ',status="no_data"'
    assert sample("status", "fai_d", "b", nodata) == [("2026", "1.0")]
    assert sample("status", "rate_d", "b", nodata) == [("2026", "1.0")]
    for indicator in ("fai_d", "rate_d"):
        assert sample("stale", indicator, "b") == [("2026", "1.0")]
        due = sample("next_release_due_timestamp_seconds", indicator, "b")
        assert due == [("2026", "1.7685216e+09")]  # the end of 15 January 2026, UTC
    # its late first figure pages once, as the 旬's (its January is late too, since 25
    # February), and a's 中旬 of March is not due before 25 March
    dekad = '{{horizon="dekad", indicator="{}", region="b", year="2026"}}'
    items = {"KpiDataStale": [dekad.format("fai_d"), dekad.format("rate_d")]}
    assert not _found(store, metrics, items | {"KpiBehindPace": [], "KpiBehindDekad": []})
    # a's 2026 check stands for it: neither the year before its figures nor the next
    assert sample("actual", "fai_d", "a") == [("2026", "70.0")]


def test_a_new_years_first_dekad_brings_its_year_checks_along(tmp_path: Path) -> None:
    """On 26 January 2026 January has only its 上旬, and its 中旬 was due on the 25th: the
    year checks shown are 2026's (no data yet), so the late 旬 figure's alert finds the
    year's end and owner of its own year (KpiDataStale joins on both)."""
    config = CONFIG.replace('frequency = "dekad"', 'frequency = "dekad"\nowner = "发改局"', 1)
    targets = "".join(
        f'\n[[targets]]\nindicator = "fai_d"\nregion = "a"\nyear = {y}\nannual = 360\n'
        for y in (2025, 2026)
    )
    (tmp_path / "config.toml").write_text(config + targets, encoding="utf-8")
    periods = [f"2025-{m:02d}-D{d}" for m in range(1, 13) for d in (1, 2, 3)] + ["2026-01-D1"]
    rows = "".join(f"{p},甲,fai_d,10\n" for p in periods)
    (tmp_path / "dekads_1.csv").write_text("旬,地区,指标,数值\n" + rows, encoding="utf-8")
    for args in (("ingest",), ("refresh", "--today", "2026-01-26")):
        done = run_kpiwatch(tmp_path, *args)
        assert done.returncode == 0, done.stdout + done.stderr
    con = open_store(tmp_path / "store.duckdb", read_only=True)
    try:
        metrics = render(read_snapshot_data(con), 0.0, 100_000).text.decode()
    finally:
        con.close()

    def years(name: str, horizon: str = "") -> list[tuple[str, str]]:
        first = f'horizon="{horizon}",' if horizon else ""
        pattern = rf'^kpiwatch_kpi_{name}\{{{first}[^}}]*year="(\d+)"[^}}]*\}} (\S+)$'
        return re.findall(pattern, metrics, re.M)

    assert years("actual") == [("2026", "10.0")]  # the 旬's 10; January has no month yet
    assert years("stale", "dekad") == [("2026", "1.0")]
    assert years("status", "year") and {y for y, _ in years("status", "year")} == {"2026"}
    assert [y for y, _ in years("horizon_end_timestamp_seconds", "year")] == ["2026"]
    assert years("target_info") == [("2026", "1.0")]
    assert 'owner="发改局",region="a",year="2026"' in metrics
    assert _pages(tmp_path, metrics, "KpiDataStale", '{horizon="dekad", year="2026"}')


def _pages(tmp: Path, metrics: str, alert: str, item: str) -> bool:
    """Whether the alert's generated expression finds exactly this item in the exported
    series, evaluated by promtool on them as scraped once a minute for half an hour."""
    done = run_kpiwatch(tmp, "rules", "-o", str(tmp / "rules"))
    assert done.returncode == 0, done.stdout + done.stderr
    groups = yaml.safe_load((tmp / "rules" / "kpiwatch-rules.yml").read_text(encoding="utf-8"))
    [expr] = [r["expr"] for g in groups["groups"] for r in g["rules"] if r.get("alert") == alert]
    series = [
        {"series": f'{name[:-1]},job="kpiwatch",instance="a"}}', "values": f"{value}x30"}
        for name, value in re.findall(r"^(kpiwatch_kpi_\w+\{.*\}) (\S+)$", metrics, re.M)
    ]
    found = {"expr": f"count by (horizon, year) ({expr})", "eval_time": "20m"}
    found["exp_samples"] = [{"labels": item, "value": 1}]  # type: ignore[assignment]
    test = {"interval": "1m", "input_series": series, "promql_expr_test": [found]}
    out = tmp / "pages.yml"
    out.write_text(yaml.safe_dump({"tests": [test]}, allow_unicode=True), encoding="utf-8")
    run = subprocess.run(["promtool", "test", "rules", str(out)], capture_output=True, text=True)
    return run.returncode == 0
