"""The register load path: kept latest versions equal every version resolved; records."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from ingest import register_sql
from ingest.errors import IngestError
from kpiwatch.config import Config
from tests.register_helpers import (
    HEADER,
    load,
    narrow,
    project_line,
    query,
    register_config,
    write_register,
)

# (kept table or view, what resolving every version gives)
PAIRS = [
    (
        "SELECT * EXCLUDE (known_from, load_id) FROM project_rows_current",
        "SELECT * FROM project_latest_at('infinity')",
    ),
    (
        "SELECT * EXCLUDE (known_from, load_id) FROM node_rows_current",
        "SELECT * FROM project_node_latest_at('infinity')",
    ),
    ("SELECT * FROM project_count_events", "SELECT * FROM project_count_events_at('infinity')"),
    ("SELECT * FROM project_counts", "SELECT * FROM project_counts_at('infinity')"),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """Three loads: a slip, a cleared node, a new project, and one dated before the last."""
    tmp = tmp_path_factory.mktemp("current")
    config = register_config(tmp)
    march = [
        project_line("P1", signed=("2026-01-05", "2026-01-05"), started=("2026-03-01", "")),
        project_line("P2", investment="50", signed=("2026-02-01", "2026-02-03")),
        project_line("P3", started=("2026-02-10", "2026-02-10")),
    ]
    load(config, write_register(tmp / "register_1.csv", march), "2026-03-01")
    april = [
        project_line("P1", signed=("2026-01-05", "2026-01-05"), started=("2026-04-01", "")),
        project_line("P2", investment="60", signed=("2026-02-01", "2026-02-03")),
        project_line("P3"),  # its start cleared
        project_line("P4", region="董家口经济区", started=("2026-03-11", "2026-03-12")),
    ]
    load(config, write_register(tmp / "register_2.csv", april), "2026-04-01")
    # known before the April load: history, not the latest
    late = [project_line("P1", started=("2026-03-01", "2026-03-02")), project_line("P2")]
    load(config, write_register(tmp / "register_3.csv", late), "2026-03-15")
    return config


def _same(config: Config, kept: str, resolved: str) -> None:
    rows = query(config, f"({kept}) EXCEPT ALL ({resolved})")
    rows += query(config, f"({resolved}) EXCEPT ALL ({kept})")
    assert rows == []


@pytest.mark.parametrize(("kept", "resolved"), PAIRS)
def test_kept_latest_equals_every_version_resolved(store: Config, kept: str, resolved: str) -> None:
    _same(store, kept, resolved)


def test_a_load_dated_before_the_latest_is_history_only(store: Config) -> None:
    current = "SELECT CAST(planned AS VARCHAR), reported FROM node_rows_current"
    assert query(store, f"{current} WHERE project = 'P1' AND node = 'started'") == [
        ("2026-04-01", None)
    ]
    assert query(store, "SELECT investment FROM project_rows_current WHERE project = 'P2'") == [
        (60.0,)
    ]
    then = (
        "SELECT CAST(reported AS VARCHAR) FROM project_node_latest_at(TIMESTAMP '2026-03-20') "
        "WHERE project = 'P1' AND node = 'started'"
    )
    assert query(store, then) == [("2026-03-02",)]


# Every version resolved, all nodes and columns: what project_counts_at(d) must equal.
_EVERY_VERSION = (
    "SELECT * FROM ("
    + register_sql._counts(
        register_sql.by_day(
            "("
            + register_sql._events("project_node_latest_at({d})", "project_latest_at({d})")
            + ")"
        )
    )
    + ")"
)


@pytest.mark.parametrize("d", ["2026-03-01", "2026-03-10", "2026-03-20", "2026-04-02"])
def test_counts_as_known_earlier_read_only_the_counted_nodes(store: Config, d: str) -> None:
    day = f"TIMESTAMP '{d}'"
    _same(store, f"SELECT * FROM project_counts_at({day})", _EVERY_VERSION.format(d=day))
    # the nodes no count reads (land, permit) are never resolved
    nodes = query(store, f"SELECT DISTINCT node FROM project_count_nodes_at({day}) ORDER BY 1")
    assert {n for (n,) in nodes} <= {"signed", "started", "completed"}


def test_an_older_store_gains_the_latest_versions(store: Config, tmp_path: Path) -> None:
    older = tmp_path / "older.duckdb"
    shutil.copy(store.store_path, older)
    con = duckdb.connect(str(older))
    try:  # the migration that adds the tables, run on a store without them
        narrow(con)
        con.execute("DROP TABLE project_rows_current; DROP TABLE node_rows_current")
        con.execute("DROP TABLE project_count_days")
        con.execute(register_sql.CURRENT_TABLES)
        con.execute(register_sql.COUNT_DAYS)
        for kept, resolved in PAIRS:
            assert con.execute(f"({kept}) EXCEPT ALL ({resolved})").fetchall() == []
            assert con.execute(f"({resolved}) EXCEPT ALL ({kept})").fetchall() == []
    finally:
        con.close()


def test_rows_of_empty_cells_are_not_projects(tmp_path: Path) -> None:
    config = register_config(tmp_path)
    empty = "," * HEADER.count(",")
    lines = [
        project_line("P1"),
        empty,
        " " + empty.replace(",", " ,", 3),
        project_line("P2", region="火星"),
    ]
    path = write_register(tmp_path / "register.csv", lines)
    with pytest.raises(IngestError) as refused:
        load(config, path, "2026-03-01")
    assert [(e.line, e.field, e.value) for e in refused.value.errors] == [(5, "区域", "火星")]
    write_register(path, lines[:3])
    assert load(config, path, "2026-03-01").projects == 1
