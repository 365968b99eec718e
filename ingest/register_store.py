"""Load a project register: read and check it, then store what changed, all or nothing."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from ingest.errors import IngestError, RowError, StoreError
from ingest.loader import SeriesReport
from ingest.register import RegisterRows, read_register
from ingest.register_counts import known_now, write_counts, write_sums
from ingest.register_csv import stage_register
from ingest.register_fast import stage_wide
from ingest.register_schema import Register
from ingest.register_versions import (
    layout_id,
    layout_nodes,
    remap,
    store_in_order,
    store_late,
    widen,
)
from ingest.schema import Indicator, Region
from ingest.store import sync_catalog, transaction
from ingest.workbooks import WORKBOOK_SUFFIXES

_PROJECT_COLUMNS = [
    "project",
    "name",
    "region",
    "unit",
    "supporting",
    "investment",
    "category",
    "funds",
    "progress",
    "line",
]
_NODE_COLUMNS = ["project", "node", "planned", "reported", "confirmed", "confirmed_by", "line"]
_TEXT, _NUM, _DATE, _LINE = "VARCHAR", "DOUBLE", "DATE", "BIGINT"
_PROJECT_TYPES = dict(
    zip(_PROJECT_COLUMNS, [_TEXT] * 5 + [_NUM, _TEXT, _NUM, _NUM, _LINE], strict=True)
)
_NODE_TYPES = dict(zip(_NODE_COLUMNS, [_TEXT] * 2 + [_DATE] * 3 + [_TEXT, _LINE], strict=True))
_TEMP = (
    "incoming_projects",
    "incoming_nodes",
    "incoming_wide",
    "changed_wide",
    "count_values",
    "sum_values",
)


@dataclass(frozen=True)
class RegisterReport:
    """The outcome of loading one register file."""

    file: str
    register: str
    rows_read: int
    load_id: int | None
    projects: int = 0
    new_projects: int = 0
    changed_projects: int = 0
    node_changes: int = 0
    slipped_nodes: int = 0
    count_values: int = 0
    # projects stored before that this file no longer lists (kept, reported)
    missing: list[str] = field(default_factory=list)
    already_loaded: int | None = None
    # a register brings no series of its own (its counts are listed as count_values)
    series: list[SeriesReport] = field(default_factory=list)

    @property
    def new(self) -> int:
        return self.new_projects

    @property
    def revised(self) -> int:
        return self.changed_projects + self.node_changes

    @property
    def unchanged(self) -> int:
        return self.projects - self.new_projects - self.changed_projects

    def summary(self) -> str:
        """One line for the CLI and the log."""
        if self.already_loaded:
            return f"{self.file}: already loaded (load {self.already_loaded}), skipped"
        text = (
            f"{self.file}: register {self.register}, {self.projects} projects "
            f"({self.new_projects} new, {self.changed_projects} changed), "
            f"{self.node_changes} node dates changed ({self.slipped_nodes} planned later), "
            f"{self.count_values} count values written"
        )
        if self.missing:
            shown = ", ".join(self.missing[:10]) + (" …" if len(self.missing) > 10 else "")
            text += f"; {len(self.missing)} stored project(s) no longer listed: {shown}"
        return text


def load_register(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    register: Register,
    indicators: Mapping[str, Indicator],
    regions: Sequence[Region],
    registers: Sequence[Register],
    *,
    known_from: datetime | None = None,
) -> RegisterReport:
    """Load one register file whole, or refuse it naming every bad cell and write nothing."""
    if not path.is_file():
        raise IngestError(str(path), [RowError(0, "path", str(path), "no such file")])
    digest = _sha256(path)
    earlier = con.execute(
        "SELECT min(load_id) FROM loads WHERE source = ? AND sha256 = ?", [register.name, digest]
    ).fetchall()[0][0]
    if earlier is not None:
        return RegisterReport(str(path), register.name, 0, None, already_loaded=int(earlier))
    known = known_from or datetime.now().replace(microsecond=0)
    try:
        nodes, held = layout_nodes(con, register)
        rows = _read(con, path, register, regions, known, nodes)
        return _store(
            con, path, register, (nodes, held), rows, digest, known, indicators, regions, registers
        )
    except duckdb.Error as exc:
        raise StoreError(f"{path}: {exc}") from exc
    finally:
        for name in _TEMP:
            con.execute(f"DROP TABLE IF EXISTS temp.{name}")


def _read(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    register: Register,
    regions: Sequence[Region],
    known: datetime,
    nodes: list[str],
) -> int:
    """Stage the file's checked projects, one row each (incoming_wide); return its rows.

    CSVs are read and checked by DuckDB (large registers: the projects layout in one
    wide pass unless a cell needs reading one by one); workbooks row by row in Python,
    to the same rules.
    """
    today = known.date()
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        read = read_register(path, register, regions, today)
        _stage(con, read)
        rows = read.rows_read
    else:
        if register.layout == "projects":
            fast = stage_wide(con, path, register, list(regions), today, nodes)
            if fast is not None:
                return fast
        rows = stage_register(con, path, register, list(regions), today)
    widen(con, nodes, register.layout == "events")
    return rows


def _store(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    register: Register,
    layouts: tuple[list[str], set[int]],
    rows_read: int,
    digest: str,
    known: datetime,
    indicators: Mapping[str, Indicator],
    regions: Sequence[Region],
    registers: Sequence[Register],
) -> RegisterReport:
    nodes, held = layouts  # the load's node order; the layouts of the latest versions
    projects = int(con.execute("SELECT count(*) FROM incoming_wide").fetchall()[0][0])
    with transaction(con):
        sync_catalog(con, indicators.values(), regions)
        sync_registers(con, registers)
        layout = layout_id(con, register.name, nodes)
        remap(con, register.name, layout, nodes, held)
        load_id = int(
            con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM loads").fetchall()[0][0]
        )
        in_order = known_now(con, known)  # every version it replaces is known before it
        if in_order:
            stats = store_in_order(con, register.name, layout, len(nodes), load_id)
        else:
            stats = store_late(con, register.name, layout, len(nodes), load_id, known)
        unchanged = projects - stats[0] - stats[1]
        _record_load(con, register.name, path, digest, known, rows_read, stats, unchanged, load_id)
        missing = _record_absences(con, register.name, load_id, projects)
        counts = write_counts(con, load_id, known, in_order)
        counts += write_sums(con, register.name, load_id, known, in_order)
    return RegisterReport(
        str(path),
        register.name,
        rows_read,
        load_id,
        projects,
        stats[0],
        stats[1],
        stats[2],
        stats[3],
        counts,
        missing,
    )


def _stage(con: duckdb.DuckDBPyConnection, rows: RegisterRows) -> None:
    """The file's projects and nodes as temp tables incoming_projects, incoming_nodes."""
    projects = pd.DataFrame([r.__dict__ for r in rows.projects], columns=_PROJECT_COLUMNS)
    projects = projects.astype({c: "Float64" for c in ("investment", "funds", "progress")})
    nodes = pd.DataFrame([r.__dict__ for r in rows.nodes], columns=_NODE_COLUMNS)
    for column in ("planned", "reported", "confirmed"):
        nodes[column] = pd.to_datetime(nodes[column])
    for name, frame, types in (
        ("incoming_projects", projects, _PROJECT_TYPES),
        ("incoming_nodes", nodes, _NODE_TYPES),
    ):
        columns = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in types.items())
        con.register("_frame", frame)
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {columns} FROM _frame")
        finally:
            con.unregister("_frame")


def _record_load(
    con: duckdb.DuckDBPyConnection,
    name: str,
    path: Path,
    digest: str,
    known: datetime,
    rows_read: int,
    stats: tuple[int, int, int, int],
    unchanged: int,
    load_id: int,
) -> None:
    """Add the load to `loads` (new, changed and unchanged projects)."""
    con.execute(
        "INSERT INTO loads (load_id, source, file, sha256, known_from, loaded_at, rows_read, "
        "new_values, revised_values, unchanged_values) "
        "VALUES (?, ?, ?, ?, ?, now(), ?, ?, ?, ?)",
        [load_id, name, str(path), digest, known, rows_read, stats[0], stats[1], unchanged],
    )


def _record_absences(
    con: duckdb.DuckDBPyConnection, name: str, load_id: int, projects: int
) -> list[str]:
    """Stored projects this file does not list: recorded with the load and returned."""
    # every project the file lists is stored by now: more stored ones are the absent
    stored = con.execute("SELECT count(*) FROM project_latest WHERE register = ?", [name])
    if stored.fetchall()[0][0] == projects:
        return []
    con.execute(
        """
        INSERT INTO project_absences
        SELECT $reg, project, $load_id FROM project_latest
        WHERE register = $reg AND project NOT IN (SELECT project FROM incoming_wide)
        """,
        {"reg": name, "load_id": load_id},
    )
    rows = con.execute(
        "SELECT project FROM project_absences WHERE load_id = ? ORDER BY project", [load_id]
    ).fetchall()
    return [str(r[0]) for r in rows]


def sync_registers(con: duckdb.DuckDBPyConnection, registers: Sequence[Register]) -> None:
    """Mirror the configured registers' nodes, settings and counts into their tables
    (only those that differ: rewriting a table costs a load more than reading it)."""
    wanted: dict[str, list[tuple[object, ...]]] = {
        "register_nodes": [
            (r.name, n.id, i + 1, n.name, n.unit) for r in registers for i, n in enumerate(r.nodes)
        ],
        "register_settings": [(r.name, r.stuck_after_days, r.illustrative) for r in registers],
        "register_counts": [
            (c.indicator, r.name, c.node, c.min_investment, c.confirmed_only)
            for r in registers
            for c in r.counts
        ],
        "register_sums": [(m.indicator, r.name, m.field) for r in registers for m in r.sums],
    }
    for table, rows in wanted.items():
        if Counter(con.execute(f"SELECT * FROM {table}").fetchall()) == Counter(rows):
            continue
        con.execute(f"DELETE FROM {table}")
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
