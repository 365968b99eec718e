"""Growth rates forecast as what they are: the cumulative rate the target is judged on,
from the periods already known, with no season taken out of a year-on-year rate."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from forecasts.engine import seasonal_indices
from forecasts.growth import (
    RateData,
    Row,
    backtest_errors,
    combined,
    forecast_growth,
    member_points,
    rate_data,
    rate_series,
)
from kpiwatch import app
from kpiwatch.config import Config
from tests.checks_helpers import pipeline

# China's GDP, constant prices, 2012Q1–2023Q4 (NBS): the cumulative rate 累计同比 and the
# quarter's own rate 当季同比, in percent.
GDP = {
    2012: ((8.1, 7.9, 7.8, 7.9), (8.1, 7.7, 7.5, 8.1)),
    2013: ((7.9, 7.7, 7.8, 7.8), (7.9, 7.6, 7.9, 7.7)),
    2014: ((7.4, 7.4, 7.3, 7.3), (7.5, 7.6, 7.2, 7.3)),
    2015: ((7.0, 7.0, 6.9, 6.9), (7.1, 7.1, 7.0, 6.9)),
    2016: ((6.7, 6.7, 6.7, 6.7), (6.9, 6.8, 6.8, 6.9)),
    2017: ((6.9, 6.9, 6.9, 6.9), (7.0, 7.0, 6.9, 6.8)),
    2018: ((6.8, 6.8, 6.7, 6.6), (6.9, 6.9, 6.7, 6.5)),
    2019: ((6.4, 6.3, 6.2, 6.1), (6.3, 6.0, 5.9, 5.8)),
    2020: ((-6.8, -1.6, 0.7, 2.3), (-6.9, 3.1, 4.8, 6.4)),
    2021: ((18.3, 12.7, 9.8, 8.1), (18.3, 7.9, 4.9, 4.0)),
    2022: ((4.8, 2.5, 3.0, 3.0), (4.8, 0.4, 3.9, 2.9)),
    2023: ((4.5, 5.5, 5.2, 5.2), (4.5, 6.3, 4.9, 5.2)),
}
TARGET = """
[[targets]]
indicator = "gdp_growth"
region = "CN"
year = 2023
annual = 5.0
"""


def gdp_rows(to_quarter: int, measures: tuple[str, ...] = ("ytd_yoy_pct",)) -> str:
    """The data file's rows up to a quarter of 2023."""
    rows = []
    for year, (cum, own) in GDP.items():
        for q in range(1, 5):
            if (year, q) > (2023, to_quarter):
                continue
            values = {"ytd_yoy_pct": cum[q - 1], "yoy_pct": own[q - 1]}
            rows += [f"{year}Q{q},CN,gdp_growth,{m},{values[m]}" for m in measures]
    return "\n".join(rows)


def year_forecast(config: Config) -> dict[str, object]:
    app.refresh_forecasts(config)
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        cur = con.execute(
            "SELECT * FROM forecast_results WHERE indicator = 'gdp_growth' AND horizon = 'year'"
        )
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
    assert len(rows) == 1, rows
    return rows[0]


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    """The year's forecast from the cumulative rate only, as of Q1 and as of Q1–3, and
    from both published rates as of Q1–3."""
    out = {}
    for name, quarter, measures in (
        ("q1", 1, ("ytd_yoy_pct",)),
        ("q3", 3, ("ytd_yoy_pct",)),
        ("both", 3, ("ytd_yoy_pct", "yoy_pct")),
    ):
        tmp: Path = tmp_path_factory.mktemp(name)
        out[name] = year_forecast(pipeline(tmp, gdp_rows(quarter, measures), TARGET))
    return out


def test_a_cumulative_only_series_is_forecast(stores: dict[str, dict[str, object]]) -> None:
    row = stores["q3"]
    assert row["model"] == "rates(naive, theta)" and row["point"] is not None
    # Q1–3 at 5.2 %: the year ends within a few tenths of it, likely above 5 %
    assert 4.9 < float(row["point"]) < 5.5  # type: ignore[arg-type]
    assert 0.5 < float(row["p_meet"]) < 1.0  # type: ignore[arg-type]
    assert "not seasonally adjusted" in str(row["note"])


def test_three_quarters_known_narrow_the_years_interval(
    stores: dict[str, dict[str, object]],
) -> None:
    def width(row: dict[str, object]) -> float:
        return float(row["upper80"]) - float(row["lower80"])  # type: ignore[arg-type]

    assert width(stores["q3"]) < width(stores["q1"]) / 2
    # the published quarter rates add to the cumulative: the same kind of forecast
    assert width(stores["both"]) < width(stores["q1"]) / 2
    assert abs(float(stores["both"]["point"]) - float(stores["q3"]["point"])) < 0.3  # type: ignore[arg-type]


def test_a_yoy_rate_is_never_seasonally_adjusted(stores: dict[str, dict[str, object]]) -> None:
    rows = [
        (y, 3 * q, cum[q - 1], own[q - 1], 3)
        for y, (cum, own) in GDP.items()
        for q in range(1, 5)
        if (y, q) <= (2023, 3)
    ]
    data = rate_data(rows, 3)
    x = rate_series(data, 2023 * 12 + 8)
    # persistence the seasonality test takes for a season ...
    assert seasonal_indices(x, 4) is not None
    # ... yet the year is forecast from the rates as they are
    points = member_points(data, 2023, 9, 5.2, (12,))
    assert list(points) == ["naive", "theta"]
    (expected,) = combined(points)
    assert float(stores["both"]["point"]) == pytest.approx(expected, abs=0.1)  # type: ignore[arg-type]


def test_period_rates_are_derived_from_the_cumulative_rate() -> None:
    # monthly, Jan–Feb published together: 1–2月 6 %, 1–3月 5 % → March 3 %
    data = rate_data([(2023, 2, 6.0, None, None), (2023, 3, 5.0, None, None)], 1)
    assert dict(data.rates) == {2023 * 12: 6.0, 2023 * 12 + 1: 6.0, 2023 * 12 + 2: 3.0}
    # quarterly rates only: the cumulative rate is their mean once the year's are known
    quarters = rate_data([(2023, 3, 4.0, 4.0, 3), (2023, 6, 6.0, 6.0, 3)], 3)
    assert dict(quarters.cumulative)[2023 * 12 + 5] == pytest.approx(5.0)
    assert np.allclose(rate_series(quarters, 2023 * 12 + 5), [4.0, 6.0])


def test_the_spread_is_calibrated_on_past_years_only() -> None:
    def rows(last: tuple[int, int], wild_after: bool = False) -> list[Row]:
        out: list[Row] = [
            (y, 3 * q, cum[q - 1], None, None)
            for y, (cum, _) in GDP.items()
            for q in range(1, 5)
            if (y, q) <= last
        ]
        if wild_after:  # later years, however odd, are not what it learns from
            out += [(2024, 3 * q, 30.0 * (-1) ** q, None, None) for q in range(1, 5)]
        return out

    def year(data: RateData) -> np.ndarray:
        return forecast_growth(data, 2023, 9, 12, 5.2, 400).year

    known = rate_data(rows((2023, 3)), 3)
    assert np.array_equal(year(known), year(rate_data(rows((2023, 3), True), 3)))
    # as of Q1–3, the spread is that of the errors made as of Q1–3 of past years
    errors, _ = backtest_errors(known, 9, (12,), 2023)
    spread = 1.4826 * np.median(np.abs(errors[0]))
    assert len(errors[0]) == 2023 - 2012 - 3
    assert np.percentile(year(known), 90) - np.mean(year(known)) == pytest.approx(
        1.2816 * spread, rel=0.02
    )


# Industrial value added above designated size, cumulative YoY % (NBS), 2016-02..2023-08:
# January and February are published together, so each year starts at February.
IAV = {
    2016: (5.4, 5.8, 5.8, 5.9, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0),
    2017: (6.3, 6.8, 6.7, 6.7, 6.9, 6.8, 6.7, 6.7, 6.7, 6.6, 6.6),
    2018: (7.2, 6.8, 6.9, 6.9, 6.7, 6.6, 6.5, 6.4, 6.4, 6.3, 6.2),
    2019: (5.3, 6.5, 6.2, 6.0, 6.0, 5.8, 5.6, 5.6, 5.6, 5.6, 5.7),
    2020: (-13.5, -8.4, -4.9, -2.8, -1.3, -0.4, 0.4, 1.2, 1.8, 2.3, 2.8),
    2021: (35.1, 24.5, 20.3, 17.8, 15.9, 14.4, 13.1, 11.8, 10.9, 10.1, 9.6),
    2022: (7.5, 6.5, 4.0, 3.3, 3.4, 3.5, 3.6, 3.9, 4.0, 3.8, 3.6),
    2023: (2.4, 3.0, 3.6, 3.6, 3.8, 3.8, 3.9),
}
MONTHLY = """
[[indicators]]
id = "iav_growth"
name = "规模以上工业增加值增速"
unit = "%"
kind = "growth"

[[targets]]
indicator = "iav_growth"
region = "CN"
year = 2023
annual = 4.0
"""


def test_a_monthly_cumulative_only_series_is_forecast_to_quarter_and_year(
    tmp_path: Path,
) -> None:
    rows = "\n".join(
        f"{y}-{m:02d},CN,iav_growth,ytd_yoy_pct,{v}"
        for y, values in IAV.items()
        for m, v in zip(range(2, 13), values, strict=False)
    )
    config = pipeline(tmp_path, rows, MONTHLY)
    app.refresh_forecasts(config)
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        found = con.execute(
            "SELECT horizon, horizon_month, point, lower80, upper80, model FROM forecast_results "
            "WHERE indicator = 'iav_growth'"
        ).fetchall()
    finally:
        con.close()
    by = {r[0]: r for r in found}
    assert by["year"][5] == by["quarter"][5] == "rates(naive, theta)"
    assert by["quarter"][1] == 9 and by["year"][1] == 12
    # Jan–Aug at 3.9 %: September moves it by a ninth of its own surprise
    assert abs(by["quarter"][2] - 3.9) < 0.3 and 3.3 < by["year"][2] < 4.6
    assert by["quarter"][4] - by["quarter"][3] < by["year"][4] - by["year"][3]
