"""The kpiwatch command run on a test's config, and the /metrics its store gives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from exporters.snapshot import read_snapshot_data, render
from ingest.store import open_store

KPIWATCH = Path(sys.executable).parent / "kpiwatch"


def run_kpiwatch(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`kpiwatch --config tmp/config.toml ARGS`, its output captured."""
    command = [str(KPIWATCH), "--config", str(tmp / "config.toml"), *args]
    return subprocess.run(command, capture_output=True, text=True)


def store_metrics(tmp: Path) -> str:
    """The /metrics text of the store tmp/store.duckdb as its last refresh left it."""
    con = open_store(tmp / "store.duckdb", read_only=True)
    try:
        return render(read_snapshot_data(con), 0.0, 100_000).text.decode()
    finally:
        con.close()
