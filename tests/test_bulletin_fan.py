"""The progress chart's forecast fan passes through every forecast the store holds."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from exporters.bulletin import Scope, gather
from exporters.bulletin_charts import ProgressChart, fan
from exporters.bulletin_page import progress_specs
from kpiwatch import app
from kpiwatch.board import read_store
from kpiwatch.config import load_config

CONFIG = """
[store]
path = "store.duckdb"

[[regions]]
id = "west_coast"
name = "西海岸新区"

[[indicators]]
id = "started"
name = "项目开工"
kind = "flow"

[[indicators]]
id = "building"
name = "在建项目"
kind = "stock"

[[sources]]
name = "data"
path = "data.csv"
layout = "long"
[sources.columns]
period = "period"
region = "region"
series = "indicator"
measure = "measure"
value = "value"

[[targets]]
indicator = "started"
region = "west_coast"
year = 2026
annual = 150

[[targets]]
indicator = "building"
region = "west_coast"
year = 2026
annual = 60
"""
# Two years of monthly starts and of projects under construction, to May 2026: the
# forecasts are made for June (the quarter's end) and December (the year's).
STARTS = [9, 14, 11, 8, 13, 12, 10, 15, 9, 12, 11, 14] * 2 + [10, 13, 8, 12, 15]
BUILDING = [40 + (n % 7) for n in range(29)]


@pytest.fixture(scope="module")
def charts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, ProgressChart]]:
    root = tmp_path_factory.mktemp("fan")
    (root / "config.toml").write_text(CONFIG, encoding="utf-8")
    months = [f"{2024 + n // 12}-{n % 12 + 1:02d}" for n in range(len(STARTS))]
    lines = ["period,region,indicator,measure,value"]
    lines += [f"{m},west_coast,started,value,{v}" for m, v in zip(months, STARTS, strict=True)]
    lines += [f"{m},west_coast,building,value,{v}" for m, v in zip(months, BUILDING, strict=True)]
    (root / "data.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = load_config(root / "config.toml")
    assert all(o.error is None for o in app.ingest(config, known_from=datetime(2026, 6, 5)))
    app.refresh(config, date(2026, 6, 10))
    with read_store(config) as con:
        _, specs = progress_specs(gather(con, Scope(2026, 5)))
    found = {c.key: c for c in specs if isinstance(c, ProgressChart)}
    return config.store_path, found


def _stored(store: Path, indicator: str) -> dict[str, tuple[float, ...]]:
    """The forecasts made with May's data, by horizon, read apart from the bulletin."""
    con = duckdb.connect(str(store), read_only=True)
    try:
        rows = con.execute(
            "SELECT horizon, horizon_month, point, lower80, upper80, lower95, upper95 "
            "FROM forecast_results WHERE indicator = ? AND year = 2026 AND month = 5",
            [indicator],
        ).fetchall()
    finally:
        con.close()
    return {str(h): tuple(float(v) for v in rest) for h, *rest in rows}


def test_a_flows_fan_stands_the_quarter_on_the_year_to_date_before_it(
    charts: tuple[Path, dict[str, ProgressChart]],
) -> None:
    store, found = charts
    chart = found["c-started-west_coast"]
    stored = _stored(store, "started")
    assert stored["quarter"][0] == 6 and stored["year"][0] == 12
    f = fan(chart)
    assert f is not None and f.months == [5, 6, 12]
    ytd = dict(zip(chart.months, chart.actual, strict=True))
    assert ytd[5] == sum(STARTS[-5:]) and ytd[3] == sum(STARTS[-5:-2])
    # June: the quarter's own forecast on top of the year to date at the end of March
    june = [ytd[3] + v for v in stored["quarter"][1:]]
    assert [f.point[1], f.lower80[1], f.upper80[1], f.lower95[1], f.upper95[1]] == (
        pytest.approx(june)
    )
    assert [f.point[2], f.lower80[2], f.upper80[2], f.lower95[2], f.upper95[2]] == (
        pytest.approx(list(stored["year"][1:]))
    )
    _widens(f.lower80, f.upper80, f.lower95, f.upper95)


def test_a_levels_fan_passes_through_the_quarters_level_as_stored(
    charts: tuple[Path, dict[str, ProgressChart]],
) -> None:
    store, found = charts
    f = fan(found["c-building-west_coast"])
    stored = _stored(store, "building")
    assert f is not None and f.months == [5, 6, 12]
    assert f.point[1:] == pytest.approx([stored["quarter"][1], stored["year"][1]])
    assert f.point[0] == BUILDING[-1]
    _widens(f.lower80, f.upper80, f.lower95, f.upper95)


def _widens(lo80: list[float], hi80: list[float], lo95: list[float], hi95: list[float]) -> None:
    """From nothing at the last actual, each band wider at the year's end than at the
    quarter's, the 95 % band around the 80 % one."""
    widths80 = [h - lo for lo, h in zip(lo80, hi80, strict=True)]
    widths95 = [h - lo for lo, h in zip(lo95, hi95, strict=True)]
    assert widths80[0] == widths95[0] == 0
    assert 0 < widths80[1] < widths80[2] and 0 < widths95[1] < widths95[2]
    assert all(a <= b for a, b in zip(lo95, lo80, strict=True))
    assert all(a >= b for a, b in zip(hi95, hi80, strict=True))
