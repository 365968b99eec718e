"""P(meet) recalibrated on the backtest origins: what the benchmark measures it would give.

The intervals are calibrated step by step (engine._calibration); a target is judged on
one quantity — a flow's sum over the remaining periods, a stock's last value — whose
spread also depends on how the steps' errors move together, and whose errors may lean
one way. At each backtest origin the quantity's error is scored in the forecast's own
standard deviations; the scores' location and scale, shrunk toward a calibrated
forecast's (0 and the paths' own), shift and stretch the quantity's paths before P(meet)
is read from them. Two origins are a small sample, hence the prior. The service does not
recalibrate: on M3 monthly, M1 monthly and M3 quarterly no prior improved the Brier score
on the sets it was not chosen on (backtest errors are smaller than the errors ahead), so
bench.forecast_accuracy prints P(meet) before and after, and the service keeps "before".
"""

from __future__ import annotations

import numpy as np

from forecasts.engine import TAIL_DF, TAIL_MATCH
from forecasts.models import Array

# Pseudo-origins of a calibrated forecast that the fit leans on (two or three real ones).
PRIOR = 4.0
# A score past this many sds is taken as this many: one wild origin must not decide.
CLIP = 4.0
SCALE_LIMITS = (0.5, 2.5)
# The paths' variance in their sds: a Student t matched to the Gaussian at 90 % (engine).
PATH_VARIANCE = TAIL_MATCH**2 * TAIL_DF / (TAIL_DF - 2)


def quantity_sd(sd: Array, steps: int, summed: bool) -> float:
    """The spread of a horizon's quantity on engine paths whose step-k sd is sd[k]: the
    value at step `steps`, or (flows) the sum of the first `steps`. The paths accumulate
    independent increments, each step shrunk to its own sd (engine._paths)."""
    sd = np.asarray(sd[:steps], dtype=np.float64)
    if not summed:
        return float(sd[-1])
    var = np.maximum.accumulate(sd**2)
    increments = np.diff(np.r_[0.0, var])
    with np.errstate(divide="ignore", invalid="ignore"):
        shrink = np.where(var > 0, sd / np.sqrt(var), 1.0)
    weight = np.cumsum(shrink[::-1])[::-1]  # step j's increment counts in steps j..end
    return float(np.sqrt(np.sum(increments * weight**2)))


def origin_scores(backtest: tuple[Array, Array] | None, steps: int, summed: bool) -> Array:
    """Per backtest origin, the quantity's error in the forecast's sds there (up to the
    backtest's length when the horizon is longer)."""
    if backtest is None or steps < 1:
        return np.empty(0)
    out = []
    for err, sd in zip(*backtest, strict=True):
        k = min(steps, int(np.sum(np.isfinite(err))))
        if k < 1:
            continue
        e = float(np.sum(err[:k])) if summed else float(err[k - 1])
        s = quantity_sd(sd, k, summed)
        if s > 0 and np.isfinite(e) and np.isfinite(s):
            out.append(np.clip(e / s, -CLIP, CLIP))
    return np.asarray(out, dtype=np.float64)


def shift_scale(scores: Array, prior: float = PRIOR) -> tuple[float, float]:
    """Location (in sds) and scale of the scores, each shrunk toward a calibrated
    forecast's (0 and 1) as if by `prior` more origins that scored as expected."""
    n = len(scores)
    if n == 0:
        return 0.0, 1.0
    shift = float(np.sum(scores)) / (n + prior)
    spread = (float(np.sum((scores - shift) ** 2)) / PATH_VARIANCE + prior) / (n + prior)
    return shift, float(np.clip(np.sqrt(spread), *SCALE_LIMITS))


def recalibrated(q: Array, sd_q: float, shift: float, scale: float) -> Array:
    """The quantity's paths moved by `shift` sds and stretched by `scale` about their mean."""
    mean = float(np.mean(q))
    return np.asarray(mean + shift * sd_q + scale * (q - mean), dtype=np.float64)


def calibrated_quantity(
    q: Array, sd: Array, backtest: tuple[Array, Array] | None, steps: int, summed: bool
) -> Array:
    """The horizon's quantity paths q recalibrated on the backtest origins (sd: the
    forecast's per-step sds, from which the quantity's own spread follows)."""
    shift, scale = shift_scale(origin_scores(backtest, steps, summed))
    if (shift, scale) == (0.0, 1.0) or steps < 1:
        return q
    return recalibrated(q, quantity_sd(sd, steps, summed), shift, scale)
