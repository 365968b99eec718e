"""Ingest throughput: `kpiwatch ingest` against DuckDB's bare read_csv on the same file.

Generates a long CSV (default 5,000,000 rows), then in the same run loads it
  1. with DuckDB's read_csv into a bare table (the baseline), and
  2. with kpiwatch's ingest (full validation, vintage handling, one transaction),
each in a fresh child process so peak memory is measured separately.
Usage: python -m bench.ingest [ROWS [MEMORY_LIMIT]]   (from the repository root; the
limit defaults to 2GB)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

MONTHS = [(y, m) for y in range(1950, 2026) for m in range(1, 13)]

BASELINE = """
import duckdb, resource, sys, time
t = time.perf_counter()
con = duckdb.connect(sys.argv[2])
con.execute("SET enable_progress_bar = false")
con.execute("CREATE TABLE raw AS SELECT * FROM read_csv(?, header = true)", [sys.argv[1]])
n = con.execute("SELECT count(*) FROM raw").fetchone()[0]
con.close()
print(n, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

KPIWATCH = """
import resource, sys, time
from kpiwatch.app import ingest
from kpiwatch.config import load_config
t = time.perf_counter()
(outcome,) = ingest(load_config(sys.argv[1]))
assert outcome.error is None, outcome.error
print(outcome.report.rows_read, time.perf_counter() - t,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def generate(path: Path, rows: int) -> tuple[int, int]:
    """Write a long CSV of exactly `rows` rows with unique keys (indicator, region, month)."""
    import duckdb

    regions, months = 200, len(MONTHS)
    indicators = -(-rows // (regions * months))
    duckdb.connect().execute(
        f"""
        COPY (
          SELECT printf('%d-%02d', 1950 + (k % {months}) // 12, k % 12 + 1) AS period,
                 'r' || (k // {months}) % {regions} AS region,
                 'i' || k // ({months} * {regions}) AS indicator,
                 round(100 + 50 * sin(k) + (k % 12), 2) AS value
          FROM range({rows}) t(k)
        ) TO '{path}' (HEADER)
        """
    )
    return indicators, regions


MEMORY = "2GB"  # DuckDB spills beyond this: a 2 GB file must not need 2 GB of memory


def config(path: Path, data: Path, indicators: int, regions: int, memory: str = MEMORY) -> Path:
    body = textwrap.dedent(f"""
        [store]
        path = "bench.duckdb"
        memory_limit = "{memory}"
        [[sources]]
        name = "bench"
        path = "{data}"
        layout = "long"
        measure = "value"
        columns = {{ period = "period", region = "region", series = "indicator", value = "value" }}
    """)
    body += "".join(
        f'[[indicators]]\nid = "i{i}"\nname = "i{i}"\nkind = "flow"\n' for i in range(indicators)
    )
    body += "".join(f'[[regions]]\nid = "r{r}"\nname = "r{r}"\n' for r in range(regions))
    path.write_text(body, encoding="utf-8")
    return path


def run(code: str, *args: str) -> tuple[int, float, int]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], check=False, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(done.stderr)
    out = done.stdout.split()
    return int(out[0]), float(out[1]), int(out[2])


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000_000
    memory = sys.argv[2] if len(sys.argv) > 2 else MEMORY
    with tempfile.TemporaryDirectory(prefix="kpiwatch-bench-") as tmp:
        base = Path(tmp)
        data = base / "long.csv"
        indicators, regions = generate(data, rows)
        cfg = config(base / "config.toml", data, indicators, regions, memory)
        n_raw, t_raw, rss_raw = run(BASELINE, str(data), str(base / "raw.duckdb"))
        n_kw, t_kw, rss_kw = run(KPIWATCH, str(cfg))
        size = data.stat().st_size
    assert n_raw == n_kw, (n_raw, n_kw)
    result = {
        "rows": n_raw,
        "memory_limit": memory,
        "file_mb": round(size / 1e6, 1),
        "duckdb_read_csv_rows_per_s": round(n_raw / t_raw),
        "kpiwatch_ingest_rows_per_s": round(n_kw / t_kw),
        "ratio_kpiwatch_to_duckdb": round(t_raw / t_kw, 3),
        "peak_rss_mb_duckdb": round(rss_raw / 1024),
        "peak_rss_mb_kpiwatch": round(rss_kw / 1024),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
