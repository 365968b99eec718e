"""One invariant helper for every ingest test: what a successful load must leave behind."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingest.loader import LoadReport, load_file
from ingest.store import open_store
from kpiwatch.config import Config


def load(config: Config, path: Path, source: str | None = None, **kw: object) -> LoadReport:
    """Load one file with the named (or only) source into the config's store."""
    by_name = {s.name: s for s in config.sources}
    src = by_name[source] if source else config.sources[0]
    con = open_store(config.store_path)
    try:
        report = load_file(con, path, src, config.indicator_map(), config.regions, **kw)  # type: ignore[arg-type]
        check_store_invariants(con)
    finally:
        con.close()
    return report


def check_store_invariants(con: duckdb.DuckDBPyConnection) -> None:
    """Every vintage has its load; one latest per key; no temp tables leak into main."""
    orphans = con.execute(
        "SELECT count(*) FROM observation_vintages WHERE load_id NOT IN (SELECT load_id FROM loads)"
    ).fetchone()
    assert orphans == (0,)
    dup_latest = con.execute(
        "SELECT count(*) FROM (SELECT indicator, region, period, measure FROM observations_latest "
        "GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone()
    assert dup_latest == (0,)
    counted = con.execute(
        "SELECT coalesce(sum(new_values + revised_values), 0) FROM loads"
    ).fetchone()
    stored = con.execute("SELECT count(*) FROM observation_vintages").fetchone()
    assert counted == stored


def value(config: Config, indicator: str, region: str, period: str, measure: str) -> float | None:
    """The latest stored value of one key (None when absent)."""
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        row = con.execute(
            "SELECT value FROM observations_latest WHERE indicator = ? AND region = ? "
            "AND period = ? AND measure = ?",
            [indicator, region, period, measure],
        ).fetchone()
    finally:
        con.close()
    return None if row is None else float(row[0])
