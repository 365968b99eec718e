"""The nowcast of a quarterly growth rate from monthly indicators: a mixed-frequency
dynamic factor model (statsmodels' DynamicFactorMQ), the news each release brings, and
the univariate forecast as the fallback when the model cannot be estimated."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from forecasts.engine import forecast_series
from forecasts.nowcast_data import Panel

MIN_QUARTERS = 12  # of the target, to estimate its loading at all


class NowcastFailed(RuntimeError):
    """The factor model could not be estimated (or did not converge) on this panel."""


@dataclass(frozen=True)
class Nowcast:
    """One quarter's nowcast: a Gaussian point and spread, and who made it."""

    quarter: str  # e.g. 2024Q2
    point: float
    sd: float
    model: str
    reason: str  # why the fallback was used; empty for the factor model

    def bounds(self, level: float) -> tuple[float, float]:
        """The central interval holding `level` of the probability."""
        from scipy.stats import norm  # 0.6 s: only where a nowcast is read

        half = float(norm.ppf(0.5 + level / 2)) * self.sd
        return self.point - half, self.point + half

    def p_meet(self, target: float) -> float:
        """P(growth ≥ target)."""
        from scipy.stats import norm

        return (
            float(norm.sf((target - self.point) / self.sd))
            if self.sd > 0
            else float(self.point >= target)
        )

    def expected_shortfall(self, target: float) -> float:
        """E[max(target − growth, 0)], in percentage points."""
        gap = target - self.point
        if self.sd <= 0:
            return max(gap, 0.0)
        z = gap / self.sd
        from scipy.stats import norm

        return float(gap * norm.cdf(z) + self.sd * norm.pdf(z))


@dataclass(frozen=True)
class News:
    """How much one release moved a quarter's nowcast."""

    release: str  # the period of the released figure, e.g. 2024-03
    indicator: str
    surprise: float  # actual − what the model expected
    weight: float  # impact per unit of surprise
    impact: float  # pp of the quarter's nowcast


class FactorNowcaster:
    """Constructor = hyperparameters; fit(panel) returns self; predict(quarters)."""

    name = "dfm"

    def __init__(
        self,
        factors: int = 1,
        factor_order: int = 2,
        maxiter: int = 200,
        tolerance: float = 1e-5,
        idiosyncratic_ar1: bool = False,
        changes: bool = True,
    ) -> None:
        self.changes = changes
        self.idiosyncratic_ar1 = idiosyncratic_ar1
        self.factors = factors
        self.factor_order = factor_order
        self.maxiter = maxiter
        self.tolerance = tolerance
        self._res: Any = None
        self._target = ""
        self._published = pd.Series(dtype=float)

    def fit(self, panel: Panel) -> FactorNowcaster:
        """Estimate by EM; NowcastFailed when it errs, does not converge or is degenerate."""
        from statsmodels.tools.sm_exceptions import ConvergenceWarning
        from statsmodels.tsa.statespace.dynamic_factor_mq import DynamicFactorMQ

        self._target = str(panel.quarterly.columns[0])
        self._published = panel.quarterly.iloc[:, 0].dropna()
        if panel.quarterly.iloc[:, 0].notna().sum() < MIN_QUARTERS or panel.monthly.empty:
            raise NowcastFailed("too little data for the factor model")
        if (panel.monthly.std() == 0).any():
            flat = ", ".join(panel.monthly.columns[panel.monthly.std() == 0])
            raise NowcastFailed(f"constant indicator(s): {flat}")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model = DynamicFactorMQ(
                    monthly_endog(panel, self.changes),
                    factors=self.factors,
                    factor_orders=self.factor_order,
                    idiosyncratic_ar1=self.idiosyncratic_ar1,
                    standardize=True,
                )
                res = model.fit(maxiter=self.maxiter, tolerance=self.tolerance, disp=False)
            except (ValueError, np.linalg.LinAlgError) as exc:
                raise NowcastFailed(f"estimation failed: {exc}") from exc
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            raise NowcastFailed(f"EM did not converge in {self.maxiter} iterations")
        if not np.isfinite(res.llf):
            raise NowcastFailed("estimation failed: the likelihood is not finite")
        self._res = res
        return self

    def predict(self, quarters: list[pd.Period]) -> list[Nowcast]:
        """The target's nowcast for each quarter (the quarter's last month in the model),
        smoothed: every release in the panel informs it, later months' too."""
        ends = [q.asfreq("M", how="end") for q in quarters]
        pred = self._res.get_prediction(start=min(ends), end=max(ends), information_set="smoothed")
        mean = pred.predicted_mean[self._target]
        sd = pred.se_mean[self._target]
        out: list[Nowcast] = []
        for q, m in zip(sorted(quarters), sorted(ends), strict=True):
            point, spread = float(mean.loc[m]), float(sd.loc[m])
            if self.changes:  # a change over the previous quarter, published or nowcast
                prev = self._published.get(q - 1)
                if prev is None and out and out[-1].quarter == str(q - 1):
                    prev, spread = out[-1].point, float(np.hypot(spread, out[-1].sd))
                if prev is None:
                    raise NowcastFailed(f"no figure or nowcast for the quarter before {q}")
                point += float(prev)
            if not (np.isfinite(point) and np.isfinite(spread)):
                raise NowcastFailed(f"the model's nowcast of {q} is not finite")
            out.append(Nowcast(str(q), point, spread, self.name, ""))
        return out

    def news(self, previous: Panel, quarter: pd.Period) -> list[News]:
        """What each release since `previous` did to the quarter's nowcast, with this
        fit's parameters (statsmodels' news: the surprise, its weight, the impact)."""
        endog = monthly_endog(previous, self.changes)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                news = self._res.news(
                    endog,
                    comparison_type="previous",
                    impact_date=quarter.asfreq("M", how="end"),
                    impacted_variable=self._target,
                )
        except (ValueError, KeyError, np.linalg.LinAlgError) as exc:
            raise NowcastFailed(f"news: {exc}") from exc
        table = news.details_by_impact.reset_index()
        return [
            News(
                str(row["update date"]),
                str(row["updated variable"]),
                float(row["observed"] - row["forecast (prev)"]),
                float(row["weight"]),
                float(row["impact"]),
            )
            for _, row in table.iterrows()
        ]


def monthly_endog(panel: Panel, changes: bool) -> pd.DataFrame:
    """The indicators and the target as one monthly frame, the target in each quarter's
    last month (statsmodels' quarterly aggregation assumes growth over the previous
    quarter, not YoY). With `changes`, each is its change over three months: a quarter's
    YoY then moves from the last one's by what the months say, which keeps the smooth
    years close to a random walk."""
    target = panel.quarterly.iloc[:, 0].dropna()
    monthly = panel.monthly
    if changes:
        target = (target - target.shift(1, freq="Q")).dropna()
        monthly = monthly - monthly.shift(3)
    ends = pd.PeriodIndex([q.asfreq("M", how="end") for q in target.index], freq="M")
    column = pd.Series(target.to_numpy(), index=ends).reindex(monthly.index)
    return monthly.assign(**{str(panel.quarterly.columns[0]): column})


def univariate(history: pd.Series, quarters: list[pd.Period], reason: str) -> list[Nowcast]:
    """The fallback: the target's own forecast by the univariate engine."""
    y = history.dropna()
    last = y.index.max()
    steps = [(q - last).n for q in quarters]
    f = forecast_series(y.to_numpy(dtype=float), max(max(steps), 1), season=4, n_paths=1000)
    return [
        Nowcast(str(q), float(f.mean[s - 1]), float(f.sd[s - 1]), f.model, reason)
        if s >= 1
        else Nowcast(str(q), float(y[y.index == q].iloc[0]), 0.0, "published", "")
        for q, s in zip(quarters, steps, strict=True)
    ]


def nowcast(
    panel: Panel, quarters: list[pd.Period], nowcaster: FactorNowcaster
) -> tuple[list[Nowcast], FactorNowcaster | None]:
    """The factor model's nowcasts, or the univariate fallback labelled with its reason."""
    try:
        fitted = nowcaster.fit(panel)
        return fitted.predict(quarters), fitted
    except NowcastFailed as exc:
        return univariate(panel.quarterly.iloc[:, 0], quarters, str(exc)), None


def widen(casts: list[Nowcast], factor: float) -> list[Nowcast]:
    """Scale the spreads (a calibration measured on past errors)."""
    return [replace(c, sd=c.sd * factor) for c in casts]
