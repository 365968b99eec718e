"""Scores of one method's forecasts of a set: MASE, sMAPE, coverage per horizon band."""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.forecast_baselines import Array, Baseline
from bench.forecast_sets import SeriesSet
from forecasts.evaluation import mase, smape


@dataclass(frozen=True)
class Forecasts:
    """A method's forecasts of every series of a set, (series, h) arrays."""

    name: str
    mean: Array
    bounds: dict[str, Array]  # lo80, hi80, lo95, hi95; empty for point combinations
    seconds: float | None


def from_baseline(b: Baseline) -> Forecasts:
    return Forecasts(b.name, b.mean, b.bounds, b.seconds)


def mase_per_series(s: SeriesSet, mean: Array) -> Array:
    return np.array(
        [mase(tr, te, m, s.season) for tr, te, m in zip(s.trains, s.tests, mean, strict=True)]
    )


def score(s: SeriesSet, f: Forecasts, rows: npt.NDArray[np.intp] | None = None) -> dict[str, Any]:
    """MASE, sMAPE and per-band coverage over the series in `rows` (all by default)."""
    sel = np.arange(len(s.ids)) if rows is None else rows
    out: dict[str, Any] = {
        "method": f.name,
        "mase": float(np.nanmean(mase_per_series(s, f.mean)[sel])),
        "smape": float(
            np.mean([smape(s.tests[i], f.mean[i]) for i in sel]) if len(sel) else np.nan
        ),
    }
    if f.bounds:
        test = s.tests[sel]
        for level in ("80", "95"):
            inside = (test >= f.bounds[f"lo{level}"][sel]) & (test <= f.bounds[f"hi{level}"][sel])
            out[f"cov{level}"] = float(inside.mean() * 100)
            for label, band in s.bands:
                out[f"cov{level} {label}"] = float(inside[:, band].mean() * 100)
    if f.seconds:
        out["series_per_s"] = len(s.ids) / f.seconds
    return out


def combinations(bases: list[Forecasts]) -> list[Forecasts]:
    """Equal-weight means of the point forecasts of every subset of two or more models."""
    out = []
    for k in range(2, len(bases) + 1):
        for subset in itertools.combinations(bases, k):
            mean = np.mean([b.mean for b in subset], axis=0)
            out.append(Forecasts("+".join(b.name for b in subset), mean, {}, None))
    return out


def seasonal_strength(y: Array, season: int) -> float:
    """Hyndman's strength of seasonality, 1 - var(remainder) / var(season + remainder),
    from STL (0 when the series is shorter than two seasons)."""
    from statsmodels.tsa.seasonal import STL

    if len(y) < 2 * season + 1 or np.ptp(y) == 0:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = STL(y, period=season).fit()
    rest = np.asarray(fit.resid)
    both = rest + np.asarray(fit.seasonal)
    v = float(np.var(both))
    return max(0.0, 1 - float(np.var(rest)) / v) if v > 0 else 0.0


def negatives(s: SeriesSet, f: Forecasts) -> dict[str, int]:
    """Series never below zero in their history whose forecasts go below zero."""
    never = np.array([float(np.min(y)) >= 0 for y in s.trains])
    return {
        "nonneg_series": int(never.sum()),
        "negative_points": int(np.sum(never & np.any(f.mean < 0, axis=1))),
        "negative_lower95": int(np.sum(never & np.any(f.bounds["lo95"] < 0, axis=1))),
        "negative_lower95_steps": int(np.sum(never[:, None] & (f.bounds["lo95"] < 0))),
    }
