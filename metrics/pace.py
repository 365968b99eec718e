"""Pace curves: how much of a target should be done by the end of each month.

A curve is 13 cumulative values P[0..12] (P[0] = 0 for flows). Explicit month and
quarter-end targets are anchors; between two anchors the remainder is spread by the
pacing rule's cumulative shares S[0..12] (S[0] = 0, S[12] = 1):

    P(m) = P(a) + (P(b) − P(a)) · (S(m) − S(a)) / (S(b) − S(a))

Linear pacing (时间过半、任务过半) is S(m) = m / 12.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

import numpy as np
import numpy.typing as npt

Curve = npt.NDArray[np.float64]
LINEAR: Curve = np.arange(13, dtype=np.float64) / 12.0


def profile_shares(weights: Sequence[float]) -> Curve:
    """Cumulative shares from 12 monthly weights (e.g. a published monthly profile)."""
    w = np.asarray(weights, dtype=np.float64)
    total = w.sum()
    if len(w) != 12 or total <= 0:
        return LINEAR.copy()
    return np.concatenate([[0.0], np.cumsum(w) / total])


def seasonal_shares(ytd_by_year: Mapping[int, Mapping[int, float]]) -> Curve | None:
    """Average YTD share of the year's total at each month, over complete past years.

    A year counts when its December YTD is known and positive. January is often only
    published with February (1–2月): where no January share is known it is taken as
    half of February's, as linear pacing inside the combined release would.
    """
    shares: dict[int, list[float]] = {m: [] for m in range(1, 13)}
    for ytd in ytd_by_year.values():
        total = ytd.get(12)
        if total is None or total <= 0:
            continue
        for m, v in ytd.items():
            if 1 <= m <= 12:
                shares[m].append(v / total)
    if not shares[12]:
        return None
    s = np.full(13, np.nan)
    s[0], s[12] = 0.0, 1.0
    for m in range(1, 12):
        if shares[m]:
            s[m] = float(np.mean(shares[m]))
    if np.isnan(s[1]) and not np.isnan(s[2]):
        s[1] = s[2] / 2
    known = ~np.isnan(s)
    s = np.interp(np.arange(13), np.flatnonzero(known), s[known])
    return np.maximum.accumulate(np.clip(s, 0.0, 1.0))


def pace_curve(
    annual: float,
    shares: Curve = LINEAR,
    quarters: Mapping[int, float] | None = None,
    months: Mapping[int, float] | None = None,
    start: float = 0.0,
) -> Curve:
    """Cumulative pace P[0..12] honouring explicit quarter-end and month-end targets.

    `start` is P[0]: 0 for flows, the opening level for stocks.
    """
    anchors: dict[int, float] = {0: start, 12: annual}
    for q, v in (quarters or {}).items():
        anchors[3 * q] = v
    for m, v in (months or {}).items():
        anchors[m] = v
    points = sorted(anchors.items())
    xs = shares[[m for m, _ in points]]
    if np.all(np.diff(xs) > 0):  # the formula above is interpolation in share space
        return np.interp(shares, xs, [v for _, v in points])
    curve = np.empty(13)
    for (a, pa), (b, pb) in pairwise(points):
        span = shares[b] - shares[a]
        for m in range(a, b + 1):
            frac = (shares[m] - shares[a]) / span if span > 0 else (m - a) / (b - a)
            curve[m] = pa + (pb - pa) * frac
    return curve
