"""The smoothing members forecast exactly what statsmodels forecasts from their fit."""

from __future__ import annotations

import numpy as np
import pytest

from forecasts.models import DampedETS, HoltWinters, _theta_fit

RNG = np.random.default_rng(7)
T = np.arange(60, dtype=np.float64)
SERIES = {
    "positive, monthly season": 100 + T + 10 * np.sin(2 * np.pi * T / 12) + RNG.normal(0, 2, 60),
    "crossing zero": np.sin(2 * np.pi * T / 4) * 5 + 0.1 * T - 3 + RNG.normal(0, 1, 60),
    "short (estimated initial states)": 50 + np.cos(2 * np.pi * T[:26] / 12) * 4 + T[:26],
    "two seasons exactly": 20 + np.sin(2 * np.pi * T[:24] / 12) + 0.5 * T[:24],
}


@pytest.mark.parametrize("name", SERIES)
@pytest.mark.parametrize("model", [DampedETS, HoltWinters])
@pytest.mark.parametrize("season", [4, 12])
def test_smoothing_forecasts_equal_statsmodels_own(
    name: str, model: type[DampedETS], season: int
) -> None:
    y = SERIES[name]
    fitted = model(season).fit(y)
    for h in (1, season - 1, season, 3 * season + 1):
        mine = fitted.predict(h).mean
        theirs = np.asarray(fitted._result.forecast(h), dtype=np.float64)  # type: ignore[attr-defined]
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", SERIES)
def test_theta_next_step_equals_statsmodels_ses_forecast(name: str) -> None:
    from statsmodels.tsa.holtwinters import SimpleExpSmoothing

    y = SERIES[name]
    _, _, one_step = _theta_fit(y.tobytes())
    ses = SimpleExpSmoothing(y, initialization_method="known", initial_level=y[0]).fit()
    np.testing.assert_allclose(one_step[:-1], ses.fittedvalues, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(one_step[-1], ses.forecast(1)[0], rtol=1e-12, atol=1e-12)
