"""Forecast intervals: calibrated step by step, and never below zero for counts and amounts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasts.engine import TAIL_DF, TAIL_MATCH, _calibration, forecast_series
from forecasts.jobs import Job, run


def test_calibration_widens_late_steps_where_backtest_errors_grow() -> None:
    # two origins: errors within the model's spread for six steps, three times it after
    rng = np.random.default_rng(0)
    signs = np.where(rng.random((2, 12)) < 0.5, -1.0, 1.0)
    z = signs * np.r_[np.full(6, 0.6), np.full(6, 3.0)]
    c = _calibration(z, 18)
    assert len(c) == 18
    one_scale = np.sqrt(np.mean(z**2))
    # early steps narrower than one scale for all steps would make them, late steps wider
    assert c[:3].max() < 0.8 * one_scale < 1.1 * one_scale < c[9:12].min(), c
    assert c[-1] > 1.5 * c[0]
    assert np.all(c[12:] == c[11]), "steps past the backtest keep the last step's scale"


def test_the_tails_match_the_gaussian_at_the_80_percent_bound() -> None:
    from scipy.stats import norm, t

    assert pytest.approx(norm.ppf(0.9) / t.ppf(0.9, TAIL_DF), rel=1e-12) == TAIL_MATCH


def test_calibration_is_flat_where_errors_do_not_grow() -> None:
    z = np.tile([1.0, -1.0, 1.0, -1.0], (2, 3))
    assert np.allclose(_calibration(z, 12), 1.0)


def _declining(n: int = 72) -> np.ndarray:
    t = np.arange(n)
    rng = np.random.default_rng(4)
    y = 45 - 0.6 * t + 4 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1.5, n)
    return np.maximum(y, 0.0)


def test_a_count_falling_towards_zero_is_never_forecast_below_it() -> None:
    y = _declining()
    free = forecast_series(y, 18, 12, n_paths=400)
    assert (free.paths < 0).any(), "without a floor the trend runs below zero"
    f = forecast_series(y, 18, 12, n_paths=400, floor=0.0)
    assert np.all(f.mean >= 0) and np.all(f.paths >= 0)
    # above the floor nothing moves
    above = free.mean > 0
    assert np.allclose(f.mean[above], free.mean[above])


@settings(deadline=None, max_examples=6)
@given(
    # Counts and amounts as published: at most two decimals (a 1e-248 is no published figure).
    st.lists(
        st.integers(min_value=0, max_value=10**6).map(lambda cents: cents / 100),
        min_size=8,
        max_size=30,
    ),
    st.integers(min_value=1, max_value=12),
)
def test_no_non_negative_history_is_forecast_below_zero(values: list[float], h: int) -> None:
    f = forecast_series(np.array(values), h, 4, n_paths=200, floor=0.0)
    assert np.all(f.mean >= 0) and np.all(f.paths >= 0)


def _job(kind: str, history: np.ndarray) -> Job:
    return Job(
        "x", "CN", 2026, 3, kind, "higher", tuple(history), 12, 1,
        float(history[-3:].sum()), float(history[-3:].sum()), 3, 100.0, 10.0, 400, 0.5, 0.2,
    )  # fmt: skip


def test_flows_and_stocks_get_no_negative_bounds_and_growth_rates_can() -> None:
    y = _declining()
    for kind in ("flow", "stock"):
        for r in run(_job(kind, y)):
            assert r.point is not None and r.lower95 is not None
            assert r.point >= 0 and r.lower95 >= 0, (kind, r)
    # a growth rate that happened to stay positive may still fall below zero
    growth = run(_job("growth", y))
    assert min(r.lower95 for r in growth if r.lower95 is not None) < 0
