"""Which members, combination rule and interval calibration hold up across sets.

Every rule is chosen on one of M3 monthly, M1 monthly and M3 quarterly and scored on the
other two (the cross-set table); a rule is kept only where it wins out of sample. Rules:
a subset of the candidates (bench/forecast_members.py) combined by their mean, median or
trimmed mean (without the highest and lowest), separately for series with and without
a season. Then the intervals: one scale from the backtest errors of all steps, or one per
step; coverage per horizon band of the chosen combination on the test periods.
Usage: python -m bench.forecast_selection   (from the repository root)
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

from bench.forecast_baselines import Array
from bench.forecast_members import Members, Pred, members
from bench.forecast_sets import DEFAULT_SETS, SeriesSet, load
from forecasts import engine

POOL = (
    "ets_damped",
    "theta",
    "theta_trend",
    "drift",
    "holt_winters",
    "theta_stl",
    "seasonal_naive",
    "ar_changes",
    "ar_seasonal",
)
AGGREGATES = ("mean", "median", "trimmed")
Rule = tuple[tuple[str, ...], str]


@dataclass(frozen=True)
class Stacked:
    """One set's final forecasts, candidates stacked: (candidate, series, h)."""

    s: SeriesSet
    found: list[Members]
    final: Array
    scale: Array  # (series,) MASE's in-sample scale
    seasonal: Array  # (series,) bool


def stack(s: SeriesSet) -> Stacked:
    found = members(s)
    final = np.full((len(POOL), len(s.ids), s.h), np.nan)
    for i, m in enumerate(found):
        for c, name in enumerate(POOL):
            if name in m.final:
                final[c, i] = m.final[name][0]
    scale = np.array([_scale(y, s.season) for y in s.trains])
    return Stacked(s, found, final, scale, np.array([m.seasonal for m in found]))


def _scale(y: Array, season: int) -> float:
    lag = season if len(y) > season else 1
    return float(np.mean(np.abs(y[lag:] - y[:-lag]))) or np.nan


def aggregate(x: Array, how: str) -> Array:
    """Combine member forecasts along axis 0, ignoring members that failed."""
    if how == "mean":
        return np.asarray(np.nanmean(x, axis=0))
    if how == "median":
        return np.asarray(np.nanmedian(x, axis=0))
    srt = np.sort(x, axis=0)  # NaN last
    k = np.sum(np.isfinite(x), axis=0)
    total = np.nansum(srt, axis=0)
    lo, hi = srt[0], np.take_along_axis(srt, np.maximum(k - 1, 0)[None], axis=0)[0]
    return np.asarray(np.where(k >= 4, (total - lo - hi) / np.maximum(k - 2, 1), total / k))


def series_mase(st: Stacked, rule: Rule) -> Array:
    idx = [POOL.index(m) for m in rule[0]]
    with np.errstate(all="ignore"):
        point = aggregate(st.final[idx], rule[1])
        return np.asarray(np.mean(np.abs(point - st.s.tests), axis=1) / st.scale)


def rules() -> list[Rule]:
    out = []
    for k in range(3, 8):
        for subset in itertools.combinations(POOL, k):
            out += [(subset, how) for how in AGGREGATES]
    return out


def current_rule(seasonal: bool, season: int) -> Rule:
    """The engine's combination for series of this kind."""
    members, trimmed = engine.combination_rule(seasonal, season)
    return members, "trimmed" if trimmed else "mean"


def cross_set(stacks: list[Stacked], seasonal: bool) -> tuple[list[str], Rule]:
    """Choose on each set, score on every set; the rule chosen on all sets together."""
    cands = rules()
    groups = [st.seasonal == seasonal for st in stacks]
    table = np.array(
        [
            [np.nanmean(series_mase(st, r)[g]) for st, g in zip(stacks, groups, strict=True)]
            for r in cands
        ]
    )
    base = np.array(
        [
            np.nanmean(series_mase(st, current_rule(seasonal, st.s.season))[g])
            for st, g in zip(stacks, groups, strict=True)
        ]
    )
    rel = table / base
    names = [st.s.name for st in stacks]
    lines = [
        f"### series {'with' if seasonal else 'without'} a season: "
        "MASE relative to the engine's current rule for each set",
        "",
        "| chosen on | rule | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    others = [
        (f"the other two ({n} held out)", np.delete(rel, i, axis=1).mean(axis=1))
        for i, n in enumerate(names)
    ]
    for label, score in [
        *[(n, rel[:, i]) for i, n in enumerate(names)],
        *others,
        ("all three (mean)", rel.mean(axis=1)),
    ]:
        best = int(np.nanargmin(score))
        cells = " | ".join(f"{v:.4f}" for v in rel[best])
        lines.append(f"| {label} | {'+'.join(cands[best][0])} ({cands[best][1]}) | {cells} |")
    lines.append(f"| current | | {' | '.join(f'{v:.4f}' for v in base)} (absolute) |")
    return lines, cands[int(np.nanargmin(rel.mean(axis=1)))]


Q80 = float(engine.TAIL_MATCH * student_t.ppf(0.9, engine.TAIL_DF))
Q95 = float(engine.TAIL_MATCH * student_t.ppf(0.975, engine.TAIL_DF))


def _combo(preds: dict[str, Pred], rule: Rule) -> tuple[Array, Array] | None:
    parts = [preds[m] for m in rule[0] if m in preds]
    if not parts:
        return None
    means = np.array([p[0] for p in parts])
    return aggregate(means, rule[1]), np.mean([p[1] for p in parts], axis=0)


def coverage_bands(
    st: Stacked,
    chosen: dict[bool, Rule],
    origins: tuple[int, ...],
    window: int | None,
    prior: float,
) -> dict[str, float]:
    """Coverage per band on the test periods of the rule's intervals, calibrated on the
    given origins: per step (window, prior) or one scale for all steps (window None)."""
    inside = {
        "80": np.zeros_like(st.s.tests, dtype=bool),
        "95": np.zeros_like(st.s.tests, dtype=bool),
    }
    for i, m in enumerate(st.found):
        rule = chosen[m.seasonal]
        final = _combo(m.final, rule)
        if final is None:
            continue
        zs = []
        for j in origins:
            if j < len(m.origins) and (c := _combo(m.origins[j].preds, rule)) is not None:
                with np.errstate(all="ignore"):
                    zs.append(np.where(c[1] > 0, (m.origins[j].test - c[0]) / c[1], np.nan))
        z = np.array(zs) if zs else np.empty((0, 0))
        if window is None:
            zf = z[np.isfinite(z)] if z.size else z
            calib = np.full(
                st.s.h, np.clip(np.sqrt(np.mean(zf**2)), 0.5, 3) if zf.size >= 3 else 1.0
            )
        else:
            engine.CALIB_WINDOW, engine.CALIB_PRIOR = window, prior
            calib = engine._calibration(z, st.s.h)
        sd = final[1] * calib
        for level, q in (("80", Q80), ("95", Q95)):
            inside[level][i] = np.abs(st.s.tests[i] - final[0]) <= q * sd
    out = {}
    for level in ("80", "95"):
        for label, band in st.s.bands:
            out[f"{level} {label}"] = float(inside[level][:, band].mean() * 100)
    return out


def main() -> None:
    limit = next((int(a) for a in sys.argv[1:] if a.isdigit()), None)
    stacks = [stack(load(spec, limit)) for spec in DEFAULT_SETS]
    chosen = {}
    for seasonal in (True, False):
        lines, chosen[seasonal] = cross_set(stacks, seasonal)
        print("\n".join(lines), "\n", flush=True)
    if "--intervals" not in sys.argv:
        return
    for label, rules_ in (
        ("base members, mean", {k: (engine.MEMBERS[k], "mean") for k in (True, False)}),
        ("chosen", chosen),
    ):
        print(f"### intervals, {label}: coverage per band (80 / 95)")
        for origins in ((0, 2), (0, 1, 2, 3)):
            for window, prior in ((None, 0.0), (1, 6.0), (2, 6.0), (2, 20.0), (3, 12.0)):
                cells = []
                for st in stacks:
                    cov = coverage_bands(st, rules_, origins, window, prior)
                    cells.append(" ".join(f"{v:.1f}" for v in cov.values()))
                print(
                    f"| origins {origins} | window {window} prior {prior} | "
                    + " | ".join(cells)
                    + " |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
