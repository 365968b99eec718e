"""Forecasters: one interface (hyperparameters in the constructor, fit, predict).

Each model forecasts a monthly or quarterly series, seasonally adjusted as its
`adjustment` says. Its spread is a standard deviation growing like √k from the in-sample
one-step residuals; the engine calibrates it on backtests and draws the paths that give
the intervals. statsmodels is imported where a model is built.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
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
    # The fewest points for statsmodels' heuristic initial states, beyond the seasons.
    _seasons_before_heuristic = 1

    def fit(self, y: Array) -> Forecaster:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        y = np.asarray(y, dtype=np.float64)
        # Heuristic initial states (where statsmodels has enough data for them) fit
        # several times faster than estimated ones, at the same accuracy on M3.
        enough = len(y) >= self._seasons_before_heuristic * self.season + 10
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._result = ExponentialSmoothing(
                y,
                trend="add",
                damped_trend=True,
                initialization_method="heuristic" if enough else "estimated",
                **self._season(y),
            ).fit(use_brute=False)
        return super().fit(y)

    def _season(self, y: Array) -> dict[str, Any]:
        return {}

    def _mean(self, h: int) -> Array:
        return _holt_winters_forecast(self._result, h)

    def _residuals(self) -> Array:
        return np.asarray(self._y - self._result.fittedvalues, dtype=np.float64)


def _holt_winters_forecast(res: Any, h: int) -> Array:
    """statsmodels' forecast of a damped additive trend (and season), computed as its
    `_predict` does, with the same operations, from the fitted states: `forecast` reruns
    the whole recursion and builds pandas frames, a fifth of the fit's cost."""
    model = res.model
    phi = res.params["damping_trend"]
    phi_h = np.cumsum(np.repeat(phi, h + 1) ** np.arange(1, h + 2))
    trend = res.level[-1] + res.trend[-1] * phi_h
    if not model.has_seasonal:
        return np.asarray(trend[:h], dtype=np.float64)
    m, n = model.seasonal_periods, model.nobs
    s = np.r_[res.params["initial_seasons"], res.season, np.zeros(h + 1)]
    # The season past the states extended as statsmodels extends it (its indexing kept).
    s[n + m - 1 :] = [s[(n - 1) + j % m] for j in range(h + 2)]
    season = s[n : n + h]
    out = trend[:h] * season if model.seasonal == "mul" else trend[:h] + season
    return np.asarray(out, dtype=np.float64)


class HoltWinters(DampedETS):
    """Damped Holt-Winters on the raw series: seasonality inside the model, updated as
    it goes, where the adjusted models see a pattern estimated beforehand."""

    name = "holt_winters"
    adjustment = "none"
    _seasons_before_heuristic = 2

    def _season(self, y: Array) -> dict[str, Any]:
        return {
            "seasonal": "mul" if np.all(y > 0) else "add",
            "seasonal_periods": self.season,
        }


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
        with warnings.catch_warnings():  # a rank-deficient design on flat stretches
            warnings.simplefilter("ignore")
            self._result = AutoReg(changes, lags=lags, trend="c").fit()
        return super().fit(y)

    def _mean(self, h: int) -> Array:
        n = len(self._y) - 1
        changes = np.asarray(self._result.predict(start=n, end=n + h - 1), dtype=np.float64)
        return np.asarray(self._y[-1] + np.cumsum(changes), dtype=np.float64)

    def _residuals(self) -> Array:
        return np.asarray(self._result.resid, dtype=np.float64)


@lru_cache(maxsize=8)
def _theta_fit(data: bytes) -> tuple[float, float, Array]:
    """The Theta method's two estimates for a series (as bytes): the slope b0 of a
    least-squares line and SES's alpha (statsmodels, initial level = the first value),
    with SES's one-step predictions. Theta and its full-trend variant are members of
    one combination and share the fit.

    statsmodels' ThetaModel estimates the same alpha by maximum likelihood in a state
    space model; the sum of squares reaches it in ~40 % of the time (on M3 the alphas
    agree to 1e-5 for 98.6 % of series)."""
    from statsmodels.tsa.holtwinters import SimpleExpSmoothing

    y = np.frombuffer(data)
    b0 = float(np.polyfit(np.arange(len(y), dtype=np.float64), y, 1)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ses = SimpleExpSmoothing(y, initialization_method="known", initial_level=y[0]).fit()
    alpha = float(ses.params["smoothing_level"])
    # The next step's forecast is the last level (what `forecast(1)` returns, without
    # rerunning the recursion and building its pandas frames).
    one_step = np.r_[np.asarray(ses.fittedvalues, dtype=np.float64), ses.level[-1]]
    return alpha, b0, one_step


class Theta(Forecaster):
    """The Theta method: SES plus half the linear trend (Assimakopoulos & Nikolopoulos,
    in the form of Hyndman & Billah, as statsmodels' ThetaModel forecasts it)."""

    name = "theta"
    coefficient = 2.0  # the share of the trend kept is 1 - 1/coefficient
    _fit: tuple[float, float, Array] = (0.0, 0.0, np.empty(0))

    def fit(self, y: Array) -> Forecaster:
        self._fit = _theta_fit(np.asarray(y, dtype=np.float64).tobytes())
        return super().fit(y)

    def _mean(self, h: int) -> Array:
        alpha, b0, one_step = self._fit
        steps = np.arange(h, dtype=np.float64)
        if alpha > 0:
            steps += 1 / alpha - (1 - alpha) ** len(self._y) / alpha
        return np.asarray(one_step[-1] + self._weight() * b0 * steps, dtype=np.float64)

    def _weight(self) -> float:
        return 1 - 1 / self.coefficient

    def _residuals(self) -> Array:
        # one-step errors of SES with the drift the forecast keeps
        _, b0, one_step = self._fit
        return np.asarray(self._y[1:] - one_step[1:-1] - b0 * self._weight(), dtype=np.float64)


class ThetaTrend(Theta):
    """Theta keeping the whole linear trend (θ → ∞: SES with drift), where Theta keeps
    half of it: a member that trusts the trend more."""

    name = "theta_trend"
    coefficient = float("inf")


class ThetaSTL(Theta):
    """Theta on the series adjusted by STL: a seasonal pattern that may drift over the
    years, where the classical indices are one fixed pattern."""

    name = "theta_stl"
    adjustment = "stl"


class SeasonalAR(Forecaster):
    """ARIMA(p,0,0)(0,1,0) with drift, by least squares: an AR on the changes from one
    season to the next, on the raw series. Its season is the last one observed, moved by
    how the year-on-year change has been going: on strongly seasonal series it sees what
    an ARIMA does and the smoothing models do not."""

    name = "ar_seasonal"
    adjustment = "none"
    _result: Any = None

    def __init__(self, season: int = 12, lags: int = 3) -> None:
        super().__init__(season)
        self.lags = lags

    def fit(self, y: Array) -> Forecaster:
        from statsmodels.tsa.ar_model import AutoReg

        y = np.asarray(y, dtype=np.float64)
        changes = y[self.season :] - y[: -self.season]
        lags = min(self.lags, len(changes) // 4)
        with warnings.catch_warnings():  # a rank-deficient design on flat stretches
            warnings.simplefilter("ignore")
            self._result = AutoReg(changes, lags=lags, trend="c").fit()
        return super().fit(y)

    def _mean(self, h: int) -> Array:
        n = len(self._y) - self.season
        changes = np.asarray(self._result.predict(start=n, end=n + h - 1), dtype=np.float64)
        out = np.r_[self._y, np.zeros(h)]
        for k in range(h):
            i = len(self._y) + k
            out[i] = out[i - self.season] + changes[k]
        return np.asarray(out[len(self._y) :], dtype=np.float64)

    def _residuals(self) -> Array:
        return np.asarray(self._result.resid, dtype=np.float64)
