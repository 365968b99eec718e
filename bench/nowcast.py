"""Pseudo-real-time backtest of the GDP nowcast on the NBS data, 2012Q1–2024Q2.

For every quarter, nowcasts made at the end of each of its months and on the day before
GDP is published, each from the data released by then (release lags per indicator; the
files hold one vintage, so revisions are not replayed). Against the published quarterly
YoY: RMSE and MAE by point, over 2012–2024 and 2012–2019, beside a random walk (the last
published quarter) and an AR(1) on quarterly growth; 80 / 95 % interval coverage, raw and
widened by the RMS of the standardised errors of earlier quarters at the same point.
Usage: python -m bench.nowcast [WORKERS]   (from the repository root)
Variants: NOWCAST_SERIES=iav,retail,… (see SPECS), NOWCAST_WINDOW=months averaged (3),
NOWCAST_CHANGES=0 (levels instead of three-month changes), NOWCAST_FACTORS=2, NOWCAST_ORDER=1,
NOWCAST_DUMP=file.csv.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date, timedelta

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from forecasts.nowcast import FactorNowcaster, nowcast
from forecasts.nowcast_data import SeriesSpec, build_panel, month_ends, quarterly_target
from forecasts.pool import process_pool

NBS = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "china_nbs")
START = pd.Period("2008-01", freq="M")
GDP_LAG = 17
# NBS activity data ~15th; trade ~8th; prices ~10th; money ~12th; PMI on the last day.
SPECS = [
    SeriesSpec("iav", "iav_growth", "ytd_yoy", 15),
    SeriesSpec("retail", "retail_growth", "yoy", 15),
    SeriesSpec("fai", "fai_growth", "ytd_yoy", 15),
    SeriesSpec("exports", "exports_growth", "yoy", 8),
    SeriesSpec("imports", "imports_growth", "yoy", 8),
    SeriesSpec("ppi", "ppi", "yoy", 10),
    SeriesSpec("cpi", "cpi", "yoy", 10),
    SeriesSpec("pmi", "pmi", "level", 0),
    SeriesSpec("m2", "m2", "yoy", 12),
    SeriesSpec("m1", "m1", "yoy", 12),
]
# The chosen model's indicators (activity and the PMI); NOWCAST_SERIES=a,b,… tries others.
CHOSEN = os.environ.get("NOWCAST_SERIES", "iav,retail,fai,pmi,exports,imports").split(",")
POINTS = ("month1", "month2", "month3", "last_release")


def _rows(
    ind: str, measure: str, periods: pd.Series, values: pd.Series, months: int | pd.Series
) -> pd.DataFrame:
    ends = pd.PeriodIndex(pd.to_datetime(periods), freq="M").to_timestamp(how="end").normalize()
    frame = pd.DataFrame(
        {
            "indicator": ind,
            "measure": measure,
            "period_end": ends.date,
            "months": months,
            "value": pd.to_numeric(values, errors="coerce"),
        }
    )
    return frame.dropna(subset=["value"])


def load() -> pd.DataFrame:
    """The NBS files as the store's observations (indicator, measure, period_end, months, value)."""
    core = pd.read_csv(os.path.join(NBS, "china_core_indicators_long.csv"))
    core = core[core.source_repo.str.startswith("MinjieNote")]
    pick = {
        "GDP_q_yoy": ("gdp_growth", "yoy_pct"),
        "IAV_ytd_yoy": ("iav_growth", "ytd_yoy_pct"),
        "FAI_ytd_yoy": ("fai_growth", "ytd_yoy_pct"),
    }
    parts = []
    for key, (ind, measure) in pick.items():
        g = core[core.indicator == key]
        months = 3 if key.startswith("GDP") else 1
        parts.append(_rows(ind, measure, g.period, g.value, months))
    panel = os.path.join(NBS, "akshare_panel")
    for name, ind in (
        ("retail_sales", "retail_growth"),
        ("exports", "exports_growth"),
        ("imports", "imports_growth"),
        ("ppi", "ppi"),
        ("cpi", "cpi"),
    ):
        f = pd.read_csv(os.path.join(panel, f"{name}.csv"))
        two = np.where(f.jan_feb_combined.astype(str) == "True", 2, 1)
        parts.append(_rows(ind, "yoy_pct", f.date, f.yoy, 1))
        parts.append(_rows(ind, "ytd_yoy_pct", f.date, f.ytd_yoy, pd.Series(two)))
    pmi = pd.read_csv(os.path.join(panel, "manufacturing_pmi.csv"))
    parts.append(_rows("pmi", "value", pmi.date, pmi.value, 1))
    money = pd.read_csv(os.path.join(panel, "money_supply.csv"))
    parts.append(_rows("m2", "yoy_pct", money.date, money.m2_yoy, 1))
    parts.append(_rows("m1", "yoy_pct", money.date, money.m1_yoy, 1))
    return pd.concat(parts, ignore_index=True)


def ar1(y: pd.Series, quarter: pd.Period) -> float:
    """AR(1) with intercept by least squares, iterated to the quarter."""
    v = y.dropna().to_numpy(dtype=float)
    x, z = v[:-1], v[1:]
    b, a = np.polyfit(x, z, 1)
    value, last = v[-1], y.dropna().index.max()
    for _ in range((quarter - last).n):
        value = a + b * value
    return float(value)


def one_quarter(args: tuple[pd.DataFrame, pd.Period]) -> list[dict[str, object]]:
    """The four nowcasts of one quarter and the benchmarks at the same dates."""
    obs, q = args
    published = q.to_timestamp(how="end").date() + timedelta(days=GDP_LAG)
    dates = [*month_ends(q), published - timedelta(days=1)]
    out = []
    with threadpool_limits(1):
        for point, as_of in zip(POINTS, dates, strict=True):
            out.append(_evaluate(obs, q, point, as_of))
    return out


def _evaluate(obs: pd.DataFrame, q: pd.Period, point: str, as_of: date) -> dict[str, object]:
    specs = [s for s in SPECS if s.name in CHOSEN]
    window = int(os.environ.get("NOWCAST_WINDOW", "3"))
    panel = build_panel(obs, specs, "gdp_growth", GDP_LAG, as_of, START, window)
    t0 = time.perf_counter()
    changes = os.environ.get("NOWCAST_CHANGES", "1") == "1"
    factors = int(os.environ.get("NOWCAST_FACTORS", "1"))
    order = int(os.environ.get("NOWCAST_ORDER", "2"))
    model = FactorNowcaster(factors=factors, factor_order=order, changes=changes)
    casts, _ = nowcast(panel, [q], model)
    gdp = quarterly_target(obs, "gdp_growth", GDP_LAG, as_of)
    return {
        "quarter": q,
        "point": point,
        "nowcast": casts[0].point,
        "sd": casts[0].sd,
        "fallback": casts[0].reason,
        "rw": float(gdp.dropna().iloc[-1]),
        "ar1": ar1(gdp, q),
        "seconds": time.perf_counter() - t0,
    }


def summarise(frame: pd.DataFrame, actual: pd.Series) -> str:
    frame = frame.assign(actual=frame.quarter.map(actual))
    frame = frame.sort_values(["point", "quarter"])
    # Widening by earlier quarters' standardised errors at the same point only.
    z2 = ((frame.actual - frame.nowcast) / frame.sd) ** 2
    past = z2.groupby(frame.point).transform(lambda s: s.expanding().mean().shift(1))
    frame["sd_cal"] = frame.sd * np.sqrt(past.fillna(1.0).clip(0.25, 25))
    lines = []
    for label, upto in (("2012-2024", 2024), ("2012-2019", 2019)):
        sub = frame[frame.quarter.map(lambda p: p.year) <= upto]
        lines.append(f"\n{label}: {sub.quarter.nunique()} quarters")
        lines.append(
            f"{'point':<13}{'RMSE':>7}{'MAE':>7}{'RW':>7}{'AR1':>7}{'ratio RW':>9}"
            f"{'cov80':>7}{'cov95':>7}{'cal80':>7}{'cal95':>7}"
        )
        for point in POINTS:
            s = sub[sub.point == point]
            e = s.nowcast - s.actual
            rw, ar = s.rw - s.actual, s.ar1 - s.actual
            rmse = float(np.sqrt(np.mean(e**2)))
            rmse_rw = float(np.sqrt(np.mean(rw**2)))
            cov = [
                float(np.mean(np.abs(e) <= k * s[c]))
                for c in ("sd", "sd_cal")
                for k in (1.2816, 1.96)
            ]
            lines.append(
                f"{point:<13}{rmse:7.3f}{np.mean(np.abs(e)):7.3f}{rmse_rw:7.3f}"
                f"{np.sqrt(np.mean(ar**2)):7.3f}{rmse / rmse_rw:9.3f}"
                + "".join(f"{100 * c:7.1f}" for c in cov)
            )
    return "\n".join(lines)


def main() -> None:
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    obs = load()
    quarters = list(pd.period_range("2012Q1", "2024Q2", freq="Q"))
    t0 = time.perf_counter()
    with process_pool(workers) as pool:
        rows = [r for batch in pool.map(one_quarter, [(obs, q) for q in quarters]) for r in batch]
    wall = time.perf_counter() - t0
    frame = pd.DataFrame(rows)
    actual = quarterly_target(obs, "gdp_growth", 0, date(2030, 1, 1))
    print(summarise(frame, actual))
    fallbacks = frame[frame.fallback != ""]
    print(f"\nfallbacks: {len(fallbacks)} of {len(frame)} {sorted(set(fallbacks.fallback))[:3]}")
    print(f"fits: median {frame.seconds.median():.2f} s; wall {wall:.0f} s on {workers} workers")
    if os.environ.get("NOWCAST_DUMP"):
        frame.assign(actual=frame.quarter.map(actual)).to_csv(
            os.environ["NOWCAST_DUMP"], index=False
        )


if __name__ == "__main__":
    main()
