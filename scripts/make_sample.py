"""Generate the illustrative West Coast New Area sample (fixed seed, reproducible).

The figures are invented for the demo: only the targets come from the published
action plans. Monthly counts per zone, 2024-01 to 2026-10, with January and
February published together (1-2月) as statistics offices do.
Run: python scripts/make_sample.py > sample/west_coast_projects.csv
"""

from __future__ import annotations

import csv
import random
import sys

SEED = 20240301
ZONES = {"sino_german_ecopark": 0.30, "dongjiakou": 0.45, "guzhenkou": 0.25}
# Share of the year's total by month; Jan and Feb are released together.
PROFILE = [0.04, 0.05, 0.12, 0.10, 0.10, 0.10, 0.08, 0.08, 0.09, 0.08, 0.08, 0.08]
# Annual totals for the whole area by year; 2026 runs behind on starts.
TOTALS = {
    "projects_signed": {2024: 214, 2025: 226, 2026: 236},
    "projects_started": {2024: 560, 2025: 590, 2026: 505},
    "projects_completed": {2024: 372, 2025: 395, 2026: 410},
    "urban_renewal_started": {2024: 590, 2025: 612, 2026: 640},
}
LAST = (2026, 10)


def months() -> list[tuple[int, int]]:
    return [(y, m) for y in (2024, 2025, 2026) for m in range(1, 13) if (y, m) <= LAST]


def monthly_counts(rng: random.Random, total: int) -> list[int]:
    """Integer monthly counts that follow the profile with noise."""
    weights = [p * rng.uniform(0.85, 1.15) for p in PROFILE]
    scale = total / sum(weights)
    return [max(0, round(w * scale)) for w in weights]


def rows(rng: random.Random) -> list[list[str]]:
    out = []
    for indicator, totals in TOTALS.items():
        for year, total in totals.items():
            counts = monthly_counts(rng, total)
            for zone, share in ZONES.items():
                zone_counts = [round(c * share * rng.uniform(0.9, 1.1)) for c in counts]
                jf = zone_counts[0] + zone_counts[1]
                if (year, 2) <= LAST:
                    out.append([f"{year}年1-2月", zone, indicator, "value", str(jf)])
                for m in range(3, 13):
                    if (year, m) <= LAST:
                        out.append(
                            [f"{year}年{m}月", zone, indicator, "value", str(zone_counts[m - 1])]
                        )
    # Fixed-asset investment of the Guzhenkou core zone (the plan: 195 亿元, growth ≥ 20 %),
    # reported as a YTD amount in 万元; 2026 grows about 16 %, short of the floor.
    for year, total in {2024: 1_420_000, 2025: 1_600_000, 2026: 1_860_000}.items():
        ytd = 0.0
        for m in range(1, 13):
            ytd += total * PROFILE[m - 1] * rng.uniform(0.9, 1.1)
            if m >= 2 and (year, m) <= LAST:
                label = f"{year}年1-2月" if m == 2 else f"{year}年{m}月"
                out.append([label, "guzhenkou", "fai_wc", "ytd", f"{ytd:.0f}"])
    return out


def main() -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["period", "region", "indicator", "measure", "value"])
    writer.writerows(rows(random.Random(SEED)))


if __name__ == "__main__":
    main()
