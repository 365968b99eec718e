"""A large load is written compressed into the store file, not logged whole to the WAL."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ingest.errors import StoreError
from ingest.register_store import load_register
from ingest.store import ROW_GROUP_ROWS, open_store
from tests.register_helpers import project_line, register_config, write_register

PROJECTS = ROW_GROUP_ROWS + 3_000


def test_a_large_register_load_goes_to_the_file_and_reads_back(tmp_path: Path) -> None:
    config = register_config(tmp_path)
    lines = [
        project_line(f"P{i:06d}", started=(f"2026-03-{i % 28 + 1:02d}", ""))
        for i in range(PROJECTS)
    ]
    path = write_register(tmp_path / "register_01.csv", lines)
    con = open_store(config.store_path)
    try:
        report = load_register(
            con, path, config.registers[0], config.indicator_map(), config.regions, config.registers
        )
        assert report.new_projects == PROJECTS
        # what is committed but not yet checkpointed: logged whole, the rows would take
        # over 100 bytes each (two copies of every project)
        wal = Path(f"{config.store_path}.wal")
        logged = wal.stat().st_size if wal.exists() else 0
        assert logged < 20 * PROJECTS, logged
    finally:
        con.close()
    # an analyst's plain DuckDB reads every row, its own row groups or not
    plain = duckdb.connect(str(config.store_path), read_only=True)
    try:
        rows = plain.execute(
            "SELECT count(*), count(DISTINCT project) FROM project_latest"
        ).fetchall()
    finally:
        plain.close()
    assert rows == [(PROJECTS, PROJECTS)]


def test_a_store_opened_read_only_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    open_store(path).close()
    con = open_store(path, read_only=True)
    try:
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("CREATE TABLE x (a INTEGER)")
    finally:
        con.close()


def test_a_file_that_is_no_store_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    path.write_bytes(b"not a database" * 1000)
    with pytest.raises(StoreError, match="cannot open the DuckDB file"):
        open_store(path)
