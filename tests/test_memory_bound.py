"""Resource bounds: under [store] memory_limit a large file is streamed, not held whole.

Each load runs in a child process so its peak RSS (ru_maxrss) is its own. The file
(8M rows, 500 MB of text) is several times the limit; held whole, its staged rows
alone would take more than the file's size.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb

from ingest.store import open_store
from tests.service_helpers import KPIWATCH

ROWS = 8_000_000
LIMIT_MB = 128
# Python's own allocations during a load (reports, maps) and DuckDB's untracked ones.
ALLOWANCE_MB = 160

CHILD = """
import resource, sys
from kpiwatch.app import ingest
from kpiwatch.config import load_config
config = load_config(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
(outcome,) = ingest(config)
assert outcome.error is None, outcome.error
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(outcome.report.new, (after - before) // 1024)
"""


def _write_data(path: Path, rows: int = ROWS) -> None:
    months = 912
    duckdb.connect().execute(
        f"""
        COPY (
          SELECT printf('%d-%02d', 1950 + (k % {months}) // 12, k % 12 + 1) AS period,
                 'region number ' || (k // {months}) % 200 || ' of the set' AS region,
                 'indicator_number_' || k // ({months} * 200) AS indicator,
                 round(100 + 50 * sin(k), 2) AS value
          FROM range({rows}) t(k)
        ) TO '{path}' (HEADER)
        """
    )


def _config(folder: Path, data: Path, limit: str | None) -> Path:
    store = f'memory_limit = "{limit}"\n' if limit else ""
    body = textwrap.dedent(f"""
        [store]
        path = "store.duckdb"
        {store}
        [[sources]]
        name = "big"
        path = "{data}"
        layout = "long"
        measure = "value"
        columns = {{ period = "period", region = "region", series = "indicator", value = "value" }}
    """)
    indicators = -(-ROWS // (912 * 200))
    body += "".join(
        f'[[indicators]]\nid = "indicator_number_{i}"\nname = "i{i}"\nkind = "flow"\n'
        for i in range(indicators)
    )
    body += "".join(
        f'[[regions]]\nid = "r{r}"\nname = "region number {r} of the set"\n' for r in range(200)
    )
    folder.mkdir()
    path = folder / "config.toml"
    path.write_text(body, encoding="utf-8")
    return path


def _load(config: Path) -> tuple[int, int]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(config)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr
    new, growth_mb = done.stdout.split()
    return int(new), int(growth_mb)


def test_a_large_file_loads_within_the_memory_limit(tmp_path: Path) -> None:
    data = tmp_path / "big.csv"
    _write_data(data)
    file_mb = data.stat().st_size // 1_000_000
    new, growth = _load(_config(tmp_path / "bound", data, f"{LIMIT_MB}MB"))
    assert new == ROWS
    assert growth < LIMIT_MB + ALLOWANCE_MB < file_mb, (growth, file_mb)
    con = open_store(tmp_path / "bound" / "store.duckdb", read_only=True)
    try:
        stored = con.execute("SELECT count(*) FROM observation_vintages").fetchall()
    finally:
        con.close()
    assert stored[0][0] == ROWS


def test_running_out_of_memory_is_a_store_error_not_a_bad_file(tmp_path: Path) -> None:
    data = tmp_path / "big.csv"
    _write_data(data, ROWS // 4)
    config = _config(tmp_path / "tiny", data, "16MB")
    done = subprocess.run(
        [KPIWATCH, "--config", str(config), "ingest"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode != 0
    message = done.stdout + done.stderr
    assert "ran out of memory" in message and "memory_limit" in message, message
    assert "Traceback" not in message
    con = open_store(tmp_path / "tiny" / "store.duckdb", read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM observation_vintages").fetchall()[0][0] == 0
    finally:
        con.close()
