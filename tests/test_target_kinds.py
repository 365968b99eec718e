"""Targets relative to another region (增速高于全省、全市增速): checked against its
published figures and forecast against its own forecast."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from forecasts.relative import Aim, aim_at
from forecasts.stage import plan_jobs
from ingest.errors import ConfigError
from ingest.store import open_store
from kpiwatch import app
from kpiwatch.config import Config, load_config
from metrics.actuals import actuals_table
from tests.checks_helpers import CONFIG, one, pipeline

# West Coast against the reference region CN, quarterly GDP growth: Q1 beats CN by
# 0.1 pp, Q2 falls 0.1 pp short of it, Q3 has no reference figure yet.
RELATIVE_ROWS = """
2026Q1,CN,gdp_growth,yoy_pct,5.3
2026Q1,CN,gdp_growth,ytd_yoy_pct,5.3
2026Q2,CN,gdp_growth,yoy_pct,5.3
2026Q2,CN,gdp_growth,ytd_yoy_pct,5.3
2026Q1,west_coast,gdp_growth,yoy_pct,5.4
2026Q1,west_coast,gdp_growth,ytd_yoy_pct,5.4
2026Q2,west_coast,gdp_growth,yoy_pct,5.0
2026Q2,west_coast,gdp_growth,ytd_yoy_pct,5.2
2026Q3,west_coast,gdp_growth,yoy_pct,5.0
2026Q3,west_coast,gdp_growth,ytd_yoy_pct,5.1
2026Q1,zone_a,gdp_growth,ytd_yoy_pct,5.6
2026Q2,zone_a,gdp_growth,ytd_yoy_pct,5.6
2026-03,CN,industry_growth,yoy_pct,5.0
2026-03,CN,industry_growth,ytd_yoy_pct,5.0
2026-03,zone_b,industry_growth,yoy_pct,5.1
2026-03,zone_b,industry_growth,ytd_yoy_pct,4.9
"""

RELATIVE = """
[[targets]]
indicator = "gdp_growth"
region = "west_coast"
year = 2026
relative_to = "CN"

[[targets]]
indicator = "gdp_growth"
region = "zone_a"
year = 2026
relative_to = "west_coast"
margin_pp = 0.5

[[indicators]]
id = "industry_growth"
name = "规上工业增加值增速"
unit = "%"
kind = "growth"

[[targets]]
indicator = "industry_growth"
region = "zone_b"
year = 2026
relative_to = "CN"
"""


@pytest.fixture(scope="module")
def relative(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return pipeline(tmp_path_factory.mktemp("relative"), RELATIVE_ROWS, RELATIVE)


def test_a_relative_target_met_by_a_tenth_of_a_point_is_on_track(relative: Config) -> None:
    q1 = one(relative, "west_coast", "2026Q1", "year", "gdp_growth")
    assert q1["pace_target"] == pytest.approx(5.3)  # CN's published rate to date
    assert round(q1["gap"], 2) == 0.10
    assert q1["status"] == "on_track"
    assert q1["pacing"] == "relative to CN (+0 pp)"
    quarter = one(relative, "west_coast", "2026Q1", "quarter", "gdp_growth")
    assert (round(quarter["gap"], 2), quarter["status"]) == (0.10, "on_track")


def test_a_relative_target_missed_by_a_tenth_of_a_point_is_at_risk(relative: Config) -> None:
    q2 = one(relative, "west_coast", "2026Q2", "year", "gdp_growth")
    assert (round(q2["gap"], 2), q2["status"]) == (-0.10, "at_risk")  # yellow within 0.5 pp
    quarter = one(relative, "west_coast", "2026Q2", "quarter", "gdp_growth")
    assert round(quarter["gap"], 2) == -0.30  # the quarter's own 5.0 % against CN's 5.3 %
    assert quarter["status"] == "at_risk"


def test_a_monthly_rate_is_compared_month_by_month_and_to_date(relative: Config) -> None:
    # March's own rate beats CN's by 0.1 pp; the rate to date misses CN's by 0.1 pp
    month = one(relative, "zone_b", "2026-03", "month", "industry_growth")
    assert (month["pace_target"], round(month["gap"], 2), month["status"]) == (
        pytest.approx(5.0),
        0.10,
        "on_track",
    )
    for horizon in ("quarter", "year"):
        row = one(relative, "zone_b", "2026-03", horizon, "industry_growth")
        assert (round(row["gap"], 2), row["status"]) == (-0.10, "at_risk")


def test_a_period_the_reference_has_not_published_is_no_data(relative: Config) -> None:
    assert one(relative, "west_coast", "2026Q3", "year", "gdp_growth")["status"] == "no_data"


def test_a_margin_is_added_to_the_reference_which_may_be_any_region(relative: Config) -> None:
    q1 = one(relative, "zone_a", "2026Q1", "year", "gdp_growth")
    assert q1["pace_target"] == pytest.approx(5.9)  # West Coast's 5.4 % + 0.5 pp
    assert (round(q1["gap"], 2), q1["status"]) == (-0.30, "at_risk")
    q2 = one(relative, "zone_a", "2026Q2", "year", "gdp_growth")
    assert (round(q2["gap"], 2), q2["status"]) == (-0.10, "at_risk")  # 5.6 against 5.7


def test_the_forecast_aims_at_the_references_latest_rate_without_its_forecast(
    relative: Config,
) -> None:
    con = duckdb.connect(str(relative.store_path))
    try:
        with actuals_table(con, relative.regions):
            jobs, aims = plan_jobs(
                con, relative.targets, relative.indicator_map(), relative.forecasts
            )
    finally:
        con.close()
    by_region = {j.region: j for j in jobs}
    # West Coast's data reach Q3; CN's latest rate to date by then is Q2's 5.3 %
    assert by_region["west_coast"].year_target == pytest.approx(5.3)
    assert by_region["west_coast"].quarter_target == pytest.approx(5.3)
    assert aims[("gdp_growth", "west_coast", 2026)] == Aim("CN", 0.0, 5.3, 6, ((3, 5.3), (6, 5.3)))
    assert by_region["zone_a"].year_target == pytest.approx(5.7)  # 5.2 + 0.5 as of Q2


def test_a_reference_ahead_is_aimed_at_by_its_published_rate(relative: Config) -> None:
    con = duckdb.connect(str(relative.store_path))
    try:
        with actuals_table(con, relative.regions):
            jobs, aims = plan_jobs(
                con, relative.targets, relative.indicator_map(), relative.forecasts
            )
    finally:
        con.close()
    zone_a = next(j for j in jobs if j.region == "zone_a")  # its data reach Q2
    aimed, labels = aim_at(zone_a, aims[("gdp_growth", "zone_a", 2026)], {})
    # West Coast has published Q3 (5.1 % to date): Q3 is no longer a forecast
    assert aimed.quarter_target == pytest.approx(5.6)
    assert labels["quarter"] == "aims at west_coast's published rate 5.10 for 2026Q3 +0.5 pp"
    assert aimed.year_target == pytest.approx(5.7)  # no forecast to Q4: 5.2 as of Q2
    assert labels["year"] == (
        "aims at west_coast's latest rate 5.20 (2026Q2) +0.5 pp: "
        "west_coast has no forecast to 2026Q4"
    )


# CN's quarterly rates are 5.0 % throughout, its cumulative rate at 2026Q2 is published as
# 5.3 % (weighted by levels). So CN's forecast: 5.3 % over six months, then 5.0 %: the
# year (6 × 5.3 + 6 × 5.0) / 12 = 5.15 %, Q3 (6 × 5.3 + 3 × 5.0) / 9 = 5.2 %; its latest
# rate is 5.3 %. The province SD has no target, so no forecast: its latest rate, 5.8 %.
AIM_ROWS = "\n".join(
    [
        f"{y}Q{q},{r},gdp_growth,{m},{v}"
        for y in (2024, 2025, 2026)
        for q in (1, 2, 3, 4)
        if (y, q) <= (2026, 2)
        for r, v in (("CN", 5.0), ("west_coast", 5.5 + q / 10), ("SD", 5.8))
        for m in ("yoy_pct", "ytd_yoy_pct")
    ]
).replace("2026Q2,CN,gdp_growth,ytd_yoy_pct,5.0", "2026Q2,CN,gdp_growth,ytd_yoy_pct,5.3")

AIM = """
[[regions]]
id = "SD"
name = "山东省"

[[targets]]
indicator = "gdp_growth"
region = "CN"
year = 2026
annual = 5.0

[[targets]]
indicator = "gdp_growth"
region = "west_coast"
year = 2026
relative_to = "CN"
margin_pp = 0.5

[[targets]]
indicator = "gdp_growth"
region = "zone_a"
year = 2026
relative_to = "west_coast"

[[targets]]
indicator = "gdp_growth"
region = "zone_b"
year = 2026
relative_to = "SD"
margin_pp = 0.5
"""


Aimed = dict[tuple[str, str], tuple[float, float, str]]


@pytest.fixture(scope="module")
def aim_store(tmp_path_factory: pytest.TempPathFactory) -> Config:
    tmp = tmp_path_factory.mktemp("aim")
    zones = "\n".join(
        r.replace("west_coast", z)
        for z in ("zone_a", "zone_b")
        for r in AIM_ROWS.splitlines()
        if ",west_coast," in r
    )
    config = pipeline(tmp, AIM_ROWS + "\n" + zones, AIM)
    app.refresh(config, date(2026, 8, 1))
    return config


def aims_stored(config: Config) -> Aimed:
    """(region, horizon) → the stored forecast's target, point and note."""
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        rows = con.execute(
            "SELECT region, horizon, horizon_target, point, why FROM forecasts_latest"
        ).fetchall()
    finally:
        con.close()
    return {(r, h): (t, p, why) for r, h, t, p, why in rows}


@pytest.fixture(scope="module")
def aimed(aim_store: Config) -> Aimed:
    return aims_stored(aim_store)


def test_a_relative_target_is_forecast_against_the_references_forecast(aimed: Aimed) -> None:
    cn_year, cn_quarter = aimed[("CN", "year")][1], aimed[("CN", "quarter")][1]
    assert (round(cn_year, 4), round(cn_quarter, 4)) == (5.15, 5.2)  # by hand, above
    target, _, why = aimed[("west_coast", "year")]
    assert target == pytest.approx(5.65)  # CN's 5.15 + 0.5, not its latest 5.3 + 0.5
    assert why.endswith("aims at CN's forecast 5.15 for 2026Q4 +0.5 pp")
    target, _, why = aimed[("west_coast", "quarter")]
    assert target == pytest.approx(5.7)
    assert why.endswith("aims at CN's forecast 5.20 for 2026Q3 +0.5 pp")


def test_a_chain_of_references_aims_at_the_forecast_of_the_next(aimed: Aimed) -> None:
    west_point = aimed[("west_coast", "year")][1]
    target, _, why = aimed[("zone_a", "year")]
    assert target == pytest.approx(west_point)  # its own forecast, not its target 5.65
    assert why.endswith(f"aims at west_coast's forecast {west_point:.2f} for 2026Q4 +0 pp")


def test_without_a_forecast_of_the_reference_the_latest_rate_is_the_aim(aimed: Aimed) -> None:
    for horizon, end in (("year", "2026Q4"), ("quarter", "2026Q3")):
        target, _, why = aimed[("zone_b", horizon)]
        assert target == pytest.approx(6.3)  # SD's latest 5.8 + 0.5
        assert why.endswith(
            f"aims at SD's latest rate 5.80 (2026Q2) +0.5 pp: SD has no forecast to {end}"
        )


def test_a_refresh_with_nothing_new_reuses_the_aimed_forecasts(
    aim_store: Config, aimed: Aimed
) -> None:
    con = open_store(aim_store.store_path)
    try:  # every target planned: the relative ones are aimed again, at the same values
        _, forecasts = app.refresh_with(con, aim_store, date(2026, 8, 1), full=True)
    finally:
        con.close()
    assert (forecasts.series, forecasts.computed) == (4, 0)
    assert aims_stored(aim_store) == aimed


def test_a_forecast_as_of_a_moment_aims_at_the_references_forecast_then(
    aim_store: Config, aimed: Aimed
) -> None:
    rows = app.forecast_rows_as_of(aim_store, "gdp_growth", "zone_a", datetime.now())
    assert [(r["region"], r["horizon"]) for r in rows] == [
        ("zone_a", "year"),
        ("zone_a", "quarter"),
    ]
    assert rows[0]["target"] == pytest.approx(aimed[("west_coast", "year")][1])
    assert str(rows[0]["note"]).endswith(aimed[("zone_a", "year")][2].rsplit("; ", 1)[1])


@pytest.mark.parametrize(
    ("target", "where", "why"),
    [
        ('relative_to = "nowhere"', ", region=west_coast, year=2026].relative_to", "unknown"),
        ('relative_to = "CN"\nannual = 5.0', "", "takes no annual"),
        ('relative_to = "west_coast"', "", "its own reference"),
        ("margin_pp = 0.5\nannual = 5.0", "", "only used with relative_to"),
    ],
)
def test_relative_targets_that_cannot_be_checked_are_refused(
    tmp_path: Path, target: str, where: str, why: str
) -> None:
    text = '[[targets]]\nindicator = "gdp_growth"\nregion = "west_coast"\nyear = 2026\n'
    (tmp_path / "config.toml").write_text(CONFIG + text + target + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "config.toml")
    assert why in str(err.value)
    assert f"targets[indicator=gdp_growth{where}" in str(err.value)


def test_only_a_growth_rate_is_compared_with_another_region(tmp_path: Path) -> None:
    text = '[[targets]]\nindicator = "projects_started"\nregion = "west_coast"\nyear = 2026\n'
    (tmp_path / "config.toml").write_text(CONFIG + text + 'relative_to = "CN"\n', "utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "config.toml")
    where = "targets[indicator=projects_started, region=west_coast, year=2026].relative_to"
    assert where in str(err.value)
    assert "only a growth rate" in str(err.value)
