"""File readers: each layout becomes the same staged table of raw text cells.

The staged view has one row per value cell: cell (a unique id), line, field, series,
measure, region, period, freq, jan_feb, value — all text as found in the file,
validated afterwards in one place.
"""

from __future__ import annotations

import codecs
import csv
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import xlrd

from ingest.errors import IngestError, RowError
from ingest.schema import Source

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
WORKBOOK_SUFFIXES = {".xls", ".xlsx", ".xlsm"}
_CHUNK = 1 << 20


def refuse(file: Path, line: int, field: str, value: str, reason: str) -> IngestError:
    """An IngestError for one problem that refuses the whole file."""
    return IngestError(str(file), [RowError(line, field, value, reason)])


def detect_encoding(path: Path, declared: str) -> str:
    """The file's text encoding: the declared one, or UTF-8 if it decodes, else GB18030."""
    if declared != "auto":
        return "utf-8-sig" if declared == "utf-8" else declared
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as fh:
        try:
            while chunk := fh.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8-sig"


@contextmanager
def utf8_copy(path: Path, encoding: str) -> Iterator[Path]:
    """Yield a UTF-8 version of a text file, transcoding in chunks when needed."""
    if encoding == "utf-8-sig":
        yield path
        return
    decoder = codecs.getincrementaldecoder(encoding)()
    with tempfile.TemporaryDirectory(prefix="kpiwatch-") as tmp:
        out = Path(tmp) / "utf8.csv"
        with path.open("rb") as src, out.open("w", encoding="utf-8") as dst:
            offset = 0
            try:
                while chunk := src.read(_CHUNK):
                    dst.write(decoder.decode(chunk))
                    offset += len(chunk)
                dst.write(decoder.decode(b"", final=True))
            except UnicodeDecodeError as exc:
                raise refuse(
                    path, 0, "encoding", encoding, f"byte {offset + exc.start} is not {encoding}"
                ) from exc
        yield out


def quote_ident(name: str) -> str:
    """Quote a header text as a DuckDB identifier (it was checked against the header)."""
    return '"' + name.replace('"', '""') + '"'


def quote_text(text: str) -> str:
    """A SQL string literal (views cannot take prepared parameters)."""
    return "'" + text.replace("'", "''") + "'"


class _NotUtf8(Exception):
    """An `auto` encoded file turned out not to be UTF-8."""


def stage_long(con: duckdb.DuckDBPyConnection, path: Path, source: Source) -> int:
    """Read a long CSV (one observation per row) into the staged view; return its rows."""
    if source.encoding != "auto":
        return _stage_long(con, path, source, detect_encoding(path, source.encoding))
    # DuckDB validates UTF-8 while it reads: trying it first spares a decoding pass.
    try:
        return _stage_long(con, path, source, "utf-8-sig")
    except _NotUtf8:
        return _stage_long(con, path, source, "gb18030")


def _stage_long(con: duckdb.DuckDBPyConnection, path: Path, source: Source, encoding: str) -> int:
    with utf8_copy(path, encoding) as text:
        try:
            header = _csv_header(path, text, source)
        except UnicodeDecodeError as exc:
            raise _NotUtf8 from exc
        columns = {name: "VARCHAR" for name in header}
        try:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE raw_rows AS SELECT * FROM read_csv(?, "
                "header = true, auto_detect = false, columns = ?, delim = ?, quote = '\"', "
                "escape = '\"', skip = ?, strict_mode = true, null_padding = false)",
                [str(text), columns, source.delimiter, source.header_row - 1],
            )
        except duckdb.OutOfMemoryException:
            raise  # not the file's fault: the loader reports the memory limit
        except duckdb.Error as exc:
            if encoding == "utf-8-sig" and "Invalid unicode" in str(exc):
                raise _NotUtf8 from exc
            line = _csv_error_line(str(exc))
            raise refuse(path, line, "csv", _csv_original(str(exc)), _csv_reason(exc)) from exc
    cols = source.columns
    wanted = {
        "period": cols.period,
        "value": cols.value,
        "series": cols.series,
        "measure": cols.measure,
        "region": cols.region,
        "freq": cols.freq,
        "jan_feb": cols.jan_feb,
    }
    for role, name in wanted.items():
        if name is not None and name not in header:
            raise refuse(
                path, source.header_row, name, ", ".join(header), f"no {role} column named {name!r}"
            )

    def col(name: str | None, default: str) -> str:
        return f"coalesce({quote_ident(name)}, '')" if name else default

    field = quote_text(cols.value or "value")
    freq = col(cols.freq, quote_text(source.freq))
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW staged AS
        SELECT rowid AS cell, rowid + {source.header_row + 1} AS line, {field} AS field,
               {col(cols.series, "''")} AS series, {col(cols.measure, "''")} AS measure,
               {col(cols.region, "''")} AS region,
               {col(cols.period, "''")} AS period, {freq} AS freq,
               {col(cols.jan_feb, "'false'")} AS jan_feb, {col(cols.value, "''")} AS value
        FROM raw_rows
        """
    )
    row = con.execute("SELECT count(*) FROM raw_rows").fetchall()[0]
    return int(row[0]) if row else 0


def _csv_header(path: Path, text: Path, source: Source) -> list[str]:
    """The header row's column names; duplicates or an empty file are refused."""
    with text.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=source.delimiter)
        header: list[str] = []
        for _ in range(source.header_row):
            header = next(reader, [])
    if not any(header):
        raise refuse(path, source.header_row, "header", "", "the file has no header row")
    dups = sorted({h for h in header if header.count(h) > 1})
    if dups:
        raise refuse(path, source.header_row, "header", ", ".join(dups), "duplicate column names")
    return header


def _csv_original(message: str) -> str:
    match = re.search(r"Original Line:\s*(.*)", message)
    return match[1] if match else ""


def _csv_reason(exc: Exception) -> str:
    match = re.search(r"(Expected Number of Columns: \d+ Found: \d+)", str(exc))
    return match[1].lower() if match else _first_line(exc)


def _csv_error_line(message: str) -> int:
    match = re.search(r"[Ll]ine:?\s*(\d+)", message)
    return int(match[1]) if match else 0


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def read_grid(path: Path, source: Source) -> list[list[str]]:
    """Read a CSV or workbook sheet as rows of cell texts (row 0 is file line 1)."""
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        return _read_workbook(path, source)
    encoding = detect_encoding(path, source.encoding)
    try:
        frame = pd.read_csv(
            path,
            header=None,
            dtype=str,
            keep_default_na=False,
            encoding=encoding,
            skip_blank_lines=False,
            sep=source.delimiter,
        )
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError, csv.Error) as exc:
        raise refuse(path, _csv_error_line(str(exc)), "csv", encoding, _first_line(exc)) from exc
    return _pad([[str(c).strip() for c in row] for row in frame.itertuples(index=False)])


def _read_workbook(path: Path, source: Source) -> list[list[str]]:
    try:
        if path.suffix.lower() == ".xls":
            return _read_xls(path, source.sheet)
        return _read_xlsx(path, source.sheet)
    except IngestError:
        raise
    except Exception as exc:  # xlrd and openpyxl raise many unrelated types for bad files
        raise refuse(path, 0, "workbook", path.suffix, f"unreadable workbook: {exc}") from exc


def _no_sheet(path: Path, sheet: str, names: list[str]) -> IngestError:
    return refuse(path, 0, "sheet", sheet, f"no such sheet; the workbook has {names}")


def _read_xls(path: Path, sheet: str | None) -> list[list[str]]:
    book = xlrd.open_workbook(str(path), on_demand=True)
    names = book.sheet_names()
    if sheet is not None and sheet not in names:
        raise _no_sheet(path, sheet, names)
    ws = book.sheet_by_name(sheet) if sheet is not None else book.sheet_by_index(0)
    grid = []
    for r in range(ws.nrows):
        row = []
        for cell in ws.row(r):
            if cell.ctype == xlrd.XL_CELL_DATE:
                row.append(_cell_text(xlrd.xldate.xldate_as_datetime(cell.value, book.datemode)))
            elif cell.ctype in (xlrd.XL_CELL_ERROR, xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                row.append("")
            else:
                row.append(_cell_text(cell.value))
        grid.append(row)
    return _pad(grid)


def _read_xlsx(path: Path, sheet: str | None) -> list[list[str]]:
    # data_only: a formula cell gives the value Excel last computed, never the formula.
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise _no_sheet(path, sheet, book.sheetnames)
        name = sheet if sheet is not None else book.sheetnames[0]
        grid = [[_cell_text(v) for v in row] for row in book[name].iter_rows(values_only=True)]
    finally:
        book.close()
    _refuse_uncomputed_formulas(path, name, grid)
    return _pad(grid)


def _refuse_uncomputed_formulas(path: Path, sheet: str, grid: list[list[str]]) -> None:
    """A formula saved without its computed value would read as empty: refuse it instead."""
    book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        for r, row in enumerate(book[sheet].iter_rows(values_only=True)):
            for c, value in enumerate(row):
                if (
                    isinstance(value, str)
                    and value.startswith("=")
                    and not (r < len(grid) and c < len(grid[r]) and grid[r][c])
                ):
                    ref = f"{sheet}!{column_letter(c)}{r + 1}"
                    reason = "formula without a computed value: open and save it in Excel"
                    raise refuse(path, r + 1, ref, value, reason)
    finally:
        book.close()


def _pad(grid: list[list[str]]) -> list[list[str]]:
    width = max((len(r) for r in grid), default=0)
    return [r + [""] * (width - len(r)) for r in grid]


def _cell_text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float):
        return repr(value)
    return str(value).strip()


def column_letter(index: int) -> str:
    """Spreadsheet column name of a 0-based index (0 → A, 26 → AA)."""
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name
