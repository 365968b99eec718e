"""P(the year's cumulative GDP growth ≥ x) on China's quarterly GDP, as of Q1, H1 and Q1–3.

Cases: every year 2005–2023 with a growth target in the Government Work Report (2020
had none), as of the first quarter, the first half and the first three quarters, for
x = the target and the target ± 0.5 and ± 1 percentage point. The forecaster sees only
the quarters up to the as-of point (NBS's cumulative rate 累计同比, and with
`--with-quarterly` the quarter's own rate 当季同比 too) and calibrates its spread on the
years before. The outcome is the published cumulative rate of the fourth quarter.
Brier scores beside the base rate (the share of cases met at that as-of point, known
only afterwards) and the rule "met if the year-to-date rate already reaches x".
Usage: python -m bench.growth_targets [--with-quarterly]   (from the repository root)
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pandas as pd

from forecasts.growth import Row, forecast_growth, rate_data

NBS = os.path.join(
    os.path.dirname(__file__),
    "..",
    "..",
    "shared",
    "data",
    "china_nbs",
    "china_core_indicators_long.csv",
)
# 政府工作报告 GDP growth targets (a range: its lower end; "above 6 %" in 2021: 6).
TARGETS = {
    2005: 8.0, 2006: 8.0, 2007: 8.0, 2008: 8.0, 2009: 8.0, 2010: 8.0, 2011: 8.0,
    2012: 7.5, 2013: 7.5, 2014: 7.5, 2015: 7.0, 2016: 6.5, 2017: 6.5, 2018: 6.5,
    2019: 6.0, 2021: 6.0, 2022: 5.5, 2023: 5.0,
}  # fmt: skip
OFFSETS = (-1.0, -0.5, 0.0, 0.5, 1.0)
AS_OF = {3: "Q1", 6: "H1", 9: "Q1-3"}
N_DRAWS = 2000


def load(with_quarterly: bool) -> dict[tuple[int, int], tuple[float | None, float | None]]:
    """(year, month) -> (cumulative rate, the quarter's own rate or None)."""
    frame = pd.read_csv(NBS)
    frame = frame[frame.indicator.isin(["GDP_ytd_yoy", "GDP_q_yoy"])]
    out: dict[tuple[int, int], tuple[float | None, float | None]] = {}
    for period, g in frame.groupby("period"):
        y, m = (int(p) for p in str(period).split("-"))
        by = dict(zip(g.indicator, g.value, strict=True))
        own = by.get("GDP_q_yoy") if with_quarterly else None
        out[(y, m)] = (by.get("GDP_ytd_yoy"), own)
    return out


def rows_to(
    data: dict[tuple[int, int], tuple[float | None, float | None]], y: int, m: int
) -> list[Row]:
    """The rows known at month m of year y, as the forecasts stage hands them over."""
    return [
        (yy, mm, cum, own, 3 if own is not None else None)
        for (yy, mm), (cum, own) in sorted(data.items())
        if (yy, mm) <= (y, m)
    ]


def cases(with_quarterly: bool) -> pd.DataFrame:
    data = load(with_quarterly)
    out = []
    for year, target in TARGETS.items():
        outcome = data[(year, 12)][0]
        for month, label in AS_OF.items():
            ytd = data[(year, month)][0]
            assert outcome is not None and ytd is not None
            f = forecast_growth(
                rate_data(rows_to(data, year, month), 3), year, month, 12, ytd, N_DRAWS
            )
            for off in OFFSETS:
                x = target + off
                out.append(
                    {
                        "year": year,
                        "as_of": label,
                        "x": x,
                        "offset": off,
                        "p": float(np.mean(f.year >= x)),
                        "rule": float(ytd >= x),
                        "met": float(outcome >= x),
                        "point": float(np.mean(f.year)),
                        "outcome": outcome,
                    }
                )
    return pd.DataFrame(out)


def brier(frame: pd.DataFrame) -> dict[str, object]:
    """Brier scores per as-of point: the forecast, the base rate and the YTD rule."""
    report: dict[str, object] = {}
    for label, g in frame.groupby("as_of", sort=False):
        base = g.met.mean()
        report[str(label)] = {
            "cases": len(g),
            "brier": round(float(np.mean((g.p - g.met) ** 2)), 4),
            "brier_base_rate": round(float(np.mean((base - g.met) ** 2)), 4),
            "brier_ytd_rule": round(float(np.mean((g.rule - g.met) ** 2)), 4),
            "point_mae_pp": round(float(np.mean(np.abs(g.point - g.outcome))), 3),
        }
    return report


def report(with_quarterly: bool = False) -> dict[str, object]:
    """The slice's figures (what bench.forecast_accuracy or a user prints)."""
    frame = cases(with_quarterly)
    return {
        "series": "GDP_ytd_yoy" + (" + GDP_q_yoy" if with_quarterly else " only"),
        "by_as_of": brier(frame),
        "target_itself": brier(frame[frame.offset == 0]),
        "as_of_2023_q1_3": frame[(frame.year == 2023) & (frame.as_of == "Q1-3")][
            ["x", "p", "met"]
        ].to_dict("records"),
    }


def main() -> None:
    print(json.dumps(report("--with-quarterly" in sys.argv[1:]), indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
