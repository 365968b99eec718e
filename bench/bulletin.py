"""Bulletin throughput: the monthly bulletin of a large store against one full refresh of it.

Builds a store with INDICATORS (default 200) × REGIONS (default 30, under one parent)
monthly series from January of FIRST_YEAR (default 2013) to October 2026 — 6,000 series ×
166 months = 996,000 observations — one 2026 target per series, then times ROUNDS times,
alternating, in the same run:
  1. one full refresh into an empty store, as `kpiwatch refresh` runs it: ingest, checks,
     forecasts, ladder;
  2. the bulletin for 2026-10: reading the store, drawing every chart (an indicator's
     regions as small multiples in one figure, figures in a process per core), the page.
Wall and CPU seconds both, CPU including the worker processes (RUSAGE_CHILDREN): on a
shared machine the wall clock also measures the others. The load average is printed.
Usage: python -m bench.bulletin [INDICATORS [REGIONS [FIRST_YEAR [ROUNDS]]]]
(from the repository root)
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import textwrap
import time
from datetime import date
from pathlib import Path

import duckdb

from exporters import bulletin_page
from exporters.bulletin import Scope, gather
from kpiwatch import app
from kpiwatch.board import read_store
from kpiwatch.config import Config, load_config
from kpiwatch.report import WORKERS

MONTHS = 10  # of 2026: the bulletin's month is October


def build(base: Path, indicators: int, regions: int, first_year: int) -> Path:
    """Config and data: every region on its own level and season, some behind (a varied
    bulletin), history from `first_year` so the forecasts have seasons to fit."""
    data = base / "obs.csv"
    months = (2026 - first_year) * 12 + MONTHS
    duckdb.connect().execute(
        f"""
        COPY (SELECT printf('%d-%02d', {first_year} + m // 12, m % 12 + 1) AS period,
                     'r' || r AS region, 'i' || i AS indicator, 'value' AS measure,
                     round((70 + (r * 7 + i * 3) % 50) * (1 + 0.2 * sin(m * pi() / 6 + i))
                           * (0.8 + 0.4 * random())) AS value
              FROM range({indicators}) a(i), range({regions}) b(r), range({months}) c(m))
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
        [[regions]]
        id = "all"
        name = "全市"
    """)
    cfg += "".join(
        f'[[indicators]]\nid = "i{i}"\nname = "指标{i}"\nkind = "flow"\nowner = "单位{i % 20}"\n'
        for i in range(indicators)
    )
    cfg += "".join(
        f'[[regions]]\nid = "r{r}"\nname = "区{r}"\nparent = "all"\n' for r in range(regions)
    )
    cfg += "".join(
        f'[[targets]]\nindicator = "i{i}"\nregion = "r{r}"\nyear = 2026\nannual = 1200\n'
        for i in range(indicators)
        for r in range(regions)
    )
    (base / "config.toml").write_text(cfg, encoding="utf-8")
    return base / "config.toml"


def cpu() -> float:
    """CPU seconds of this process and of its finished workers (a pool's workers are
    waited for when it shuts down, so their time is in RUSAGE_CHILDREN by then)."""
    own, done = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + done.ru_utime + done.ru_stime


def refresh(config: Config) -> tuple[float, float]:
    """One full refresh into an empty store (ingest, checks, forecasts, ladder)."""
    for stale in (config.store_path, config.store_path.with_name(config.store_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    t, c = time.perf_counter(), cpu()
    (outcome,) = app.ingest(config)
    assert outcome.error is None, outcome.error
    app.refresh(config, date(2026, 11, 25))
    return time.perf_counter() - t, cpu() - c


def bulletin(config: Config, workers: int) -> dict[str, float]:
    """The October bulletin as `kpiwatch report` builds it, step by step."""
    t, c = time.perf_counter(), cpu()
    with read_store(config) as con:
        b = gather(con, Scope(2026, 10))
    read_s = time.perf_counter() - t
    html = bulletin_page.render_html(b, "bench", workers)
    return {
        "s": time.perf_counter() - t,
        "cpu_s": cpu() - c,
        "read_s": read_s,
        "rows": len(b.items),
        "figures": len(bulletin_page.progress_specs(b)[1]),
        "page_mb": len(html.encode()) / 1e6,
    }


def main() -> None:
    args = [int(a) for a in sys.argv[1:]]
    indicators, regions, first_year, rounds = args + [200, 30, 2013, 2][len(args) :]
    workers = WORKERS
    with tempfile.TemporaryDirectory(prefix="kpiwatch-bench-") as tmp:
        config = load_config(build(Path(tmp), indicators, regions, first_year))
        observations = duckdb.connect().execute(f"SELECT count(*) FROM '{tmp}/obs.csv'").fetchone()
        for n in range(rounds):
            load = os.getloadavg()[0]
            refresh_s, refresh_cpu = refresh(config)
            b = bulletin(config, workers)
            row = {
                "round": n + 1,
                "load_avg_1m": round(load, 1),
                "load_avg_after": round(os.getloadavg()[0], 1),
                "series": indicators * regions,
                "observations": observations[0] if observations else None,
                "table_rows": b["rows"],
                "chart_figures": b["figures"],
                "workers": workers,
                "full_refresh_s": round(refresh_s, 1),
                "full_refresh_cpu_s": round(refresh_cpu, 1),
                "bulletin_s": round(b["s"], 1),
                "bulletin_cpu_s": round(b["cpu_s"], 1),
                "of_which_reading_store_s": round(b["read_s"], 2),
                "bulletin_cpu_per_row_ms": round(b["cpu_s"] / b["rows"] * 1000, 2),
                "page_mb": round(b["page_mb"], 1),
                "bulletin_to_refresh": round(b["s"] / refresh_s, 3),
                "bulletin_to_refresh_cpu": round(b["cpu_s"] / refresh_cpu, 3),
            }
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
