"""Bulletin throughput: the monthly bulletin of a large store against one full refresh of it.

Builds a store with INDICATORS (default 200) × REGIONS (default 30, under one parent)
monthly series over 10 months of 2026, one target per series, then times in the same run
  1. one full refresh, as `kpiwatch refresh` runs it: ingest, checks, forecasts, ladder;
  2. the bulletin for 2026-10: reading the store, drawing every chart (small multiples,
     in a process per core), the page; and a sample of charts drawn in this process,
     for the CPU time of one chart.
Wall and CPU seconds both: on a shared machine the wall clock also measures the others.
Usage: python -m bench.bulletin [INDICATORS [REGIONS]]   (from the repository root)
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
from exporters.bulletin_charts import draw_many
from kpiwatch import app
from kpiwatch.board import read_store
from kpiwatch.config import Config, load_config

MONTHS, SAMPLE = 10, 60


def build(base: Path, indicators: int, regions: int) -> Path:
    """Config and data: every region on its own pace, some behind (a varied bulletin)."""
    data = base / "obs.csv"
    duckdb.connect().execute(
        f"""
        COPY (SELECT printf('2026-%02d', m + 1) AS period, 'r' || r AS region,
                     'i' || i AS indicator, 'value' AS measure,
                     round((70 + (r * 7 + i * 3) % 50) * (0.8 + 0.4 * random())) AS value
              FROM range({indicators}) a(i), range({regions}) b(r), range({MONTHS}) c(m))
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
    """CPU seconds of this process and of its finished workers: on a shared machine the
    wall clock says as much about the neighbours as about the work."""
    own, done = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + done.ru_utime + done.ru_stime


def refresh(config: Config) -> tuple[float, float]:
    """One full refresh (ingest, checks, forecasts, ladder): wall and CPU seconds."""
    t, c = time.perf_counter(), cpu()
    (outcome,) = app.ingest(config)
    assert outcome.error is None, outcome.error
    app.refresh(config, date(2026, 11, 25))
    return time.perf_counter() - t, cpu() - c


def main() -> None:
    indicators = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    regions = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="kpiwatch-bench-") as tmp:
        config = load_config(build(Path(tmp), indicators, regions))
        refresh_s, refresh_cpu = refresh(config)
        t, c = time.perf_counter(), cpu()
        with read_store(config) as con:
            b = gather(con, Scope(2026, 10))
        read_s = time.perf_counter() - t
        _, specs = bulletin_page.progress_specs(b)
        t = time.process_time()
        draw_many(specs[:SAMPLE])  # as a worker draws them: one figure, redrawn
        one_chart_s = (time.process_time() - t) / min(SAMPLE, len(specs))
        t = time.perf_counter()
        html = bulletin_page.render_html(b, "bench", workers)
        page_s = time.perf_counter() - t
    bulletin_cpu = cpu() - c - one_chart_s * min(SAMPLE, len(specs))
    bulletin_s = read_s + page_s
    print(
        json.dumps(
            {
                "series": indicators * regions,
                "observations": indicators * regions * MONTHS,
                "table_rows": len(b.items),
                "charts": len(specs),
                "workers": workers,
                "full_refresh_s": round(refresh_s, 1),
                "bulletin_s": round(bulletin_s, 1),
                "of_which_reading_store_s": round(read_s, 2),
                "of_which_charts_and_page_s": round(page_s, 1),
                "wall_per_chart_ms": round(page_s / len(specs) * 1000, 2),
                "one_chart_cpu_ms": round(one_chart_s * 1000, 1),
                "page_mb": round(len(html.encode()) / 1e6, 1),
                "bulletin_to_refresh": round(bulletin_s / refresh_s, 2),
                "full_refresh_cpu_s": round(refresh_cpu, 1),
                "bulletin_cpu_s": round(bulletin_cpu, 1),
                "bulletin_to_refresh_cpu": round(bulletin_cpu / refresh_cpu, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
