"""The analysts' views of forecasts and of where each target stands now, on a real store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from kpiwatch import app
from kpiwatch.config import Config
from tests.checks_helpers import pipeline

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

EXTRA = """
[[indicators]]
id = "fai"
name = "固定资产投资"
unit = "亿元"
kind = "flow"

[[targets]]
indicator = "projects_started"
region = "zone_a"
year = 2026
annual = 1200
owner = "A区管委"
[[targets]]
indicator = "projects_started"
region = "zone_b"
year = 2026
annual = 1500
[[targets]]
indicator = "gdp_growth"
region = "CN"
year = 2026
annual = 5.0
[[targets]]
indicator = "fai"
region = "CN"
year = 2026
annual = 1200
"""


def _rows() -> str:
    rows = []
    for year in (2024, 2025, 2026):
        for m in range(1, 13):
            if (year, m) <= (2026, 9):
                rows.append(f"{year}-{m:02d},zone_a,projects_started,value,{100 + m % 3}")
                rows.append(f"{year}-{m:02d},zone_b,projects_started,value,{60 + m % 3}")
    for year in (2023, 2024, 2025, 2026):
        for q in range(1, 5):
            if (year, q) <= (2026, 3):
                rate = 5.0 + 0.1 * q - 0.05 * (year - 2023)
                rows.append(f"{year}Q{q},CN,gdp_growth,yoy_pct,{rate:.2f}")
                rows.append(f"{year}Q{q},CN,gdp_growth,ytd_yoy_pct,{rate:.2f}")
    rows += ["2026年1-2月,CN,fai,ytd,120", "2026年3月,CN,fai,ytd,200", "2026年4月,CN,fai,ytd,290"]
    return "\n".join(rows)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Config, Path]]:
    """Two refreshes: zone_a's October arrives between them, so it has two data months."""
    tmp = tmp_path_factory.mktemp("views")
    config = pipeline(tmp, _rows(), EXTRA)
    app.refresh(config, date(2026, 11, 1))
    more = tmp / "october.csv"
    more.write_text(
        "period,region,indicator,measure,value\n2026-10,zone_a,projects_started,value,101\n",
        encoding="utf-8",
    )
    (outcome,) = app.ingest(config, [more], source_name="data")
    assert outcome.error is None, outcome.error
    app.refresh(config, date(2026, 11, 20))
    yield config, config.store_path


def _query(path: Path, sql: str) -> list[dict[str, object]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def test_forecasts_view_names_every_stored_forecast(store: tuple[Config, Path]) -> None:
    _, path = store
    stored = _query(path, "SELECT count(*) AS n FROM forecast_results")[0]["n"]
    rows = _query(path, "SELECT * FROM forecasts ORDER BY indicator, region, as_of_end, horizon")
    assert len(rows) == stored > 0
    a = [r for r in rows if r["region"] == "zone_a" and r["horizon"] == "year"]
    assert [r["as_of"] for r in a] == ["2026-09", "2026-10"]  # the earlier month stays
    latest = a[-1]
    assert (latest["indicator_name"], latest["unit"], latest["region_name"]) == (
        "重点项目开工",
        "个",
        "A区",
    )
    assert latest["owner"] == "A区管委"  # the target's own, before the indicator's
    assert latest["horizon_target"] == 1200 and latest["horizon_end"] == date(2026, 12, 31)
    assert latest["lower95"] <= latest["lower80"] <= latest["point"] <= latest["upper80"]
    assert 0 <= latest["p_meet"] <= 1 and latest["model"] and latest["why"]
    b = next(r for r in rows if r["region"] == "zone_b" and r["horizon"] == "year")
    assert b["owner"] == "发展改革局" and b["forecast_status"] == "behind"
    assert b["expected_shortfall"] > 0
    gdp = [r for r in rows if r["indicator"] == "gdp_growth"]
    assert {(r["as_of"], r["horizon"], r["unit"]) for r in gdp} == {
        ("2026Q3", "year", "%"),
        ("2026Q3", "quarter", "%"),
    }


def _latest_by_window(view: str) -> str:
    """The latest rows of a view the long way, with a window function."""
    return (
        f"SELECT * EXCLUDE (n) FROM (SELECT *, rank() OVER (PARTITION BY indicator, region, "
        f"year ORDER BY as_of_end DESC) AS n FROM {view}) WHERE n = 1"
    )


@pytest.mark.parametrize(
    ("latest", "view"), [("progress_latest", "progress"), ("forecasts_latest", "forecasts")]
)
def test_latest_views_hold_each_targets_latest_rows(
    store: tuple[Config, Path], latest: str, view: str
) -> None:
    _, path = store
    key = "indicator, region, year, horizon"
    got = _query(path, f"SELECT * FROM {latest} ORDER BY {key}")
    assert got == _query(path, f"{_latest_by_window(view)} ORDER BY {key}")
    assert len({(r["indicator"], r["region"], r["year"], r["horizon"]) for r in got}) == len(got)
    zone_a = {r["as_of"] for r in got if r["region"] == "zone_a"}
    assert zone_a == {"2026-10"}


def _readme_queries() -> list[str]:
    block = re.search(r"Three everyday questions.*?```sql\n(.*?)```", README, flags=re.S)
    assert block, "the README's analyst questions are missing"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_questions_are_answered_in_one_line(store: tuple[Config, Path]) -> None:
    _, path = store
    behind, monthly, gdp = _readme_queries()
    rows = _query(path, behind)
    assert [(r["region_name"], r["as_of"]) for r in rows] == [("B区", "2026-09")]
    assert "done of" in str(rows[0]["reason"])
    values = [(r["period"], r["value"], r["basis"]) for r in _query(path, monthly)]
    assert values == [
        ("2026-01/02", 120.0, "from_ytd"),
        ("2026-03", 80.0, "from_ytd"),
        ("2026-04", 90.0, "from_ytd"),
    ]
    (answer,) = _query(path, gdp)
    assert answer["as_of"] == "2026Q3" and answer["horizon_target"] == 5.0
    assert 0 <= answer["p_meet"] <= 1 and answer["why"]
