"""A register CSV (either layout) read by DuckDB and checked in SQL, for large files.

The shared long reader (ingest.readers.stage_long) stages the file's cells as text with
their physical lines; the checks are those of ingest.register, as set operations: every
distinct date, number, region and node text is read once in Python, everything else is
SQL. It
leaves incoming_projects and incoming_nodes as ingest.register_store expects them.
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
from ingest.register import node_id, parse_date, read_number, region_names, unknown_node
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
    "reg_dates",
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
        stage_long(con, path, _as_source(register))
        names = [r[0] for r in con.execute("DESCRIBE raw_rows").fetchall()]
        _check_header(path, register, names)
        rows = _rows(con, register, names)
        _nodes(con, register, names)
        _maps(con, regions)
        _errors(con, register, today)
        total = int(con.execute("SELECT count(*) FROM reg_errors").fetchall()[0][0])
        if total:
            found = con.execute(
                f"SELECT line, field, value, reason FROM reg_errors ORDER BY line, seq "
                f"LIMIT {ERRORS_KEPT}"
            ).fetchall()
            raise IngestError(str(path), [RowError(*r) for r in found], total)
        _incoming(con)
        return rows
    finally:
        con.execute("DROP VIEW IF EXISTS temp.staged")
        for name in TEMP:
            con.execute(f"DROP TABLE IF EXISTS temp.{name}")


def _as_source(register: Register) -> Source:
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


def _check_header(path: Path, register: Register, names: list[str]) -> None:
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


def _nodes(con: duckdb.DuckDBPyConnection, register: Register, names: list[str]) -> None:
    """reg_nodes: the four texts of each node of each record, nodes with any text only."""
    if register.layout == "events":
        _event_nodes(con, register, names)
        return
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
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE reg_nodes AS
        SELECT line, project, node, planned, reported, confirmed, confirmer FROM (
            SELECT line, trim(coalesce({quote_ident(name_key(c.id))}, '')) AS project,
                   unnest([{", ".join(structs)}], recursive := true)
            FROM reg_cells)
        WHERE planned <> '' OR reported <> '' OR confirmed <> '' OR confirmer <> ''
        """
    )


def _event_nodes(con: duckdb.DuckDBPyConnection, register: Register, names: list[str]) -> None:
    """reg_events: every record's node text and the node it names (NULL: none);
    reg_nodes: the records naming a node, with any date text."""
    c = register.columns
    texts = [
        str(r[0])
        for r in con.execute(f"SELECT DISTINCT {_col(names, c.node)} FROM reg_cells").fetchall()
    ]
    _register(con, "node_map", [(t, node_id(register, t), None) for t in texts], "VARCHAR")
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


def _maps(con: duckdb.DuckDBPyConnection, regions: list[Region]) -> None:
    """Each distinct date, number and region text read once, as ingest.register reads it;
    reg_dates: reg_nodes with the dates (NULL when empty or bad) and their errors."""
    dates = _distinct(con, "SELECT unnest([planned, reported, confirmed]) FROM reg_nodes")
    numbers = _distinct(con, "SELECT unnest([investment, funds, progress]) FROM reg")
    places = _distinct(con, "SELECT region_text FROM reg")
    known = region_names(regions)
    _register(con, "date_map", [(t, *_read(parse_date, t)) for t in dates], "DATE")
    _register(con, "number_map", [(t, *_read(read_number, t)) for t in numbers], "DOUBLE")
    regions_found = [(t, known.get(clean_text(t)), None) for t in places]
    _register(con, "region_map", regions_found, "VARCHAR")
    picks = ", ".join(
        f"{k[0]}.value AS {k}_day, {k[0]}.error AS {k}_error"
        for k in ("planned", "reported", "confirmed")
    )
    joins = " ".join(
        f"LEFT JOIN date_map {k[0]} ON {k[0]}.text = n.{k}"
        for k in ("planned", "reported", "confirmed")
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE reg_dates AS SELECT n.*, {picks} FROM reg_nodes n {joins}"
    )


def _distinct(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    rows = con.execute(f"SELECT DISTINCT t FROM ({sql}) x(t) WHERE t <> ''").fetchall()
    return [str(r[0]) for r in rows]


def _read(parse: Callable[[str], T], text: str) -> tuple[T | None, str | None]:
    try:
        return parse(text), None
    except ValueError as exc:
        return None, str(exc)


def _register(
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


def _errors(con: duckdb.DuckDBPyConnection, register: Register, today: date) -> None:
    """reg_errors(line, seq, field, value, reason): every problem of the file."""
    c = register.columns
    parts = [
        f"SELECT line, 0, {quote_text(c.id)}, '', 'a project needs an id' FROM reg "
        "WHERE project = ''",
        f"SELECT r.line, 1, {quote_text(c.region)}, r.region_text, "
        "'unknown region (not in [[regions]])' FROM reg r "
        "LEFT JOIN region_map m ON m.text = r.region_text WHERE m.value IS NULL",
    ]
    parts += (
        _event_errors(register)
        if register.layout == "events"
        else [_TWICE.format(quote_text(c.id))]
    )
    for i, (column, header, most) in enumerate(
        (
            ("investment", c.investment, None),
            ("funds", c.funds, None),
            ("progress", c.progress, 100.0),
        )
    ):
        bound = "0 to 100" if most else "0 or more"
        parts.append(
            f"SELECT r.line, {3 + i}, {quote_text(header)}, r.{column}, "
            f"coalesce(m.error, 'out of range ({bound})') FROM reg r "
            f"JOIN number_map m ON m.text = r.{column} "
            f"WHERE m.error IS NOT NULL OR m.value < 0" + (f" OR m.value > {most}" if most else "")
        )
    parts += _date_errors(today)
    parts += _order_errors(register)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE reg_errors AS SELECT * FROM ("
        + " UNION ALL ".join(parts)
        + ") e(line, seq, field, value, reason)"
    )


_TWICE = (
    "SELECT line, 2, {0}, project, printf('project listed twice (first on line %d)', first) "
    "FROM (SELECT *, min(line) OVER (PARTITION BY project) AS first FROM reg "
    "WHERE project <> '') WHERE line > first"
)


def _event_errors(register: Register) -> list[str]:
    """Rows of one project whose details differ from its first; unknown or repeated nodes."""
    c = register.columns
    details = "(name, region, unit, supporting, investment, category, funds, progress)"
    texts = "(name, region_text, unit, supporting, investment, category, funds, progress)"
    # only projects whose rows differ in text can differ once read ("60" and "60.0" agree)
    varied = (
        f"(SELECT * FROM reg WHERE project IN (SELECT project FROM reg GROUP BY project "
        f"HAVING min({texts}) <> max({texts})))"
    )
    return [
        f"SELECT line, 2, {quote_text(c.id)}, project, "
        "printf('project details differ from line %d', first) FROM ("
        f"SELECT line, project, first_value(line) OVER w AS first, {details} IS DISTINCT FROM "
        f"first_value({details}) OVER w AS differs FROM ({_PARSED.format(source=varied)}) "
        "WINDOW w AS (PARTITION BY project ORDER BY line)) WHERE differs",
        f"SELECT e.line, 6, {quote_text(c.node)}, e.node_text, "
        f"{quote_text(unknown_node(register))} FROM reg_events e "
        "JOIN node_map m ON m.text = e.node_text WHERE m.value IS NULL",
        f"SELECT line, 7, {quote_text(c.node)}, node, "
        "printf('node listed twice (first on line %d)', first) FROM (SELECT *, "
        "min(line) OVER (PARTITION BY project, node) AS first FROM reg_nodes) WHERE line > first",
    ]


def _date_errors(today: date) -> list[str]:
    day = f"DATE '{today.isoformat()}'"
    parts = [
        f"SELECT line, 10, f.{k}, d.{k}, d.{k}_error FROM reg_dates d JOIN node_fields f "
        f"USING (node) WHERE d.{k}_error IS NOT NULL"
        for k in ("planned", "reported", "confirmed")
    ]
    parts += [
        f"SELECT line, 11, f.{k}, CAST(d.{k}_day AS VARCHAR), "
        f"'in the future (after {today.isoformat()})' FROM reg_dates d "
        f"JOIN node_fields f USING (node) WHERE d.{k}_day > {day}"
        for k in ("reported", "confirmed")
    ]
    parts.append(
        "SELECT line, 12, f.confirmed, CAST(d.confirmed_day AS VARCHAR), "
        "'confirmed, but never reported' FROM reg_dates d JOIN node_fields f USING (node) "
        "WHERE d.confirmed_day IS NOT NULL AND d.reported_day IS NULL"
    )
    return parts


def _order_errors(register: Register) -> list[str]:
    """A later node of a strict pair dated before the earlier one (planned or reported)."""
    parts = []
    for first, then in register.ordered_pairs():
        for kind in ("planned", "reported"):
            parts.append(
                f"SELECT b.line, 13, f.{kind}, CAST(b.{kind}_day AS VARCHAR), "
                f"printf('{then} {kind} before {first} {kind} (%s)', a.{kind}_day) "
                f"FROM reg_dates a JOIN reg_dates b USING (project) "
                f"JOIN node_fields f ON f.node = b.node "
                f"WHERE a.node = {quote_text(first)} AND b.node = {quote_text(then)} "
                f"AND b.{kind}_day < a.{kind}_day"
            )
    return parts


# The project columns of each record, read: its region's id and its numbers.
_PARSED = """
SELECT r.line, r.project, r.name, m.value AS region, r.unit, r.supporting,
       i.value AS investment, r.category, f.value AS funds, p.value AS progress
FROM {source} r JOIN region_map m ON m.text = r.region_text
LEFT JOIN number_map i ON i.text = r.investment LEFT JOIN number_map f ON f.text = r.funds
LEFT JOIN number_map p ON p.text = r.progress
"""


# Each project's first record (the only one, in the projects layout).
_FIRST_ROWS = "(SELECT DISTINCT ON (project) * FROM reg ORDER BY project, line)"


def _incoming(con: duckdb.DuckDBPyConnection) -> None:
    """incoming_projects and incoming_nodes, as ingest.register_store stages them."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE incoming_projects AS
        SELECT project, name, region, unit, supporting, investment, category, funds, progress,
               CAST(line AS BIGINT) AS line
        FROM ({_PARSED.format(source=_FIRST_ROWS)});
        CREATE OR REPLACE TEMP TABLE incoming_nodes AS
        SELECT project, node, planned_day AS planned, reported_day AS reported,
               confirmed_day AS confirmed, confirmer AS confirmed_by, CAST(line AS BIGINT) AS line
        FROM reg_dates;
        """
    )
