"""Every candidate model's forecasts of a set, at several backtest origins and at the end.

What the selection benchmark (bench/forecast_selection.py) chooses from: per series, each
candidate's mean and standard deviation at up to four rolling origins (the newest first,
half a backtest horizon apart) with the actual values there, and on the whole training
series for the set's horizon. Cached outside the repository like statsforecast's.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.forecast_baselines import Array, cache_dir
from bench.forecast_sets import SeriesSet
from forecasts import engine
from forecasts.models import DifferencedAR, Forecaster, SeasonalAR
from forecasts.pool import process_pool

ORIGINS = 4
VERSION = 1  # of the candidates' forecasts: raise it when a candidate changes
Pred = tuple[Array, Array]


@dataclass(frozen=True)
class Origin:
    """One backtest origin: the actual values after it and every candidate's forecast."""

    test: Array
    scale: float  # the in-sample seasonal naive MAE, as MASE scales
    preds: dict[str, Pred]


@dataclass(frozen=True)
class Members:
    """One series' candidates: at each origin and on the whole series."""

    seasonal: bool
    origins: list[Origin]
    final: dict[str, Pred]


def _makers(season: int) -> list[Callable[[], Forecaster]]:
    extra: list[Callable[[], Forecaster]] = [
        lambda: DifferencedAR(season),
        lambda: SeasonalAR(season),
    ]
    base = [m for m in engine.candidates(10**6, season, True) if m().name != "ar_changes"]
    return base + extra


def _predict_all(y: Array, h: int, season: int) -> dict[str, Pred]:
    found = engine.seasonal_indices(y, season)
    out: dict[str, Pred] = {}
    for maker in _makers(season):
        model: Forecaster = maker()
        try:
            out[model.name] = engine._predict(maker, y, h, season, found)
        except Exception:  # a failing candidate is left out, as the engine does
            continue
    return out


def series_members(item: tuple[Array, int, int]) -> Members:
    """Every candidate's forecasts of one series."""
    y, h, season = item
    n = len(y)
    hb = max(1, min(h, n // 4))
    lag = season if n > 2 * season else 1
    origins = []
    for j in range(ORIGINS):
        o = n - hb - j * max(1, hb // 2)
        if o < max(engine.MIN_HISTORY, 2 * season + 2):
            break
        train = y[:o]
        scale = float(np.mean(np.abs(train[lag:] - train[:-lag]))) or 1.0
        origins.append(Origin(y[o : o + hb], scale, _predict_all(train, hb, season)))
    seasonal = engine.seasonal_indices(y, season) is not None
    return Members(seasonal, origins, _predict_all(y, h, season))


def members(s: SeriesSet) -> list[Members]:
    """Every series' candidates, from the cache when it holds them."""
    digest = hashlib.sha1(f"{VERSION}|{s.h}|{s.season}|{ORIGINS}".encode())
    for y in s.trains:
        digest.update(y.tobytes())
    path: Path = cache_dir() / f"members-{s.name}-{digest.hexdigest()[:16]}.pkl"
    if path.exists():
        with path.open("rb") as f:
            cached: list[Members] = pickle.load(f)
            return cached
    with process_pool(2) as pool:
        out = list(pool.map(series_members, [(y, s.h, s.season) for y in s.trains], chunksize=8))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_suffix(".tmp").open("wb") as f:
        pickle.dump(out, f)
    path.with_suffix(".tmp").replace(path)
    return out
