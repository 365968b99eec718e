"""Forecast accuracy on M3 monthly, M1 monthly and M3 quarterly, against statsforecast.

kpiwatch's forecaster and, on the same series, statsforecast's AutoETS, AutoTheta,
AutoCES, AutoARIMA and SeasonalNaive (cached outside the repository, see
bench/forecast_baselines.py) and every equal-weight mean of two or more of them. Per set:
MASE, sMAPE, 80 % and 95 % coverage per horizon band, series per second against
AutoETS, forecasts below zero for series that never were, the same figures on the
slice of strongly seasonal series (STL strength >= 0.8), and the calibration of
P(meet target) on cases built from the series: target = the last season's total grown
by a random -10...+15 %, met when the first season of the test reaches it; P(meet)
before and after a recalibration on the backtest origins; throughput timed live against
AutoETS (bench/forecast_throughput.py); and, at the end, the growth-target cases of
bench.growth_targets (NBS GDP).
Usage: python -m bench.forecast_accuracy [--limit N] [--cached-only] [SET.csv[:SEASON] ...]
(from the repository root; `pip install -e '.[bench]'` for statsforecast)
"""

from __future__ import annotations

import argparse
import json
import os
import time
import zlib
from typing import Any

import numpy as np

from bench import forecast_calibration as calibration
from bench import growth_targets
from bench.forecast_baselines import MODELS, Array, baselines
from bench.forecast_scores import (
    Forecasts,
    combinations,
    from_baseline,
    negatives,
    score,
    seasonal_strength,
)
from bench.forecast_sets import DEFAULT_SETS, SeriesSet, load
from bench.forecast_throughput import lines as timing_lines
from bench.forecast_throughput import throughput
from forecasts.engine import forecast_series
from forecasts.pool import process_pool

STRONG_SEASON = 0.8
# P(meet) recalibration priors printed beside the engine's (pseudo-origins; inf = none).
PRIORS = (1.0, 2.0, 4.0, 8.0, 16.0)


def _ours_one(item: tuple[str, Array, int, int]) -> dict[str, object]:
    sid, train, h, season = item
    floor = 0.0 if train.min() >= 0 else None  # counts and amounts, as the refresh does
    f = forecast_series(train, h, season, n_paths=2000, seed=1, floor=floor)
    lo80, hi80, lo95, hi95 = np.percentile(f.paths, [10, 90, 2.5, 97.5], axis=0)
    rng = np.random.default_rng(zlib.crc32(sid.encode()))
    target = train[-season:].sum() * (1 + rng.uniform(-0.10, 0.15))
    q = f.paths[:, :season].sum(axis=1)
    scores = calibration.origin_scores(f.backtest, season, True)
    sd_q = calibration.quantity_sd(f.sd, season, True)
    p = {"raw": float(np.mean(q >= target))}
    for prior in (calibration.PRIOR, *PRIORS):
        shifted = calibration.recalibrated(q, sd_q, *calibration.shift_scale(scores, prior))
        p[str(prior)] = float(np.mean(shifted >= target))
    return {"mean": f.mean, "bounds": (lo80, hi80, lo95, hi95), "p": p, "target": target}


def ours(s: SeriesSet) -> tuple[Forecasts, dict[str, Array], Array]:
    """kpiwatch's forecasts of the set in its own process pool, and the P(meet) cases."""
    items = [(sid, y, s.h, s.season) for sid, y in zip(s.ids, s.trains, strict=True)]
    start = time.perf_counter()
    with process_pool(2) as pool:  # the forecasts stage's own pool
        out = list(pool.map(_ours_one, items, chunksize=8))
    seconds = time.perf_counter() - start
    bounds = {
        b: np.array([o["bounds"][i] for o in out])  # type: ignore[index]
        for i, b in enumerate(("lo80", "hi80", "lo95", "hi95"))
    }
    mean = np.array([o["mean"] for o in out])
    p = {k: np.array([o["p"][k] for o in out]) for k in out[0]["p"]}  # type: ignore[index]
    met = np.array(
        [s.tests[i, : s.season].sum() >= o["target"] for i, o in enumerate(out)], dtype=np.float64
    )
    return Forecasts("kpiwatch", mean, bounds, seconds), p, met


def reliability(p: Array, met: Array) -> list[str]:
    """Brier score against the base rate and the reliability table by decile."""
    base = float(met.mean())
    lines = [
        f"P(meet): Brier {np.mean((p - met) ** 2):.4f} against {np.mean((base - met) ** 2):.4f}"
        f" for the base rate ({base:.3f})",
        "| P(meet) | cases | mean P | observed |",
        "|---|---|---|---|",
    ]
    for lo in np.arange(0, 1, 0.1):
        sel = (p >= lo) & ((p < lo + 0.1) if lo < 0.85 else (p <= 1))
        if sel.any():
            lines.append(
                f"| {lo:.1f}-{lo + 0.1:.1f} | {sel.sum()} | {p[sel].mean():.3f}"
                f" | {met[sel].mean():.3f} |"
            )
    return lines


def table(rows: list[dict[str, Any]]) -> list[str]:
    """Rows of scores as a Markdown table (columns of the first row)."""
    cols = list(rows[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [
            f"{r.get(c, ''):.4f}"
            if c in ("mase",) and isinstance(r.get(c), float)
            else f"{r.get(c):.1f}"
            if isinstance(r.get(c), float)
            else str(r.get(c, ""))
            for c in cols
        ]
        out.append("| " + " | ".join(cells) + " |")
    return out


def goals(mine: dict[str, Any], best_single: dict[str, Any], best_combo: dict[str, Any]) -> str:
    """The goals: MASE 3 % below the best single model and no worse than the best
    combination; coverage within 3 points of nominal in every band."""
    off = max(abs(v - float(k[3:5])) for k, v in mine.items() if k.startswith("cov") and " " in k)
    return (
        f"goals: MASE 3 % below the best single {mine['mase'] <= 0.97 * best_single['mase']},"
        f" no worse than the best combination {mine['mase'] <= best_combo['mase']},"
        f" coverage within 3 points in every band {off <= 3} (worst {off:.1f} off)"
    )


def report_set(s: SeriesSet, models: tuple[str, ...] = MODELS, compute: bool = True) -> list[str]:
    """Every figure of one set, as Markdown lines."""
    mine, p, met = ours(s)
    bases = [from_baseline(b) for b in baselines(s.trains, s.h, s.season, models, compute)]
    combos = combinations(bases)
    ets = next(b for b in bases if b.name == "AutoETS")
    strength = np.array([seasonal_strength(y, s.season) for y in s.trains])
    strong = np.flatnonzero(strength >= STRONG_SEASON)
    lines = [f"## {s.name}: {len(s.ids)} series, h = {s.h}, season {s.season}", ""]
    missing = sorted(set(models) - {b.name for b in bases})
    if missing:
        lines += [f"not in the cache, left out: {', '.join(missing)}", ""]
    for label, rows in (("all series", None), (f"strongly seasonal: {len(strong)}", strong)):
        scored = [score(s, f, rows) for f in [mine, *bases]]
        combo_scores = sorted((score(s, c, rows) for c in combos), key=lambda r: r["mase"])
        best_single = min(scored[1:], key=lambda r: r["mase"])
        best_combo = combo_scores[0]
        ours_mase = float(scored[0]["mase"])
        lines += [f"### {label}", "", *table(scored), "", *table(combo_scores[:5]), ""]
        lines.append(
            f"kpiwatch MASE {ours_mase:.4f}: "
            f"{(1 - ours_mase / float(best_single['mase'])) * 100:+.2f} % below the best single"
            f" ({best_single['method']}), "
            f"{(1 - ours_mase / float(best_combo['mase'])) * 100:+.2f} % below the best"
            f" combination ({best_combo['method']})"
        )
        lines += [goals(scored[0], best_single, best_combo), ""]
    ratio = ets.seconds / mine.seconds if mine.seconds and ets.seconds else 0.0
    lines.append(
        f"whole set: kpiwatch {mine.seconds:.0f} s wall (load average"
        f" {os.getloadavg()[0]:.1f}); {ratio:.2f}x AutoETS's cached seconds (another load)"
    )
    lines += timing_lines(throughput(s, ours))
    lines.append(f"below zero: {negatives(s, mine)}")
    lines += ["", "before recalibration:", *reliability(p["raw"], met), ""]
    lines += [f"recalibrated on the backtest origins (prior {calibration.PRIOR:g}):"]
    lines += [*reliability(p[str(calibration.PRIOR)], met), ""]
    briers = ", ".join(f"{k} {np.mean((v - met) ** 2):.4f}" for k, v in p.items())
    lines += [f"P(meet) Brier by recalibration prior: {briers}", ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", help="more long-format sets, PATH[:SEASON]")
    parser.add_argument("--limit", type=int, help="the first N series of each set")
    parser.add_argument("--only", nargs="*", help="only these of the default sets (by name)")
    parser.add_argument(
        "--models", default=",".join(MODELS), help="statsforecast models, comma-separated"
    )
    parser.add_argument(
        "--cached-only",
        action="store_true",
        help="leave out statsforecast models not in the cache instead of computing them",
    )
    args = parser.parse_args()
    defaults = [d for d in DEFAULT_SETS if not args.only or any(o in d for o in args.only)]
    for spec in [*defaults, *args.sets]:
        models = tuple(args.models.split(","))
        lines = report_set(load(spec, args.limit), models, not args.cached_only)
        print("\n".join(lines), flush=True)
    if not args.limit:
        print("## growth targets: P(year's GDP growth >= x), NBS quarterly GDP", flush=True)
        print(json.dumps(growth_targets.report(), indent=1, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
