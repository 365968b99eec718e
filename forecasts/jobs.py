"""Forecast jobs: one per target, self-contained so they can run in any process."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import statsmodels

from forecasts import engine, growth, models
from forecasts.engine import TooShort, forecast_series
from forecasts.growth import RateData, forecast_growth
from forecasts.models import Array
from ingest.fingerprint import source_digest


def _method() -> str:
    """A fingerprint of the forecasting code and statsmodels' version: after an upgrade
    that changes either, every series is forecast anew once (else the store would keep
    forecasts of the old method for series whose data did not change)."""
    return source_digest([engine, models, growth, Path(__file__)], seed=statsmodels.__version__)[
        :16
    ]


METHOD = _method()


@dataclass(frozen=True)
class Job:
    """Everything needed to forecast one target's horizons."""

    indicator: str
    region: str
    year: int
    month: int  # the latest month with data
    kind: str
    direction: str
    history: tuple[float, ...]  # model input, oldest first (monthly or quarterly)
    season: int
    step: int  # months per history point (1 or 3)
    to_date: float
    quarter_done: float  # flows: delivered in the current quarter so far
    quarter_month: int  # end month of the current quarter
    year_target: float
    quarter_target: float
    n_paths: int
    at_risk_below: float
    behind_below: float
    rates: RateData | None = None  # growth: period and cumulative rates (history unused)

    @property
    def input_hash(self) -> str:
        text = repr(
            (
                METHOD,
                self.history,
                self.month,
                self.to_date,
                self.quarter_done,
                self.year_target,
                self.quarter_target,
                self.n_paths,
                self.season,
                self.rates,
            )
        )
        return hashlib.sha1(text.encode()).hexdigest()


@dataclass(frozen=True)
class Result:
    """One horizon's forecast of one target."""

    indicator: str
    region: str
    year: int
    month: int
    horizon: str
    horizon_month: int
    target: float
    point: float | None
    lower80: float | None
    upper80: float | None
    lower95: float | None
    upper95: float | None
    p_meet: float | None
    expected_shortfall: float | None
    forecast_status: str | None
    model: str
    backtest_mase: float | None
    note: str
    input_hash: str
    fallback: bool


def run(job: Job) -> list[Result]:
    """Forecast a job's year and quarter horizons; never raises for a bad series."""
    if job.rates is not None:
        return _growth(job, job.rates)
    steps_year = (12 - job.month) // job.step
    steps_q = (job.quarter_month - job.month) // job.step
    try:
        f = forecast_series(
            np.asarray(job.history), steps_year, job.season, job.n_paths, 0, _floor(job)
        )
    except TooShort as exc:
        return [_empty(job, h, m, "too_little_history", str(exc)) for h, m in _horizons(job)]
    except Exception as exc:  # one series never stops the others
        return [
            _empty(job, h, m, "failed", f"{type(exc).__name__}: {exc}") for h, m in _horizons(job)
        ]
    out = []
    for horizon, month, steps, target in (
        ("year", 12, steps_year, job.year_target),
        ("quarter", job.quarter_month, steps_q, job.quarter_target),
    ):
        quantity = _quantity(job, f.paths, steps, horizon)
        out.append(
            _result(
                job, horizon, month, target, quantity, f.model, f.backtest_mase, f.note, f.fallback
            )
        )
    return out


def _growth(job: Job, rates: RateData) -> list[Result]:
    """A growth rate's cumulative rate at the year's and the quarter's end."""
    try:
        f = forecast_growth(rates, job.year, job.month, job.quarter_month, job.to_date, job.n_paths)
    except TooShort as exc:
        return [_empty(job, h, m, "too_little_history", str(exc)) for h, m in _horizons(job)]
    except Exception as exc:  # one series never stops the others
        return [
            _empty(job, h, m, "failed", f"{type(exc).__name__}: {exc}") for h, m in _horizons(job)
        ]
    return [
        _result(job, "year", 12, job.year_target, f.year, f.model, f.backtest_mae, f.note, False),
        _result(
            job,
            "quarter",
            job.quarter_month,
            job.quarter_target,
            f.quarter,
            f.model,
            f.backtest_mae,
            f.note,
            False,
        ),
    ]


def _floor(job: Job) -> float | None:
    """Counts and amounts that never went below zero do not go below it ahead either; a
    growth rate can."""
    return 0.0 if job.kind != "growth" and min(job.history, default=-1.0) >= 0 else None


def _horizons(job: Job) -> list[tuple[str, int]]:
    return [("year", 12), ("quarter", job.quarter_month)]


def _quantity(job: Job, paths: Array, steps: int, horizon: str) -> Array:
    """The horizon's target quantity on every path, summed as the target is defined."""
    if job.kind == "flow":
        done = job.to_date if horizon == "year" else job.quarter_done
        return np.asarray(done + paths[:, :steps].sum(axis=1), dtype=np.float64)
    return paths[:, steps - 1]


def _result(
    job: Job,
    horizon: str,
    month: int,
    target: float,
    q: Array,
    model: str,
    mase: float | None,
    note: str,
    fallback: bool,
) -> Result:
    meet = q >= target if job.direction == "higher" else q <= target
    p = float(meet.mean())
    short = np.maximum(target - q, 0) if job.direction == "higher" else np.maximum(q - target, 0)
    status = (
        "behind" if p < job.behind_below else "at_risk" if p < job.at_risk_below else ("on_track")
    )
    lo80, hi80, lo95, hi95 = np.percentile(q, [10, 90, 2.5, 97.5])
    return Result(
        job.indicator,
        job.region,
        job.year,
        job.month,
        horizon,
        month,
        target,
        float(np.mean(q)),
        float(lo80),
        float(hi80),
        float(lo95),
        float(hi95),
        p,
        float(short.mean()),
        status,
        model,
        mase,
        note,
        job.input_hash,
        fallback,
    )


def _empty(job: Job, horizon: str, month: int, model: str, note: str) -> Result:
    target = job.year_target if horizon == "year" else job.quarter_target
    return Result(
        job.indicator,
        job.region,
        job.year,
        job.month,
        horizon,
        month,
        target,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        model,
        None,
        note,
        job.input_hash,
        True,
    )
