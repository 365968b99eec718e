"""A register CSV (either layout) read by DuckDB and staged for the checks, for large files.

The shared long reader (ingest.readers.stage_long) stages the file's cells as text with
their physical lines; every distinct date, number, region and node text is read once in
Python, everything else is SQL, and the checks of ingest.register run as set operations
(ingest.register_checks). It leaves incoming_projects and incoming_nodes as
ingest.register_store expects them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd

from ingest.errors import IngestError, RowError
from ingest.readers import quote_ident, quote_text, stage_long
from ingest.register import node_id, parse_date, read_number, region_names
from ingest.register_checks import PARSED, write_errors
from ingest.register_schema import Register
from ingest.schema import Columns, Region, Source
from ingest.text import clean_text, name_key

T = TypeVar("T")

ERRORS_KEPT = 1000
TEMP = (
    "raw_rows",
    "reg_cells",
    "line_numbers",
    "reg",
    "reg_nodes",
    "date_map",
    "number_map",
    "region_map",
    "reg_errors",
    "node_fields",
    "node_map",
    "reg_events",
)


def stage_register(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    register: Register,
    regions: list[Region],
    today: date,
) -> int:
    """Stage and check the file; refuse it naming every bad cell; return its rows."""
    try:
        stage_long(con, path, as_source(register))
        names = [r[0] for r in con.execute("DESCRIBE raw_rows").fetchall()]
        check_header(path, register, names)
        rows = _rows(con, register, names)
        nodes, dates = _nodes(con, register, names)
        _maps(con, regions, nodes, dates)
        write_errors(con, register, today)
        total = int(con.execute("SELECT count(*) FROM reg_errors").fetchall()[0][0])
        if total:
            found = con.execute(
                f"SELECT line, field, value, reason FROM reg_errors ORDER BY line, seq "
                f"LIMIT {ERRORS_KEPT}"
            ).fetchall()
            raise IngestError(str(path), [RowError(*r) for r in found], total)
        _incoming(con, register)
        return rows
    finally:
        con.execute("DROP VIEW IF EXISTS temp.staged")
        con.execute("DROP VIEW IF EXISTS temp.reg_node_cells")
        for name in TEMP:
            con.execute(f"DROP TABLE IF EXISTS temp.{name}")


def as_source(register: Register) -> Source:
    """The long reader's view of a register: its id column stands for period and value."""
    return Source(
        name=register.name,
        path=register.path,
        layout="long",
        encoding=register.encoding,
        delimiter=register.delimiter,
        header_row=register.header_row,
        columns=Columns(period=register.columns.id, value=register.columns.id),
        limits=register.limits,
    )


def _col(names: list[str], header: str) -> str:
    """The trimmed text of a column ('' when the file has no such column)."""
    key = name_key(header)
    return f"trim(coalesce({quote_ident(key)}, ''))" if key in names else "''"


def check_header(path: Path, register: Register, names: list[str]) -> None:
    c = register.columns
    need = [c.id, c.region] + [n.name + s for n in register.nodes for s in (c.planned_suffix,)]
    need += [n.name + c.reported_suffix for n in register.nodes]
    if register.layout == "events":
        need = [c.id, c.region, c.node]
    shown = ", ".join(names)
    errors = [
        RowError(register.header_row, n, shown, f"no column named {n!r} in the header")
        for n in need
        if name_key(n) not in names
    ]
    if errors:
        raise IngestError(str(path), errors)


def _rows(con: duckdb.DuckDBPyConnection, register: Register, names: list[str]) -> int:
    """reg: one row per non-empty record with its line and the project columns' texts."""
    c = register.columns
    fields = {
        "project": c.id,
        "name": c.name,
        "region_text": c.region,
        "unit": c.unit,
        "supporting": c.supporting,
        "investment": c.investment,
        "category": c.category,
        "funds": c.funds,
        "progress": c.progress,
    }
    picked = ", ".join(f"{_col(names, h)} AS {k}" for k, h in fields.items())
    # Any cell with text makes a record (tested cell by cell: most rows stop at the first).
    any_text = " OR ".join(f"trim(coalesce({quote_ident(n)}, '')) <> ''" for n in names)
    # The records with their lines, joined once; rows with no text at all are not records.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE reg_cells AS
        SELECT s.line, r.* FROM raw_rows r JOIN staged s ON s.cell = r.rowid
        WHERE {any_text};
        DROP TABLE raw_rows;
        CREATE OR REPLACE TEMP TABLE reg AS SELECT line, {picked} FROM reg_cells;
        """
    )
    return int(con.execute("SELECT count(*) FROM reg").fetchall()[0][0])


def _nodes(con: duckdb.DuckDBPyConnection, register: Register, names: list[str]) -> tuple[str, str]:
    """The four texts of each node of each record, nodes with any text only (reg_nodes, or
    the view reg_node_cells); return its name and a query of every date text."""
    if register.layout == "events":
        _event_nodes(con, register, names)
        return "reg_nodes", "SELECT unnest([planned, reported, confirmed]) FROM reg_nodes"
    c = register.columns
    suffixes = (c.planned_suffix, c.reported_suffix, c.confirmed_suffix, c.confirmed_by_suffix)
    keys = ("planned", "reported", "confirmed", "confirmer")
    structs = []
    for n in register.nodes:
        texts = ", ".join(
            f"'{k}': {_col(names, n.name + x)}" for k, x in zip(keys, suffixes, strict=True)
        )
        structs.append(f"{{'node': {quote_text(n.id)}, {texts}}}")
    # the header texts of each node's cells, joined only to name a bad one
    fields = [(n.id, *(n.name + x for x in suffixes[:3])) for n in register.nodes]
    _register_frame(con, "node_fields", fields, ["node", "planned", "reported", "confirmed"])
    # a view: read once, into incoming_nodes (a table of 10 rows a record costs a copy)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW reg_node_cells AS
        SELECT line, project, node, planned, reported, confirmed, confirmer FROM (
            SELECT line, trim(coalesce({quote_ident(name_key(c.id))}, '')) AS project,
                   unnest([{", ".join(structs)}], recursive := true)
            FROM reg_cells)
        WHERE planned <> '' OR reported <> '' OR confirmed <> '' OR confirmer <> ''
        """
    )
    columns = [name_key(n.name + x) for n in register.nodes for x in suffixes[:3]]
    cells = [quote_ident(k) for k in columns if k in names]
    # trimmed once per distinct cell text, not once per cell
    untrimmed = f"SELECT DISTINCT unnest([{', '.join(cells) or 'NULL'}]) AS t FROM reg_cells"
    return "reg_node_cells", f"SELECT trim(t) FROM ({untrimmed}) WHERE t IS NOT NULL"


def _event_nodes(con: duckdb.DuckDBPyConnection, register: Register, names: list[str]) -> None:
    """reg_events: every record's node text and the node it names (NULL: none);
    reg_nodes: the records naming a node, with any date text."""
    c = register.columns
    texts = [
        str(r[0])
        for r in con.execute(f"SELECT DISTINCT {_col(names, c.node)} FROM reg_cells").fetchall()
    ]
    register_map(con, "node_map", [(t, node_id(register, t), None) for t in texts], "VARCHAR")
    heads = (c.planned, c.reported, c.confirmed)
    fields = [(n.id, *heads) for n in register.nodes]
    _register_frame(con, "node_fields", fields, ["node", "planned", "reported", "confirmed"])
    dates = ", ".join(
        f"{_col(names, h)} AS {k}"
        for k, h in zip(("planned", "reported", "confirmed"), heads, strict=True)
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE reg_events AS
        SELECT r.line, trim(coalesce({quote_ident(name_key(c.id))}, '')) AS project,
               {_col(names, c.node)} AS node_text, {dates},
               {_col(names, c.confirmed_by)} AS confirmer
        FROM reg_cells r;
        CREATE OR REPLACE TEMP TABLE reg_nodes AS
        SELECT e.line, e.project, m.value AS node, e.planned, e.reported, e.confirmed, e.confirmer
        FROM reg_events e JOIN node_map m ON m.text = e.node_text
        WHERE m.value IS NOT NULL
          AND (planned <> '' OR reported <> '' OR confirmed <> '' OR confirmer <> '');
        """
    )


def _maps(
    con: duckdb.DuckDBPyConnection, regions: list[Region], nodes: str, date_texts: str
) -> None:
    """Each distinct date, number and region text read once, as ingest.register reads it;
    incoming_nodes: the nodes with the dates read (NULL when empty or bad), their texts
    (planned_text …) and errors (planned_error …)."""
    dates = _distinct(con, date_texts)
    numbers = _distinct(con, "SELECT unnest([investment, funds, progress]) FROM reg")
    places = _distinct(con, "SELECT region_text FROM reg")
    known = region_names(regions)
    register_map(con, "date_map", [(t, *_read(parse_date, t)) for t in dates], "DATE")
    register_map(con, "number_map", [(t, *_read(read_number, t)) for t in numbers], "DOUBLE")
    regions_found = [(t, known.get(clean_text(t)), None) for t in places]
    register_map(con, "region_map", regions_found, "VARCHAR")
    kinds = ("planned", "reported", "confirmed")
    picks = ", ".join(f"{k[0]}.value AS {k}" for k in kinds)
    picks += ", n.confirmer AS confirmed_by, CAST(n.line AS BIGINT) AS line, "
    picks += ", ".join(f"n.{k} AS {k}_text, {k[0]}.error AS {k}_error" for k in kinds)
    joins = " ".join(
        f"LEFT JOIN date_map {k[0]} ON {k[0]}.text = n.{k}"
        for k in ("planned", "reported", "confirmed")
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE incoming_nodes AS "
        f"SELECT n.project, n.node, {picks} FROM {nodes} n {joins}"
    )


def _distinct(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    rows = con.execute(f"SELECT DISTINCT t FROM ({sql}) x(t) WHERE t <> ''").fetchall()
    return [str(r[0]) for r in rows]


def _read(parse: Callable[[str], T], text: str) -> tuple[T | None, str | None]:
    try:
        return parse(text), None
    except ValueError as exc:
        return None, str(exc)


def register_map(
    con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple[Any, ...]], kind: str
) -> None:
    """A temp table (text, value, error) of parsed texts."""
    frame = pd.DataFrame(rows, columns=["text", "value", "error"], dtype=object)
    con.register("_frame", frame)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT CAST(text AS VARCHAR) AS text, "
            f"CAST(value AS {kind}) AS value, CAST(error AS VARCHAR) AS error FROM _frame"
        )
    finally:
        con.unregister("_frame")


def _register_frame(
    con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[tuple[str, ...]], columns: list[str]
) -> None:
    """A temp table of text rows."""
    con.register("_frame", pd.DataFrame(rows, columns=columns, dtype=object))
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM _frame")
    finally:
        con.unregister("_frame")


# Each project's first record (in the projects layout the only one: twice is refused).
_FIRST_ROWS = "(SELECT DISTINCT ON (project) * FROM reg ORDER BY project, line)"


def _incoming(con: duckdb.DuckDBPyConnection, register: Register) -> None:
    """incoming_projects, as ingest.register_store stages it (incoming_nodes is staged)."""
    source = _FIRST_ROWS if register.layout == "events" else "reg"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE incoming_projects AS
        SELECT project, name, region, unit, supporting, investment, category, funds, progress,
               CAST(line AS BIGINT) AS line
        FROM ({PARSED.format(source=source)})
        """
    )
