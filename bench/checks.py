"""Checks throughput: kpiwatch's progress checks against a plain YTD window query.

Builds a store with ROWS (default 1,000,000) monthly observations — indicators × 200
regions × 10 months of 2026, one target per series — then times, in the same process,
  1. the floor: a DuckDB window query computing only YTD sums on the same data, and
  2. kpiwatch's full checks (actuals, roll-up, pace, three horizons, status, store),
and, for the breakdown, the actuals alone (they read the same view as the floor).
Usage: python -m bench.checks [ROWS]   (from the repository root)
"""

from __future__ import annotations

import json
import sys
import tempfile
import textwrap
import time
from datetime import date
from pathlib import Path

import duckdb

from kpiwatch import app
from kpiwatch.config import load_config
from metrics.actuals import build_actuals

REGIONS, MONTHS = 200, 10
FLOOR = """
SELECT indicator, region, period_end,
       sum(value) OVER (PARTITION BY indicator, region, year(period_end) ORDER BY period_end)
FROM observations_latest
"""


def build(base: Path, rows: int) -> Path:
    indicators = max(1, rows // (REGIONS * MONTHS))
    data = base / "obs.csv"
    duckdb.connect().execute(
        f"""
        COPY (SELECT printf('2026-%02d', m + 1) AS period, 'r' || r AS region,
                     'i' || i AS indicator, 'value' AS measure,
                     round(80 + 40 * random()) AS value
              FROM range({indicators}) a(i), range({REGIONS}) b(r), range({MONTHS}) c(m))
        TO '{data}' (HEADER)
        """
    )
    cfg = textwrap.dedent(f"""
        [store]
        path = "bench.duckdb"
        [[sources]]
        name = "bench"
        path = "{data}"
        layout = "long"
        [sources.columns]
        period = "period"
        region = "region"
        series = "indicator"
        measure = "measure"
        value = "value"
    """)
    cfg += "".join(
        f'[[indicators]]\nid = "i{i}"\nname = "i{i}"\nkind = "flow"\n' for i in range(indicators)
    )
    cfg += "".join(f'[[regions]]\nid = "r{r}"\nname = "r{r}"\n' for r in range(REGIONS))
    cfg += "".join(
        f'[[targets]]\nindicator = "i{i}"\nregion = "r{r}"\nyear = 2026\nannual = 1200\n'
        f"quarters = {{ Q1 = 280 }}\n"
        for i in range(indicators)
        for r in range(REGIONS)
    )
    (base / "config.toml").write_text(cfg, encoding="utf-8")
    return base / "config.toml"


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory(prefix="kpiwatch-bench-") as tmp:
        config = load_config(build(Path(tmp), rows))
        (outcome,) = app.ingest(config)
        assert outcome.error is None, outcome.error
        con = duckdb.connect(str(config.store_path))
        t = time.perf_counter()
        con.execute(f"CREATE TEMP TABLE floor AS {FLOOR}")
        floor = time.perf_counter() - t
        row = con.execute("SELECT count(*) FROM floor").fetchone()
        n = int(row[0]) if row else 0
        t = time.perf_counter()
        build_actuals(con, config.regions)
        actuals = time.perf_counter() - t
        con.close()
        t = time.perf_counter()
        report = app.refresh_checks(config, date(2026, 11, 15))
        checks = time.perf_counter() - t
    print(
        json.dumps(
            {
                "observations": n,
                "targets": report.targets,
                "check_rows": report.rows,
                "floor_ytd_window_s": round(floor, 3),
                "kpiwatch_checks_s": round(checks, 3),
                "of_which_actuals_s": round(actuals, 3),
                "observations_per_s": round(n / checks),
                "ratio_to_floor": round(checks / floor, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
