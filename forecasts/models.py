"""Forecasters: one interface (hyperparameters in the constructor, fit, predict).

Each model forecasts a monthly or quarterly series, seasonally adjusted as its
`adjustment` says. Its spread is a standard deviation growing like √k from the in-sample
one-step residuals; the engine calibrates it on backtests and draws the paths that give
the intervals. statsmodels is imported where a model is built.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Prediction:
    """Mean and standard deviation per step ahead (intervals come from the paths)."""

    mean: Array
    sd: Array


class Forecaster:
    """Base: subclasses fit their state in `fit` and implement `_mean` and `_residuals`."""

    name = "base"
    # How the engine deseasonalises a seasonal series for this model: fixed classical
    # indices, STL's seasonal component, or not at all (the model sees the raw series).
    adjustment = "classical"

    def __init__(self, season: int = 12) -> None:
        self.season = season
        self.sigma = 0.0
        self._y: Array = np.empty(0)

    def fit(self, y: Array) -> Forecaster:
        self._y = np.asarray(y, dtype=np.float64)
        residuals = self._residuals()
        finite = residuals[np.isfinite(residuals)]
        self.sigma = float(np.sqrt(np.mean(finite**2))) if finite.size else 0.0
        return self

    def predict(self, h: int) -> Prediction:
        return Prediction(self._mean(h), self.sigma * np.sqrt(np.arange(1, h + 1)))

    def _mean(self, h: int) -> Array:
        raise NotImplementedError

    def _residuals(self) -> Array:
        raise NotImplementedError


class Naive(Forecaster):
    """The last value, carried forward."""

    name = "naive"
    adjustment = "none"

    def _mean(self, h: int) -> Array:
        return np.full(h, self._y[-1])

    def _residuals(self) -> Array:
        return np.diff(self._y)


class SeasonalNaive(Forecaster):
    """The value of the same month (or quarter) one season earlier."""

    name = "seasonal_naive"
    adjustment = "none"

    def _mean(self, h: int) -> Array:
        last = self._y[-self.season :]
        return np.array([last[k % self.season] for k in range(h)])

    def _residuals(self) -> Array:
        return self._y[self.season :] - self._y[: -self.season]


class Drift(Forecaster):
    """A random walk with the average historical change as drift."""

    name = "drift"

    def _slope(self) -> float:
        y = self._y
        return float((y[-1] - y[0]) / (len(y) - 1)) if len(y) > 1 else 0.0

    def _mean(self, h: int) -> Array:
        return np.asarray(self._y[-1] + self._slope() * np.arange(1, h + 1), dtype=np.float64)

    def _residuals(self) -> Array:
        return np.diff(self._y) - self._slope()


class StatsmodelsETS(Forecaster):
    """ETS (additive error) without trend or season: for short series."""

    name = "ets_simple"

    def __init__(self, season: int = 12) -> None:
        super().__init__(season)
        self._result: Any = None

    def fit(self, y: Array) -> Forecaster:
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ETSModel(np.asarray(y, dtype=np.float64), error="add")
            self._result = model.fit(disp=False, maxiter=200)
        return super().fit(y)

    def _mean(self, h: int) -> Array:
        return np.asarray(self._result.forecast(h), dtype=np.float64)

    def _residuals(self) -> Array:
        return np.asarray(self._result.resid, dtype=np.float64)


class DampedETS(Forecaster):
    """Exponential smoothing with a damped additive trend (statsmodels' Holt-Winters
    class: with heuristic initial states it fits in ~60 % of the time of ETSModel, at
    the same accuracy on M3)."""

    name = "ets_damped"
    _result: Any = None

    def fit(self, y: Array) -> Forecaster:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        y = np.asarray(y, dtype=np.float64)
        init = "heuristic" if len(y) >= self.season + 10 else "estimated"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._result = ExponentialSmoothing(
                y, trend="add", damped_trend=True, initialization_method=init
            ).fit(use_brute=False)
        return super().fit(y)

    def _mean(self, h: int) -> Array:
        return np.asarray(self._result.forecast(h), dtype=np.float64)

    def _residuals(self) -> Array:
        return np.asarray(self._y - self._result.fittedvalues, dtype=np.float64)


class DifferencedAR(Forecaster):
    """ARIMA(p,1,0) with drift, by least squares (statsmodels' AutoReg on the changes):
    short-run momentum in the changes, which the smoothing models do not keep."""

    name = "ar_changes"
    _result: Any = None

    def __init__(self, season: int = 12, lags: int = 6) -> None:
        super().__init__(season)
        self.lags = lags

    def fit(self, y: Array) -> Forecaster:
        from statsmodels.tsa.ar_model import AutoReg

        changes = np.diff(np.asarray(y, dtype=np.float64))
        lags = min(self.lags, len(changes) // 3)
        self._result = AutoReg(changes, lags=lags, trend="c").fit()
        return super().fit(y)

    def _mean(self, h: int) -> Array:
        n = len(self._y) - 1
        changes = np.asarray(self._result.predict(start=n, end=n + h - 1), dtype=np.float64)
        return np.asarray(self._y[-1] + np.cumsum(changes), dtype=np.float64)

    def _residuals(self) -> Array:
        return np.asarray(self._result.resid, dtype=np.float64)


class HoltWinters(Forecaster):
    """Damped Holt-Winters on the raw series: seasonality inside the model, updated as
    it goes, where the adjusted models see a pattern estimated beforehand."""

    name = "holt_winters"
    adjustment = "none"
    _result: Any = None

    def fit(self, y: Array) -> Forecaster:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        y = np.asarray(y, dtype=np.float64)
        # Heuristic initial states (where statsmodels has enough data for them) fit
        # several times faster than estimated ones, at the same accuracy on M3.
        init = "heuristic" if len(y) >= 2 * self.season + 10 else "estimated"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._result = ExponentialSmoothing(
                y,
                trend="add",
                damped_trend=True,
                seasonal="mul" if np.all(y > 0) else "add",
                seasonal_periods=self.season,
                initialization_method=init,
            ).fit(use_brute=False)
        return super().fit(y)

    def _mean(self, h: int) -> Array:
        return np.asarray(self._result.forecast(h), dtype=np.float64)

    def _residuals(self) -> Array:
        return np.asarray(self._y - self._result.fittedvalues, dtype=np.float64)


class Theta(Forecaster):
    """The Theta method (SES with half the linear trend), from statsmodels."""

    name = "theta"
    _result: Any = None

    def fit(self, y: Array) -> Forecaster:
        from statsmodels.tsa.forecasting.theta import ThetaModel

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._result = ThetaModel(
                np.asarray(y, dtype=np.float64), period=1, deseasonalize=False
            ).fit()
        return super().fit(y)

    def _mean(self, h: int) -> Array:
        return np.asarray(self._result.forecast(h), dtype=np.float64)

    def _residuals(self) -> Array:
        # one-step errors of the fitted SES with drift, recomputed from its parameters
        params = self._result.params
        alpha, b0 = float(params["alpha"]), float(params["b0"])
        y = self._y
        level, out = y[0], np.empty(len(y) - 1)
        for t in range(1, len(y)):
            pred = level + b0 / 2
            out[t - 1] = y[t] - pred
            level = alpha * y[t] + (1 - alpha) * level
        return out


class ThetaSTL(Theta):
    """Theta on the series adjusted by STL: a seasonal pattern that may drift over the
    years, where the classical indices are one fixed pattern."""

    name = "theta_stl"
    adjustment = "stl"
