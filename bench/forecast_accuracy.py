"""Forecast accuracy on the M3 monthly series (1,428 series, h = 18), against statsforecast.

kpiwatch's forecaster and, in the same run on the same series, statsforecast's AutoETS,
AutoTheta and SeasonalNaive (statsforecast appears only here; `pip install statsforecast`).
Reports per method sMAPE, MASE, 80 % and 95 % interval coverage and series per second
on this machine; then the calibration of P(meet target) on backtests built from the
same series: target = the last 12 training months' total grown by a random −10…+15 %,
outcome = the first 12 test months reach it. Brier score against the base rate and
reliability by decile.
Usage: python -m bench.forecast_accuracy [N_SERIES]   (from the repository root)
"""

from __future__ import annotations

import json
import os
import sys
import time
import zlib

import numpy as np
import pandas as pd

from forecasts.engine import forecast_series
from forecasts.evaluation import coverage, mase, smape
from forecasts.pool import process_pool

M3 = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "m3", "M3_monthly_long.csv"
)
H = 18


def load(n: int | None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    frame = pd.read_csv(M3).sort_values(["series_id", "t"])
    out = []
    for sid, g in frame.groupby("series_id", sort=True):
        out.append(
            (
                str(sid),
                g[g.split == "train"].value.to_numpy(float),
                g[g.split == "test"].value.to_numpy(float),
            )
        )
    return out[:n] if n else out


def ours(item: tuple[str, np.ndarray, np.ndarray]) -> dict[str, object]:
    sid, train, test = item
    f = forecast_series(train, H, 12, n_paths=2000, seed=1)
    lo80, hi80 = np.percentile(f.paths, [10, 90], axis=0)
    lo95, hi95 = np.percentile(f.paths, [2.5, 97.5], axis=0)
    rng = np.random.default_rng(zlib.crc32(sid.encode()))
    target = train[-12:].sum() * (1 + rng.uniform(-0.10, 0.15))
    p = float(np.mean(f.paths[:, :12].sum(axis=1) >= target))
    return {
        "mean": f.mean,
        "lo80": lo80,
        "hi80": hi80,
        "lo95": lo95,
        "hi95": hi95,
        "p": p,
        "met": float(test[:12].sum() >= target),
        "model": f.model,
    }


def score(name: str, items: list, preds: list[dict], seconds: float) -> dict[str, float]:
    rows = []
    for (_, train, test), p in zip(items, preds, strict=True):
        rows.append(
            (
                smape(test, p["mean"]),
                mase(train, test, p["mean"]),
                coverage(test, p["lo80"], p["hi80"]),
                coverage(test, p["lo95"], p["hi95"]),
            )
        )
    a = np.array(rows)
    return {
        "method": name,
        "smape": round(float(a[:, 0].mean()), 3),
        "mase": round(float(np.nanmean(a[:, 1])), 4),
        "coverage80": round(float(a[:, 2].mean()) * 100, 1),
        "coverage95": round(float(a[:, 3].mean()) * 100, 1),
        "series_per_s": round(len(items) / seconds, 2),
    }


def statsforecast_runs(items: list) -> list[dict[str, float]]:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, AutoTheta, SeasonalNaive

    long = pd.concat(
        pd.DataFrame({"unique_id": sid, "ds": np.arange(len(train)), "y": train})
        for sid, train, _ in items
    )
    results = []
    for model in (
        AutoETS(season_length=12),
        AutoTheta(season_length=12),
        SeasonalNaive(season_length=12),
    ):
        sf = StatsForecast(models=[model], freq=1, n_jobs=2)
        t = time.perf_counter()
        fc = sf.forecast(df=long, h=H, level=[80, 95])
        seconds = time.perf_counter() - t
        name = str(model)
        preds = []
        for sid, _, _ in items:
            g = fc[fc.unique_id == sid]
            preds.append(
                {
                    "mean": g[name].to_numpy(),
                    "lo80": g[f"{name}-lo-80"].to_numpy(),
                    "hi80": g[f"{name}-hi-80"].to_numpy(),
                    "lo95": g[f"{name}-lo-95"].to_numpy(),
                    "hi95": g[f"{name}-hi-95"].to_numpy(),
                }
            )
        results.append(score(f"statsforecast {name}", items, preds, seconds))
    return results


def goals(methods: list[dict[str, float]]) -> dict[str, float]:
    """The issue's goals: MASE 3 % below the best statsforecast model, throughput at
    least AutoETS's, interval coverage within 3 points of nominal."""
    ours, others = methods[0], methods[1:]
    out = {
        "coverage80_off_by": round(abs(ours["coverage80"] - 80), 1),
        "coverage95_off_by": round(abs(ours["coverage95"] - 95), 1),
    }
    if others:
        best = min(m["mase"] for m in others)
        out["mase_below_best_statsforecast_pct"] = round((1 - ours["mase"] / best) * 100, 2)
        ets = next(m for m in others if m["method"].endswith("AutoETS"))
        out["series_per_s_vs_autoets"] = round(ours["series_per_s"] / ets["series_per_s"], 2)
    return out


def calibration(preds: list[dict]) -> dict[str, object]:
    p = np.array([x["p"] for x in preds])
    y = np.array([x["met"] for x in preds])
    base = y.mean()
    deciles = []
    for lo in np.arange(0, 1, 0.1):
        sel = (p >= lo) & (p < lo + 0.1 if lo < 0.9 else p <= 1)
        if sel.any():
            deciles.append(
                {
                    "p": f"{lo:.1f}-{lo + 0.1:.1f}",
                    "n": int(sel.sum()),
                    "mean_p": round(float(p[sel].mean()), 3),
                    "observed": round(float(y[sel].mean()), 3),
                }
            )
    return {
        "brier": round(float(np.mean((p - y) ** 2)), 4),
        "brier_base_rate": round(float(np.mean((base - y) ** 2)), 4),
        "base_rate": round(float(base), 3),
        "reliability": deciles,
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else None
    items = load(n)
    t = time.perf_counter()
    with process_pool(2) as pool:  # the forecasts stage's own pool
        preds = list(pool.map(ours, items, chunksize=8))
    seconds = time.perf_counter() - t
    report = {
        "series": len(items),
        "horizon": H,
        "methods": [score("kpiwatch", items, preds, seconds)],
    }
    try:
        report["methods"] += statsforecast_runs(items)
    except ImportError:
        report["statsforecast"] = "not installed: pip install statsforecast"
    report["goals"] = goals(report["methods"])
    report["p_meet_calibration"] = calibration(preds)
    models = pd.Series([p["model"] for p in preds]).value_counts().to_dict()
    report["kpiwatch_models_chosen"] = {str(k): int(v) for k, v in models.items()}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
