"""P(meet) recalibrated on the backtest origins: hand-checked spreads, shifts and the
direction a miscalibrated backtest moves P(meet)."""

from __future__ import annotations

import numpy as np
import pytest

from bench import forecast_calibration as calibration
from bench.forecast_calibration import (
    PATH_VARIANCE,
    calibrated_quantity,
    origin_scores,
    quantity_sd,
    shift_scale,
)
from forecasts.engine import forecast_series


def test_the_spread_of_a_sum_and_of_a_last_value_by_hand() -> None:
    # a random walk's steps: sd_k = sigma * sqrt(k); the sum of the first three is
    # 3 e1 + 2 e2 + e3, variance 14 sigma^2; the third value alone has 3 sigma^2
    sd = 2.0 * np.sqrt(np.arange(1, 5))
    assert quantity_sd(sd, 3, summed=True) == pytest.approx(2.0 * np.sqrt(14))
    assert quantity_sd(sd, 3, summed=False) == pytest.approx(2.0 * np.sqrt(3))
    # the engine's paths agree (Monte Carlo, 40 000 paths)
    f = forecast_series(np.arange(1.0, 40.0) % 7 + 100, 4, 12, n_paths=40_000, seed=3)
    sums = f.paths[:, :3].sum(axis=1)
    assert np.std(sums) == pytest.approx(
        quantity_sd(f.sd, 3, True) * np.sqrt(PATH_VARIANCE), rel=0.05
    )


def test_errors_above_the_forecast_raise_p_meet_of_a_higher_target() -> None:
    # Two origins whose three-step sums both came out 2 of their sds above the forecast:
    # steps sds 1, sqrt 2, sqrt 3 (sum sd sqrt 14 by hand), each step 2 sqrt(14) / 3 over.
    sd = np.sqrt(np.arange(1.0, 4.0))
    err = np.full(3, 2 * np.sqrt(14) / 3)
    backtest = (np.array([err, err]), np.array([sd, sd]))
    assert origin_scores(backtest, 3, True) == pytest.approx([2.0, 2.0])
    shift, scale = shift_scale(np.array([2.0, 2.0]))
    # shrunk by 4 pseudo-origins scoring 0: 4 / 6 sds; spread (2 (4/3)^2 / v + 4) / 6
    assert shift == pytest.approx(4 / 6)
    assert scale == pytest.approx(np.sqrt((2 * (4 / 3) ** 2 / PATH_VARIANCE + 4) / 6))
    q = np.random.default_rng(0).normal(100.0, np.sqrt(14), 20_000)
    judged = calibrated_quantity(q, sd, backtest, 3, True)
    assert np.mean(judged) == pytest.approx(100 + 4 / 6 * np.sqrt(14), abs=0.1)
    before, after = np.mean(q >= 103), np.mean(judged >= 103)
    assert before < 0.25 < 0.35 < after  # 0.21 -> about 0.39
    # a target to stay under ("lower"): the same errors make it less likely
    assert np.mean(judged <= 103) < np.mean(q <= 103)


def test_errors_wider_than_the_forecast_pull_p_meet_toward_a_half() -> None:
    shift, scale = shift_scale(np.array([3.0, -3.0]))
    assert shift == 0.0 and scale == pytest.approx(np.sqrt((18 / PATH_VARIANCE + 4) / 6))
    q = np.random.default_rng(1).normal(0.0, 1.0, 20_000)
    wide = calibration.recalibrated(q, 1.0, shift, scale)
    assert 0.02 < np.mean(q >= 2) < 0.03 < 0.1 < np.mean(wide >= 2)  # far target: likelier
    assert np.mean(wide >= -1) < np.mean(q >= -1)  # near-certain one: less sure
    # no backtest, or origins that scored exactly as forecast: P(meet) unchanged
    assert calibrated_quantity(q, np.ones(3), None, 3, True) is q
    assert shift_scale(np.empty(0)) == (0.0, 1.0)


def test_a_flow_that_outgrew_its_backtests_gets_a_higher_p_meet() -> None:
    # Monthly amounts growing faster and faster: the damped members fell short at every
    # backtest origin, so a target above the point is likelier than the raw paths say.
    t = np.arange(60.0)
    y = 100 * 1.002 ** (t**1.5) * (1 + 0.02 * np.sin(t))
    f = forecast_series(y, 12, 12, n_paths=4000, floor=0.0)
    assert f.backtest is not None and f.backtest[0].shape == (2, 12)
    assert np.all(origin_scores(f.backtest, 12, True) > 0)
    raw = f.paths.sum(axis=1)
    target = float(np.percentile(raw, 70))  # raw P(meet) 0.30
    judged = calibrated_quantity(raw, f.sd, f.backtest, 12, True)
    assert np.mean(judged >= target) > 0.4
