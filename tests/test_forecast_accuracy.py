"""Forecast accuracy kept honest on real M3 monthly series (no timing)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasts.engine import TooShort, forecast_series
from forecasts.evaluation import mase
from forecasts.models import SeasonalNaive
from tests.conftest import DATA


def m3_series(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    frame = pd.read_csv(DATA / "m3" / "M3_monthly_long.csv")
    out = []
    for _, g in list(frame.groupby("series_id", sort=True))[:n]:
        g = g.sort_values("t")
        out.append(
            (
                g[g.split == "train"].value.to_numpy(float),
                g[g.split == "test"].value.to_numpy(float),
            )
        )
    return out


def test_mase_beats_seasonal_naive_on_50_m3_series() -> None:
    ours, snaive = [], []
    for train, test in m3_series(50):
        f = forecast_series(train, len(test), 12, n_paths=100)
        ours.append(mase(train, test, f.mean))
        snaive.append(mase(train, test, SeasonalNaive(12).fit(train).predict(len(test)).mean))
    assert np.mean(ours) < np.mean(snaive)


def test_paths_reproduce_the_interval_spread() -> None:
    train, _ = m3_series(1)[0]
    f = forecast_series(train, 12, 12, n_paths=4000)
    lo80, hi80, lo95, hi95 = np.percentile(f.paths, [10, 90, 2.5, 97.5], axis=0)
    # sd is the Gaussian-equivalent scale at the 80 % level ...
    assert np.allclose((hi80 - lo80) / 2, 1.2816 * f.sd, rtol=0.1)
    assert np.allclose(np.median(f.paths, axis=0), f.mean, atol=0.1 * f.sd.max())
    # ... and the tails are heavier: a 95 % interval wider than the Gaussian's.
    ratio = (hi95 - lo95) / (hi80 - lo80)
    assert np.all((ratio > 1.65) & (ratio < 2.0)), ratio


def test_paths_keep_a_smaller_spread_after_a_larger_one() -> None:
    # a multiplicative season can make a quiet month follow a busy one
    from forecasts.engine import _paths

    sd = np.array([1.0, 3.0, 1.5, 4.0, 2.0])
    paths = _paths(np.zeros(5), sd, 20000, 0)
    lo, hi = np.percentile(paths, [10, 90], axis=0)
    assert np.allclose((hi - lo) / 2, 1.2816 * sd, rtol=0.05)


@pytest.mark.parametrize(
    ("y", "model"),
    [
        (np.full(30, 7.0), "naive"),
        (np.r_[np.arange(1.0, 12.0)], None),
    ],
)
def test_degenerate_series_get_a_labelled_result(y: np.ndarray, model: str | None) -> None:
    f = forecast_series(y, 6, 12, n_paths=50)
    assert len(f.mean) == 6 and np.all(np.isfinite(f.mean))
    if model:
        assert f.model == model
    assert f.model in {"naive", "drift", "ets_simple"}, "no seasonal model under two seasons"


@pytest.mark.parametrize("y", [np.array([1.0, 2.0, 3.0]), np.array([1.0, np.nan, 2, 3, 4, 5, 6])])
def test_too_little_or_broken_history_is_refused_clearly(y: np.ndarray) -> None:
    with pytest.raises(TooShort):
        forecast_series(y, 6)


def _seasonal(n: int = 96) -> np.ndarray:
    t = np.arange(n)
    rng = np.random.default_rng(3)
    return 100 + 0.5 * t + 20 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2, n)


def test_a_seasonal_series_is_forecast_by_members_that_see_its_season_differently() -> None:
    y = _seasonal()
    f = forecast_series(y, 12, 12, n_paths=100)
    assert f.model == (
        "combination(ets_damped, theta_trend, holt_winters, theta_stl, ar_changes, ar_seasonal)"
    ), f.model
    # the seasonal swing survives into the forecast (no member flattened it away)
    assert np.ptp(f.mean) > 25


def test_a_monthly_season_is_combined_without_its_highest_and_lowest_member() -> None:
    from forecasts import engine

    y = _seasonal()
    found = engine.seasonal_indices(y, 12)
    names, trimmed = engine.combination_rule(True, 12)
    assert trimmed and names[-1] == "ar_seasonal"
    members = [m for m in engine.candidates(len(y), 12, True) if m().name in names]
    means = np.array([engine._predict(m, y, 12, 12, found)[0] for m in members])
    assert len(means) == 6
    f = forecast_series(y, 12, 12, n_paths=100)
    ordered = np.sort(means, axis=0)
    assert f.mean == pytest.approx((ordered[1:5]).sum(axis=0) / 4)
    assert not np.allclose(f.mean, means.mean(axis=0))


def test_a_quarterly_season_keeps_the_plain_mean_of_its_members() -> None:
    t = np.arange(48)
    y = 100 + 0.5 * t + 20 * np.sin(2 * np.pi * t / 4) + np.random.default_rng(4).normal(0, 2, 48)
    f = forecast_series(y, 8, 4, n_paths=100)
    assert f.model == (
        "combination(ets_damped, theta_trend, holt_winters, theta_stl, ar_changes)"
    ), f.model


def test_a_series_without_season_is_forecast_by_theta_instead_of_the_ar() -> None:
    rng = np.random.default_rng(5)
    y = 50 + 0.8 * np.arange(90) + rng.normal(0, 3, 90)
    f = forecast_series(y, 12, 12, n_paths=100)
    assert f.model == ("combination(ets_damped, theta, theta_trend, holt_winters, theta_stl)"), (
        f.model
    )
    # the trend goes on: the year ahead sits above the last year
    assert f.mean.mean() > y[-12:].mean() + 5


def test_the_ar_on_changes_carries_their_momentum() -> None:
    from forecasts.models import DifferencedAR

    rng = np.random.default_rng(8)
    changes = np.empty(400)
    changes[0] = 1.0
    for t in range(1, 400):
        changes[t] = 1.0 + 0.7 * (changes[t - 1] - 1.0) + rng.normal(0, 0.5)
    y = 100 + np.cumsum(changes)
    model = DifferencedAR(12, lags=1).fit(y)
    first = model.predict(3).mean[0] - y[-1]
    assert first == pytest.approx(1.0 + 0.7 * (changes[-1] - 1.0), abs=0.15)


def test_a_member_failing_on_the_full_series_leaves_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from forecasts import models

    y = _seasonal()
    calls = {"n": 0}
    fit = models.HoltWinters.fit

    def fails_last(self: models.HoltWinters, series: np.ndarray) -> models.Forecaster:
        # backtests fit on shorter series; the full series is the longest
        calls["n"] += 1
        if len(series) == len(y):
            raise np.linalg.LinAlgError("singular")
        return fit(self, series)

    monkeypatch.setattr(models.HoltWinters, "fit", fails_last)
    f = forecast_series(y, 12, 12, n_paths=100)
    assert calls["n"] >= 2  # it took part in the backtests
    assert f.model == (
        "combination(ets_damped, theta_trend, theta_stl, ar_changes, ar_seasonal)"
    ), f.model
    assert np.all(np.isfinite(f.mean)) and not f.fallback


@pytest.mark.parametrize(("coefficient", "cls"), [(2.0, "Theta"), (np.inf, "ThetaTrend")])
def test_theta_forecasts_as_statsmodels_theta_model(coefficient: float, cls: str) -> None:
    # the same method, with SES fitted by least squares instead of maximum likelihood
    from statsmodels.tsa.forecasting.theta import ThetaModel

    from forecasts import models

    for train, _ in m3_series(5):
        reference = ThetaModel(train, period=1, deseasonalize=False).fit()
        expected = np.asarray(reference.forecast(18, theta=coefficient))
        ours = getattr(models, cls)(12).fit(train).predict(18).mean
        assert np.allclose(ours, expected, rtol=1e-3), (ours, expected)


def test_the_ar_on_seasonal_changes_keeps_the_season_and_its_drift() -> None:
    from forecasts.models import SeasonalAR

    t = np.arange(96)
    y = 100 + 0.5 * t + 20 * np.sin(2 * np.pi * t / 12)  # a year on year change of 6
    mean = SeasonalAR(12).fit(y + np.random.default_rng(1).normal(0, 0.5, 96)).predict(12).mean
    expected = 100 + 0.5 * (t[-12:] + 12) + 20 * np.sin(2 * np.pi * t[-12:] / 12)
    assert np.allclose(mean, expected, atol=1.5)
