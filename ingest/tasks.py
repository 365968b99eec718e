"""Load units, tasks, progress reports and problems into the store, versioned.

Sources: `[[units]]`, `[[tasks]]` and `[[problems]]` of config.toml (synced on every
ingest; a task removed from the config is withdrawn) and `[[task_files]]` (CSV or
workbooks). A file is loaded whole or refused whole; a load writes only the rows that
are new or changed, so every earlier version stays queryable (`tasks_as_of(d)`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from ingest.errors import IngestError
from ingest.loader import rejects_written
from ingest.store import transaction
from ingest.task_checks import check_records
from ingest.task_records import Record, read_records
from ingest.task_tables import supersede_sql
from ingest.unit_schema import ProblemItem, RecordKind, Task, TaskFile, Unit

# Stored columns of each kind, key first; every table also has load_id and line.
COLUMNS: dict[str, tuple[str, ...]] = {
    "tasks": (
        "task",
        "title",
        "unit",
        "person",
        "supporting",
        "cadence",
        "start_date",
        "deadline",
        "quantity",
        "quantity_unit",
        "parent",
        "withdrawn",
    ),
    "progress": ("task", "report_date", "quantity", "done", "note"),
    "problems": (
        "problem",
        "title",
        "unit",
        "task",
        "project",
        "raised",
        "due",
        "resolved",
        "withdrawn",
    ),
}
KEYS = {"tasks": ("task",), "progress": ("task", "report_date"), "problems": ("problem",)}
TABLES = {"tasks": "task_vintages", "progress": "report_vintages", "problems": "problem_vintages"}
# Loaded in this order: reports and problems name tasks that files may bring.
ORDER: dict[str, int] = {"tasks": 0, "problems": 1, "progress": 2}


@dataclass(frozen=True)
class RecordLoad:
    """The outcome of loading one record file."""

    file: str
    kind: str
    rows_read: int
    load_id: int | None
    new: int = 0
    revised: int = 0
    already_loaded: int | None = None


def sync_units(con: duckdb.DuckDBPyConnection, units: Iterable[Unit]) -> None:
    """Mirror the configured units into unit_catalog."""
    rows = sorted(
        (u.id, u.name, u.kind, u.parent, u.task_force, u.lead, list(u.people), list(u.supporting))
        for u in units
    )
    with transaction(con):
        con.execute("DELETE FROM unit_catalog")
        if rows:
            con.executemany("INSERT INTO unit_catalog VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def sync_declared(
    con: duckdb.DuckDBPyConnection,
    config_file: str,
    tasks: Sequence[Task],
    problems: Sequence[ProblemItem] | None,
    known_from: datetime | None = None,
) -> None:
    """Write the config's tasks and problems as versions when they changed (problems
    None: leave the stored ones as they are)."""
    kinds = [("tasks", [_task_row(t) for t in tasks])]
    if problems is not None:
        kinds.append(("problems", [_problem_row(p) for p in problems]))
    for kind, rows in kinds:
        frame = _frame(kind, [(*r, None) for r in rows])
        with transaction(con):
            gone = _withdrawn(con, kind, {r[0] for r in rows})
            if len(gone):
                frame = pd.concat([frame, gone], ignore_index=True) if len(frame) else gone
            _write(con, f"config_{kind}", kind, config_file, "config", known_from, frame)


def load_records(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    spec: TaskFile,
    units: set[str],
    known_from: datetime | None = None,
    rejects: Path | None = None,
) -> RecordLoad:
    """Load one record file whole, or refuse it naming every bad row and write nothing
    (with `rejects`, every problem of a refused file is written there too)."""
    try:
        return _load(con, path, spec, units, known_from)
    except IngestError as exc:
        extra = rejects_written(rejects, exc.errors)
        if not extra:
            raise
        raise IngestError(exc.file, extra + exc.errors, exc.total + len(extra)) from exc


def _load(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    spec: TaskFile,
    units: set[str],
    known_from: datetime | None,
) -> RecordLoad:
    records = read_records(path, spec)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    earlier = con.execute(
        "SELECT min(load_id) FROM task_loads WHERE kind = ? AND sha256 = ?", [spec.kind, digest]
    ).fetchall()[0][0]
    if earlier is not None:
        return RecordLoad(str(path), spec.kind, 0, None, already_loaded=int(earlier))
    rows = _rows(con, path, spec.kind, records, units)
    with transaction(con):
        load_id, new, revised = _write(
            con, spec.kind, spec.kind, str(path), digest, known_from, _frame(spec.kind, rows)
        )
    return RecordLoad(str(path), spec.kind, len(records), load_id, new, revised)


def _rows(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    kind: RecordKind,
    records: Sequence[Record],
    units: set[str],
) -> list[tuple[object, ...]]:
    """Stored rows for the records, once the checks that need other rows or the store pass."""
    check_records(con, path, kind, records, units)
    return [(*_stored(r, kind), r.line) for r in records]


def _stored(r: Record, kind: RecordKind) -> tuple[object, ...]:
    v = r.values
    if kind == "tasks":
        return (
            v["task"],
            v["title"],
            v["unit"],
            v.get("person", ""),
            list(v.get("supporting") or ()),
            v.get("cadence") or "week",
            v.get("start"),
            v["deadline"],
            v.get("quantity"),
            v.get("quantity_unit", ""),
            v.get("parent"),
            False,
        )
    if kind == "progress":
        return (v["task"], v["date"], v.get("quantity"), bool(v.get("done")), v.get("note", ""))
    return (
        v["problem"],
        v["title"],
        v["unit"],
        v.get("task"),
        v.get("project", ""),
        v["raised"],
        v["due"],
        v.get("resolved"),
        False,
    )


def _task_row(t: Task) -> tuple[object, ...]:
    return (
        t.id,
        t.title,
        t.unit,
        t.person,
        list(t.supporting),
        t.cadence,
        t.start,
        t.deadline,
        t.quantity,
        t.quantity_unit,
        t.parent,
        False,
    )


def _problem_row(p: ProblemItem) -> tuple[object, ...]:
    return (p.id, p.title, p.unit, p.task, p.project, p.raised, p.due, p.resolved, False)


def _frame(kind: str, rows: Sequence[tuple[object, ...]]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=[*COLUMNS[kind], "line"])


def _withdrawn(con: duckdb.DuckDBPyConnection, kind: str, present: set[object]) -> pd.DataFrame:
    """The last config version of each declared item no longer in the config, withdrawn."""
    key = KEYS[kind][0]
    cols = ", ".join(c for c in COLUMNS[kind] if c != "withdrawn")
    latest = con.execute(
        f"""
        SELECT {cols}, true AS withdrawn, NULL AS line FROM (
            SELECT v.*, row_number() OVER (PARTITION BY v.{key}
                                           ORDER BY l.known_from DESC, v.load_id DESC) AS n
            FROM {TABLES[kind]} v JOIN task_loads l USING (load_id)
            WHERE l.kind = 'config_{kind}'
        ) WHERE n = 1 AND NOT withdrawn
        """
    ).df()
    return latest[~latest[key].isin(present)].reset_index(drop=True)


def _write(
    con: duckdb.DuckDBPyConnection,
    load_kind: str,
    kind: str,
    file: str,
    digest: str,
    known_from: datetime | None,
    frame: pd.DataFrame,
) -> tuple[int | None, int, int]:
    """Insert the rows that differ from the latest version of their key; one load row."""
    if not len(frame):
        return None, 0, 0
    con.register("incoming_frame", frame)
    try:
        new, revised = _changed(con, kind, load_kind)
        if new + revised == 0 and load_kind.startswith("config_"):
            return None, 0, 0
        row = con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM task_loads").fetchall()
        load_id = int(row[0][0])
        counts = [len(frame), new, revised, len(frame) - new - revised]
        con.execute(
            "INSERT INTO task_loads VALUES (?, ?, ?, ?, coalesce(?, now()), now(), ?, ?, ?, ?)",
            [load_id, load_kind, file, digest, known_from, *counts],
        )
        cols = ", ".join(COLUMNS[kind])
        con.execute(
            f"INSERT INTO {TABLES[kind]} ({cols}, load_id, line) "
            f"SELECT {cols}, ?, line FROM changed_records",
            [load_id],
        )
        con.execute(supersede_sql(TABLES[kind], "changed_records"))
    finally:
        con.unregister("incoming_frame")
    return load_id, new, revised


def _changed(con: duckdb.DuckDBPyConnection, kind: str, load_kind: str) -> tuple[int, int]:
    """Stage the registered frame's rows that are new or differ from their key's latest
    version (config entries compare with the config's own versions); count both."""
    cols, keys, table = COLUMNS[kind], KEYS[kind], TABLES[kind]
    scope = f"WHERE l.kind = '{load_kind}'" if load_kind.startswith("config_") else ""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE incoming_records AS "
        f"SELECT {_typed_select(kind)} FROM incoming_frame"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE changed_records AS
        WITH p AS (
            SELECT * FROM (
                SELECT v.*, row_number() OVER (PARTITION BY {", ".join(f"v.{k}" for k in keys)}
                                               ORDER BY l.known_from DESC, v.load_id DESC) n
                FROM {table} v JOIN task_loads l USING (load_id) {scope}
            ) WHERE n = 1
        )
        SELECT i.*, p.{keys[0]} IS NOT NULL AS revised
        FROM incoming_records i LEFT JOIN p ON {" AND ".join(f"p.{k} = i.{k}" for k in keys)}
        WHERE p.{keys[0]} IS NULL
           OR row({", ".join(f"i.{c}" for c in cols)})
              IS DISTINCT FROM row({", ".join(f"p.{c}" for c in cols)})
        """
    )
    new, revised = con.execute(
        "SELECT count(*) FILTER (NOT revised), count(*) FILTER (revised) FROM changed_records"
    ).fetchall()[0]
    return int(new), int(revised)


TYPES = {
    "supporting": "VARCHAR[]",
    "start_date": "DATE",
    "deadline": "DATE",
    "report_date": "DATE",
    "raised": "DATE",
    "due": "DATE",
    "resolved": "DATE",
    "quantity": "DOUBLE",
    "done": "BOOLEAN",
    "withdrawn": "BOOLEAN",
    "line": "BIGINT",
}


def _typed_select(kind: str) -> str:
    """Cast the registered frame's columns: pandas cannot say VARCHAR[] or an all-NULL DATE."""
    return ", ".join(
        f"CAST({c} AS {TYPES.get(c, 'VARCHAR')}) AS {c}" for c in (*COLUMNS[kind], "line")
    )
