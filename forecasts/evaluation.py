"""Accuracy measures on held-out data: sMAPE, MASE and interval coverage."""

from __future__ import annotations

import numpy as np

from forecasts.models import Array


def smape(actual: Array, forecast: Array) -> float:
    """Symmetric MAPE in percent, as in the M3 and M4 competitions."""
    denom = np.abs(actual) + np.abs(forecast)
    return float(np.mean(np.where(denom == 0, 0.0, 200 * np.abs(actual - forecast) / denom)))


def mase(train: Array, actual: Array, forecast: Array, season: int = 12) -> float:
    """Mean absolute error scaled by the in-sample seasonal naive error."""
    lag = season if len(train) > season else 1
    scale = float(np.mean(np.abs(train[lag:] - train[:-lag])))
    return float(np.mean(np.abs(actual - forecast)) / scale) if scale > 0 else float("nan")


def coverage(actual: Array, lower: Array, upper: Array) -> float:
    """Share of actual values inside [lower, upper]."""
    return float(np.mean((actual >= lower) & (actual <= upper)))
