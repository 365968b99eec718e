"""The nowcast's mixed-frequency panel: monthly indicators and the quarterly target as
they were published by a date (release lags per series; vintages chosen by the caller)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from forecasts.schema import Transform

# Observations as the store's views hold them (one vintage per key).
OBS_COLUMNS = ["indicator", "measure", "period_end", "months", "value"]


@dataclass(frozen=True)
class SeriesSpec:
    """One monthly indicator of a nowcast: where it is stored and how it is transformed.

    `yoy`: the period's YoY % as published; a Jan–Feb combined release is the year-to-date
    YoY of February and stands for February (January stays missing). `ytd_yoy`: 1–N月累计
    YoY turned into the month's own YoY, weighting each month equally (levels are not
    needed; the combined Jan–Feb figure stands for February). `level`: as published (PMI).
    `log_yoy`: 100·log of the level over the level a year earlier.
    """

    name: str
    indicator: str
    transform: Transform
    lag_days: int
    region: str = "CN"


@dataclass(frozen=True)
class Panel:
    """The model's input: monthly columns and the quarterly target, as known on `as_of`."""

    monthly: pd.DataFrame  # PeriodIndex (M), one column per series
    quarterly: pd.DataFrame  # PeriodIndex (Q), one column: the target
    as_of: date


def released(obs: pd.DataFrame, lag_days: int, as_of: date) -> pd.DataFrame:
    """The rows published by as_of: each period's end plus the release lag."""
    ends = pd.to_datetime(obs["period_end"])
    return obs[ends + pd.Timedelta(days=lag_days) <= pd.Timestamp(as_of)]


def _by_month(rows: pd.DataFrame) -> pd.Series:
    ends = pd.to_datetime(rows["period_end"])
    index = pd.PeriodIndex(ends, freq="M")
    return pd.Series(rows["value"].to_numpy(dtype=float), index=index).groupby(level=0).last()


def monthly_series(obs: pd.DataFrame, spec: SeriesSpec, as_of: date) -> pd.Series:
    """One indicator's monthly series (PeriodIndex M) after its transformation."""
    rows = released(obs[obs["indicator"] == spec.indicator], spec.lag_days, as_of)
    measure = rows["measure"]
    if spec.transform == "yoy":
        own = _by_month(rows[(measure == "yoy_pct") & (rows["months"] == 1)])
        pair = _by_month(rows[(measure == "ytd_yoy_pct") | (rows["months"] == 2)])
        combined = pair[pair.index.isin(_jan_feb(rows))]
        return _spread_jan_feb(own.combine_first(combined), combined.index)
    if spec.transform == "ytd_yoy":
        ytd = _by_month(rows[measure == "ytd_yoy_pct"])
        month = _ytd_to_month(ytd)
        index = pd.PeriodIndex(month.index)
        lone = index[(index.month == 2) & ~(index - 1).isin(ytd.index)]
        return _spread_jan_feb(month, lone)
    levels = _by_month(rows[(measure == "value") & (rows["months"] == 1)])
    if spec.transform == "level":
        return levels.sort_index()
    logs = np.log(levels[levels > 0])
    lagged = logs.copy()
    lagged.index = lagged.index + 12
    return pd.Series(100 * (logs - lagged)).dropna().sort_index()


def _jan_feb(rows: pd.DataFrame) -> pd.PeriodIndex:
    """Februaries released as Jan–Feb combined (or with no own January figure)."""
    ends = pd.PeriodIndex(pd.to_datetime(rows["period_end"]), freq="M")
    combined = ends[(rows["months"] == 2).to_numpy()]
    own = ends[((rows["measure"] == "yoy_pct") & (rows["months"] == 1)).to_numpy()]
    febs = ends[(ends.month == 2)]
    lone = [p for p in febs.unique() if (p - 1) not in set(own)]
    return pd.PeriodIndex(list(combined.unique()) + lone, freq="M").unique()


def _spread_jan_feb(series: pd.Series, combined: pd.Index) -> pd.Series:
    """A Jan–Feb combined figure stands for both months (released with February)."""
    jan = pd.Series(series.reindex(combined).to_numpy(), index=pd.PeriodIndex(combined) - 1)
    return series.combine_first(jan).sort_index()


def _ytd_to_month(ytd: pd.Series) -> pd.Series:
    """Month m's YoY ≈ m·ytd(m) − (m−1)·ytd(m−1), months weighted equally."""
    out = {}
    for p, v in ytd.items():
        assert isinstance(p, pd.Period)
        prev = ytd.get(p - 1) if p.month > 1 else None
        if prev is not None:
            out[p] = p.month * float(v) - (p.month - 1) * float(prev)
        elif p.month <= 2:
            out[p] = float(v)  # January, or the Jan–Feb combined figure standing for February
    index = pd.PeriodIndex(list(out), freq="M")
    return pd.Series(list(out.values()), index=index, dtype=float).sort_index()


def quarterly_target(obs: pd.DataFrame, indicator: str, lag_days: int, as_of: date) -> pd.Series:
    """The target's quarterly YoY (PeriodIndex Q) as published by as_of."""
    rows = released(obs[obs["indicator"] == indicator], lag_days, as_of)
    rows = rows[(rows["measure"] == "yoy_pct") & (rows["months"] == 3)]
    index = pd.PeriodIndex(pd.to_datetime(rows["period_end"]), freq="Q")
    return pd.Series(rows["value"].to_numpy(dtype=float), index=index).groupby(level=0).last()


def build_panel(
    obs: pd.DataFrame,
    specs: list[SeriesSpec],
    target: str,
    target_lag_days: int,
    as_of: date,
    start: pd.Period,
    window: int = 3,
) -> Panel:
    """The monthly indicators and the target from `start` to the month of `as_of`.

    Each indicator is averaged over `window` months: a quarter's YoY is close to the mean
    of its months' YoY, so the average at the quarter's last month measures what the
    quarter's figure does (a Jan–Feb release counts for both its months).
    """
    end = pd.Period(as_of, freq="M")
    months = pd.period_range(start, end, freq="M")
    cols = {s.name: monthly_series(obs, s, as_of).reindex(months) for s in specs}
    monthly = pd.DataFrame(cols, index=months).rolling(window, min_periods=window).mean()
    monthly = monthly.loc[:, monthly.notna().sum() >= 12]  # too little to estimate a loading
    quarters = pd.period_range(start.asfreq("Q"), end.asfreq("Q"), freq="Q")
    gdp = quarterly_target(obs, target, target_lag_days, as_of).reindex(quarters)
    return Panel(monthly, pd.DataFrame({target: gdp}, index=quarters), as_of)


def month_ends(quarter: pd.Period) -> list[date]:
    """The last day of each month of the quarter."""
    return [
        (p.to_timestamp(how="end")).date()
        for p in pd.period_range(
            quarter.asfreq("M", how="start"), quarter.asfreq("M", how="end"), freq="M"
        )
    ]


def release_date(period_end: date, lag_days: int) -> date:
    """The day a period's figure is published."""
    return period_end + timedelta(days=lag_days)
