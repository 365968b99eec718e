"""Year-on-year growth rates: the period rates forecast as they are, the cumulative rate.

A YoY rate has no season to remove (its autocorrelation decays; it has no peak at the
seasonal lag), so the period rates are forecast without seasonal adjustment. The
cumulative rate (累计同比) the targets are judged on is built from the one already
published plus the forecast rates of the periods still to come, each month weighing
the same: with three quarters in, the fourth moves the year's rate by a quarter of its
own surprise. Where only the cumulative rate is published, each period's rate is
derived from it. The spread of the year's (and the quarter's) cumulative rate is taken
from the errors the same forecast made at the same point of past years.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from forecasts.engine import TooShort
from forecasts.models import Array, Forecaster, Naive, Theta

# One month of a series' actuals: year, month, to_date, own, own_months.
Row = tuple[int, int, float | None, float | None, int | None]
MIN_RATES = 6  # the fewest period rates to forecast from
MIN_TRAIN_YEARS = 3  # a past year is a backtest origin with this many years before it
PRIOR_ORIGINS = 2.0  # the model's own spread counts as this many backtest origins
MIN_ROBUST = 5  # past years needed for a spread from their median error
ROUNDING_SD = 0.03  # a rate published to one decimal is uncertain by this much at least


@dataclass(frozen=True)
class RateData:
    """A growth series by month index (year * 12 + month - 1), oldest first."""

    rates: tuple[tuple[int, float], ...]  # each period's rate, at its last month
    cumulative: tuple[tuple[int, float], ...]  # the cumulative rate, where known
    step: int  # months per period (1 or 3)


@dataclass(frozen=True)
class GrowthForecast:
    """Draws of the cumulative rate at the year's and the quarter's end."""

    year: Array
    quarter: Array
    model: str
    backtest_mae: float | None
    note: str


def rate_data(rows: Sequence[Row], step: int) -> RateData:
    """Period rates (published, else derived from the cumulative) and cumulative rates."""
    own: dict[int, float] = {}
    published: dict[int, float] = {}
    cum_published = False
    for y, m, to_date, value, span in rows:
        k = int(y) * 12 + int(m) - 1
        if value is not None and np.isfinite(value):
            for j in range(k, k - int(span or step), -step):  # a Jan–Feb rate is both months'
                own[j] = float(value)
        if to_date is not None and np.isfinite(to_date):
            published[k] = float(to_date)
            # the actuals fall back to the period's rate where no cumulative is published
            if value is None or (m > (span or step) and to_date != value):
                cum_published = True
    cumulative = published if cum_published else _cumulate_known(own, step)
    rates = {**_derived_rates(cumulative, step), **own}
    return RateData(tuple(sorted(rates.items())), tuple(sorted(cumulative.items())), step)


def _derived_rates(cumulative: dict[int, float], step: int) -> dict[int, float]:
    """Each period's rate from two cumulative rates of its year (months weigh the same)."""
    rates: dict[int, float] = {}
    previous: tuple[int, float] | None = None
    for k in sorted(cumulative):
        y, m = divmod(k, 12)
        p, c_p = (
            (previous[0] % 12 + 1, previous[1]) if previous and previous[0] // 12 == y else (0, 0.0)
        )
        months = m + 1
        rate = (months * cumulative[k] - p * c_p) / (months - p)
        for j in range(k, y * 12 + p - 1, -step):
            rates[j] = rate
        previous = (k, cumulative[k])
    return rates


def _cumulate_known(own: dict[int, float], step: int) -> dict[int, float]:
    """The cumulative rate of each month whose year has every period's rate up to it."""
    out: dict[int, float] = {}
    for k in sorted(own):
        slots = range(k // 12 * 12 + step - 1, k + 1, step)
        if all(j in own for j in slots):
            out[k] = float(np.mean([own[j] for j in slots]))
    return out


def rate_series(data: RateData, end: int) -> Array:
    """The regular series of period rates up to month index `end` (a single missing
    period interpolated; before a longer gap the history is cut)."""
    rates = dict(data.rates)
    series: list[float] = []
    for k in range(end, min(rates, default=end) - 1, -data.step):
        if k in rates:
            series.append(rates[k])
        elif k - data.step in rates and series:
            series.append((rates[k - data.step] + series[-1]) / 2)
        else:
            break
    return np.asarray(series[::-1], dtype=np.float64)


# Chosen on NBS's monthly cumulative rates (industry, retail, investment; MAE of the
# year's rate as of March, June and September): the last rate and Theta averaged beat
# the last rate alone, damped smoothing and an AR on the changes.
# Chosen on NBS's monthly cumulative rates (industry, retail, investment; MAE of the
# year's rate as of March, June and September, 2000–2023), GDP left out for judging:
# the last rate and Theta, averaged, beat either alone, damped smoothing and an AR on the
# changes. A two-year-average member (两年平均增速, which undoes a base effect) helped
# industry and retail and failed on investment, in a mean, a median or chosen per series
# on its past years: it is not a member.
MEMBERS: tuple[Callable[[int], Forecaster], ...] = (Naive, Theta)


def member_points(
    data: RateData, year: int, month: int, c_known: float, ends: tuple[int, ...]
) -> dict[str, list[float]]:
    """Each member's cumulative rate at each end, from the data to `month` of `year`."""
    x = rate_series(data, year * 12 + month - 1)
    if len(x) < MIN_RATES:
        raise TooShort(f"{len(x)} usable period rates; at least {MIN_RATES} are needed")
    season, h = 12 // data.step, (12 - month) // data.step
    out: dict[str, list[float]] = {}
    for make in MEMBERS:
        model = make(season)
        try:
            path = model.fit(x).predict(h).mean
        except Exception:  # a member failing (too short for it) leaves the others
            continue
        if len(path) == h and np.all(np.isfinite(path)):
            out[model.name] = [cumulative_at(c_known, month, path, data.step, e) for e in ends]
    return out or {
        "naive": [cumulative_at(c_known, month, np.full(h, x[-1]), data.step, e) for e in ends]
    }


def combined(points: dict[str, list[float]]) -> list[float]:
    """The equal-weight mean of the members' cumulative rates at each end."""
    return [float(v) for v in np.mean(list(points.values()), axis=0)]


def cumulative_at(c_known: float, month: int, path: Array, step: int, end: int) -> float:
    """The cumulative rate at month `end` from the one known at `month` and the rates
    forecast for the periods between (each month weighing the same)."""
    steps = (end - month) // step
    return float((month * c_known + step * path[:steps].sum()) / end)


def forecast_growth(
    data: RateData, year: int, month: int, quarter_end: int, to_date: float, n: int
) -> GrowthForecast:
    """Draws of the cumulative rate at the end of the year and of the quarter, given the
    data to `month` of `year` (`to_date`: the cumulative rate then, if not in `data`)."""
    from scipy.stats import norm  # 0.6 s: only where a forecast is made

    c_known = dict(data.cumulative).get(year * 12 + month - 1, to_date)
    ends = (12, quarter_end)
    now = member_points(data, year, month, c_known, ends)
    errors, naive = backtest_errors(data, month, ends, year)
    x = rate_series(data, year * 12 + month - 1)
    sigma = float(np.std(np.diff(x))) if len(x) > 2 else 0.0
    probs = (np.arange(n) + 0.5) / n
    draws = [
        point + _spread(err, _prior_sd(sigma, month, end, data.step)) * norm.ppf(probs)
        for point, err, end in zip(combined(now), errors, ends, strict=True)
    ]
    mae = float(np.mean(np.abs(errors[0]))) if errors[0] else None
    scaled = mae / float(np.mean(np.abs(naive))) if mae is not None and np.any(naive) else None
    note = (
        f"year-on-year rates, not seasonally adjusted; cumulative from {month} months known; "
        f"spread from {len(errors[0])} past years at the same month"
    )
    return GrowthForecast(draws[0], draws[1], f"rates({', '.join(now)})", scaled, note)


def backtest_errors(
    data: RateData, month: int, ends: tuple[int, ...], before: int
) -> tuple[list[list[float]], Array]:
    """Errors of the cumulative rates at `ends` forecast at `month` of each past year,
    and those of keeping the rate known then (the year ends as it stands)."""
    cum = dict(data.cumulative)
    first = min(dict(data.rates), default=before * 12) // 12
    errors: list[list[float]] = [[] for _ in ends]
    naive: list[float] = []
    for y in range(first + MIN_TRAIN_YEARS, before):
        k = y * 12 + month - 1
        actual = [cum.get(y * 12 + e - 1) for e in ends]
        year_end = actual[0]
        if k not in cum or year_end is None:
            continue
        try:
            points = combined(member_points(data, y, month, cum[k], ends))
        except TooShort:
            continue
        for i, (point, value) in enumerate(zip(points, actual, strict=True)):
            if value is not None:
                errors[i].append(value - point)
        naive.append(year_end - cum[k])
    return errors, np.asarray(naive, dtype=np.float64)


def _prior_sd(sigma: float, month: int, end: int, step: int) -> float:
    """The spread if period rates walked randomly with the history's step size."""
    r = (end - month) // step
    return float(step / end * sigma * np.sqrt(np.sum(np.arange(1, r + 1) ** 2)))


def _spread(errors: list[float], prior_sd: float) -> float:
    """The spread at one horizon, calibrated on the errors of past years: their median
    size where there are enough of them (one crisis year does not widen every later
    year's interval; on NBS's monthly rates this beat their root mean square, Student-t
    tails and recent years weighted more), else their root mean square with the
    model's own spread counting as PRIOR_ORIGINS of them."""
    e = np.asarray(errors, dtype=np.float64)
    if e.size >= MIN_ROBUST:
        return max(float(1.4826 * np.median(np.abs(e))), ROUNDING_SD)
    var = (PRIOR_ORIGINS * prior_sd**2 + float(np.sum(e**2))) / (PRIOR_ORIGINS + e.size)
    return max(float(np.sqrt(var)), ROUNDING_SD)
