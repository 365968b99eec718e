"""File readers: each layout becomes the same staged table of raw text cells.

The staged view has one row per value cell: cell (a unique id), line, field, series,
measure, region, period, freq, jan_feb, value — all text as found in the file,
validated afterwards in one place. `line` is the physical line an editor shows.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingest.errors import IngestError
from ingest.schema import Source
from ingest.text import name_key
from ingest.textfiles import (
    decoding_error,
    detect_encoding,
    first_fault,
    first_invalid_byte,
    read_error,
    record_runs,
    records,
    refuse,
    scan_lines,
    utf8_copy,
)
from ingest.workbooks import WORKBOOK_SUFFIXES, column_letter, read_workbook

__all__ = ["STAGED_COLUMNS", "column_letter", "read_grid", "refuse", "stage_long"]

STAGED_COLUMNS = [
    "cell",
    "line",
    "field",
    "series",
    "measure",
    "region",
    "period",
    "freq",
    "jan_feb",
    "value",
]
ROLES = ("period", "value", "series", "measure", "region", "freq", "jan_feb")


def quote_ident(name: str) -> str:
    """Quote a header text as a DuckDB identifier (it was checked against the header)."""
    return '"' + name.replace('"', '""') + '"'


def quote_text(text: str) -> str:
    """A SQL string literal (views cannot take prepared parameters)."""
    return "'" + text.replace("'", "''") + "'"


class _NotUtf8(Exception):
    """An `auto` encoded file turned out not to be UTF-8."""


@dataclass(frozen=True)
class Records:
    """A CSV's records read into a temp table: the header's column names, how many
    records, and whether line_runs numbers them (else record n is on line header_row + n)."""

    names: list[str]
    rows: int
    numbered: bool


@dataclass(frozen=True)
class ReadPlan:
    """A query over the records and the columns it reads as dates, every cell written in
    the form `dateformat` (dates) or `timestampformat` (stamps: read as midnight of the
    day; DuckDB takes one form of each), or empty; the other columns are read as text."""

    sql: str
    dates: frozenset[str] = frozenset()
    dateformat: str = ""
    stamps: frozenset[str] = frozenset()
    timestampformat: str = ""


# The query a table is read by, given the header's column names and the first records
# after it (none: read every column as text): every record (FROM records), one row each,
# in file order; None declines to read the file.
RecordQuery = Callable[[list[str], list[list[str]]], "str | ReadPlan | None"]
SAMPLED = 200


class _NotAsSampled(Exception):
    """A column read as dates holds a cell in another form than its first records."""


def stage_long(con: duckdb.DuckDBPyConnection, path: Path, source: Source) -> int:
    """Read a long CSV (one observation per row) into the staged view; return its rows."""
    read = read_records(con, path, source, "raw_rows", lambda _n, _s: "SELECT * FROM records")
    assert read is not None  # the query above reads every header
    line = (
        "line_runs.line + (raw_rows.rowid - line_runs.first) AS line"
        if read.numbered
        else f"rowid + {source.header_row + 1} AS line"
    )
    _create_staged(con, path, source, read.names, line)
    _refuse_headless_values(con, path, read.names)
    return read.rows


def read_records(
    con: duckdb.DuckDBPyConnection, path: Path, source: Source, table: str, query: RecordQuery
) -> Records | None:
    """Read a CSV by `query` into the temp table `table` (None when the query declines)."""
    try:
        encoding = detect_encoding(path, "utf-8" if source.encoding == "auto" else source.encoding)
        if source.encoding != "auto" or encoding != "utf-8-sig":
            return _read_records(con, path, source, encoding, table, query)
        # DuckDB validates UTF-8 while it reads: trying it first spares a decoding pass.
        try:
            return _read_records(con, path, source, "utf-8-sig", table, query)
        except _NotUtf8:
            return _read_records(con, path, source, "gb18030", table, query)
    except OSError as exc:
        raise read_error(path, exc) from exc


def _read_records(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    source: Source,
    encoding: str,
    table: str,
    query: RecordQuery,
) -> Records | None:
    auto = source.encoding == "auto" and encoding == "utf-8-sig"
    with utf8_copy(path, encoding) as text:
        try:
            lines = scan_lines(path, text, source.limits.line_bytes)
            names = _csv_header(path, text, source)
            plan = _plan(query(names, _sample(path, text, source)))
            if plan is None:
                return None
            try:
                rows = _read_csv(con, path, text, source, names, table, plan)
            except _NotAsSampled:  # read every cell as text, as the query has it then
                plan = _plan(query(names, []))
                assert plan is not None  # it read this header before
                rows = _read_csv(con, path, text, source, names, table, plan)
        except (UnicodeDecodeError, _NotUtf8) as exc:
            if auto:
                raise _NotUtf8 from exc
            raise decoding_error(path, encoding, first_invalid_byte(path, encoding)) from exc
        # DuckDB skips empty lines and joins quoted line breaks: either leaves fewer
        # records than lines, and only then are the lines numbered one by one.
        numbered = rows != lines - source.header_row
        if numbered:
            _number_lines(con, path, text, source, rows)
    return Records(names, rows, numbered)


def _plan(query: str | ReadPlan | None) -> ReadPlan | None:
    return ReadPlan(query) if isinstance(query, str) else query


def _sample(path: Path, text: Path, source: Source) -> list[list[str]]:
    """The first records after the header ([] when they cannot be read: the read that
    follows names the fault)."""
    found: list[list[str]] = []
    try:
        for n, (_, fields) in enumerate(records(path, text, source.delimiter), 1):
            if n > source.header_row:
                found.append(fields)
            if len(found) == SAMPLED:
                break
    except IngestError:
        return []
    return found


def _read_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    text: Path,
    source: Source,
    names: list[str],
    table: str,
    plan: ReadPlan,
) -> int:
    """The temp table `table` created by the plan's query over the file's records; its
    rows. Dates are read by DuckDB as it reads the file, cheaper than from text."""
    columns = {
        name: "DATE" if name in plan.dates else "TIMESTAMP" if name in plan.stamps else "VARCHAR"
        for name in names
    }
    csv = (
        "SELECT * FROM read_csv(?, header = true, auto_detect = false, columns = ?, "
        "delim = ?, quote = '\"', escape = '\"', skip = ?, strict_mode = true, "
        "null_padding = false, max_line_size = ?, dateformat = ?, timestampformat = ?)"
    )
    try:
        created = con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS WITH records AS ({csv}) {plan.sql}",
            [
                str(text),
                columns,
                source.delimiter,
                source.header_row - 1,
                max(source.limits.line_bytes + 2, 1 << 21),
                plan.dateformat or "%Y-%m-%d",
                plan.timestampformat or "%Y-%m-%d %H:%M:%S",
            ],
        ).fetchall()
    except duckdb.OutOfMemoryException:
        raise  # not the file's fault: the loader reports the memory limit
    except duckdb.Error as exc:
        if "Invalid unicode" in str(exc):
            raise _NotUtf8 from exc
        if plan.dates or plan.stamps:
            raise _NotAsSampled from exc
        fault = first_fault(path, text, source.delimiter, source.header_row)
        if fault is not None:
            raise IngestError(str(path), [fault]) from exc
        raise refuse(path, 0, "csv", _csv_original(str(exc)), _first_line(exc)) from exc
    return int(created[0][0])


def _number_lines(
    con: duckdb.DuckDBPyConnection, path: Path, text: Path, source: Source, rows: int
) -> None:
    """line_runs(first, line): where each run of records on consecutive lines begins.

    Only files with empty lines inside or quoted line breaks need it: elsewhere the
    n-th record after the header is the n-th line after it.
    """
    runs = record_runs(path, text, source.delimiter, source.header_row, rows)
    if runs.count != rows:  # the two readers disagree: no line number would be right
        raise refuse(path, 0, "csv", "", "records cannot be matched to lines")
    con.register("_runs", runs.frame())
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE line_runs AS SELECT * FROM _runs")
    finally:
        con.unregister("_runs")


def _create_staged(
    con: duckdb.DuckDBPyConnection, path: Path, source: Source, names: list[str], line: str
) -> None:
    cols = source.columns
    for role in ROLES:
        name = getattr(cols, role)
        if name is not None and name_key(name) not in names:
            shown = ", ".join(n.lstrip("\x00") for n in names if not n.startswith(_BLANK))
            reason = f"no {role} column named {name!r}"
            if _unshadowed(name_key(name)) == _ROWID:
                reason = f"a column named {name!r} cannot be read: rename it in the file"
            raise refuse(path, source.header_row, name, shown, reason)

    def col(name: str | None, default: str) -> str:
        return f"coalesce({quote_ident(name_key(name))}, '')" if name else default

    field = quote_text(cols.value or "value")
    freq = col(cols.freq, quote_text(source.freq))
    joined = (
        "raw_rows"
        if line.startswith("rowid")
        else "raw_rows ASOF JOIN line_runs ON raw_rows.rowid >= line_runs.first"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW staged AS
        SELECT raw_rows.rowid AS cell, {line}, {field} AS field,
               {col(cols.series, "''")} AS series, {col(cols.measure, "''")} AS measure,
               {col(cols.region, "''")} AS region,
               {col(cols.period, "''")} AS period, {freq} AS freq,
               {col(cols.jan_feb, "'false'")} AS jan_feb, {col(cols.value, "''")} AS value
        FROM {joined}
        """
    )


_BLANK = "\x00blank "


def _csv_header(path: Path, text: Path, source: Source) -> list[str]:
    """The header's column names as a user reads them; duplicates or no header are refused.

    A column with an empty name gets a placeholder that no header text can equal.
    """
    header: list[str] = []
    for n, (_, fields) in enumerate(records(path, text, source.delimiter), 1):
        if n == source.header_row:
            header = fields
            break
    names = [_unshadowed(name_key(h)) or f"{_BLANK}{i + 1}" for i, h in enumerate(header)]
    if not any(header):
        raise refuse(path, source.header_row, "header", "", "the file has no header row")
    other = [d for d in "\t;|" if len(header) == 1 and d in header[0] and d != source.delimiter]
    if other:
        reason = f"one column with {other[0]!r} in it: set delimiter = {other[0]!r}"
        raise refuse(path, source.header_row, "header", header[0], reason)
    dups = duplicates(names)
    if dups:
        raise refuse(path, source.header_row, "header", ", ".join(dups), "duplicate column names")
    return names


def duplicates(names: Sequence[str]) -> list[str]:
    """The names that occur more than once, sorted (one pass: headers can be very wide)."""
    return sorted(name for name, n in Counter(names).items() if n > 1)


def _unshadowed(name: str) -> str:
    """A column named rowid would hide DuckDB's row number, by which records are matched
    to their lines: it is read under another name (no config column can be named so)."""
    return _ROWID if name.lower() == "rowid" else name


_ROWID = "\x00rowid"


def headless(names: list[str]) -> list[str]:
    """The names standing for columns with no header text (placeholders)."""
    return [n for n in names if n.startswith(_BLANK)]


def _refuse_headless_values(con: duckdb.DuckDBPyConnection, path: Path, names: list[str]) -> None:
    """A value under a column with no name has no meaning: refuse the file at its first."""
    blank = headless(names)
    if not blank:
        return
    cells = ", ".join(f"coalesce({quote_ident(n)}, '')" for n in blank)
    row = con.execute(
        f"SELECT s.line, [{cells}] FROM raw_rows JOIN staged s ON s.cell = raw_rows.rowid "
        f"WHERE concat({cells}) <> '' ORDER BY s.line LIMIT 1"
    ).fetchall()
    if row:
        line, values = row[0]
        i = next(i for i, v in enumerate(values) if v)
        column = int(blank[i][len(_BLANK) :])
        field = f"column {column}"
        raise refuse(path, int(line), field, values[i], "value under a column with no header")


def _csv_original(message: str) -> str:
    match = re.search(r"Original Line:\s*(.*)", message)
    return match[1] if match else ""


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def read_grid(path: Path, source: Source) -> list[tuple[int, list[str]]]:
    """Read a CSV or workbook sheet as (physical line, cell texts) rows, blank rows kept."""
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        return read_workbook(path, source)
    try:
        encoding = detect_encoding(path, source.encoding)
        with utf8_copy(path, encoding) as text:
            scan_lines(path, text, source.limits.line_bytes)
            try:
                return _bounded(path, records(path, text, source.delimiter), source)
            except UnicodeDecodeError as exc:
                raise decoding_error(path, encoding, first_invalid_byte(path, encoding)) from exc
    except OSError as exc:
        raise read_error(path, exc) from exc


def _bounded(
    path: Path, rows: Iterator[tuple[int, list[str]]], source: Source
) -> list[tuple[int, list[str]]]:
    """The rows of a grid CSV, refused as soon as they exceed [sources.limits]."""
    limits = source.limits
    grid: list[tuple[int, list[str]]] = []
    cells = 0
    for line, fields in rows:
        cells += len(fields)
        if len(grid) >= limits.rows or len(fields) > limits.columns or cells > limits.cells:
            what = f"rows {limits.rows}, columns {limits.columns}, cells {limits.cells}"
            reason = f"more than [sources.limits] allow ({what})"
            raise refuse(path, line, "size", f"line {line}", reason)
        grid.append((line, [c.strip() for c in fields]))
    return grid
