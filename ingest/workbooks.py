"""Workbook sheets (.xlsx, .xlsm, .xls) as rows of cell texts, in bounded memory.

A sheet's declared size (its `<dimension>`), the archive's uncompressed size and the
cells actually present are checked against [sources.limits] before they are held, so
a small hostile file cannot make kpiwatch read billions of empty cells. Hidden rows and
columns that hold values are refused, read or skipped as the source's `hidden` says:
never dropped or read without the user having chosen it.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import xlrd
from openpyxl.worksheet._reader import WorkSheetParser

from ingest.errors import IngestError
from ingest.schema import Limits, Source
from ingest.text import name_key
from ingest.textfiles import read_error, refuse

WORKBOOK_SUFFIXES = {".xls", ".xlsx", ".xlsm"}
Rows = list[tuple[int, list[str]]]


@dataclass
class Sheet:
    """The cells of one sheet by row number, with its hidden rows and columns."""

    name: str
    rows: dict[int, list[str]] = field(default_factory=dict)
    hidden_rows: set[int] = field(default_factory=set)
    hidden_columns: set[int] = field(default_factory=set)  # 0-based


def read_workbook(path: Path, source: Source) -> Rows:
    """Read the source's sheet as (row number, cell texts), every row up to the last kept."""
    try:
        if path.suffix.lower() == ".xls":
            sheet = _read_xls(path, source)
        else:
            sheet = _read_xlsx(path, source)
    except IngestError:
        raise
    except OSError as exc:
        if exc.errno is not None:  # else a format error openpyxl raises as OSError
            raise read_error(path, exc) from exc
        raise refuse(path, 0, "workbook", path.name, f"unreadable workbook: {exc}") from exc
    except Exception as exc:  # xlrd, openpyxl and zipfile raise many unrelated types
        reason = f"unreadable workbook: {_reason(exc)}"
        raise refuse(path, 0, "workbook", path.name, reason) from exc
    return _visible(path, sheet, source)


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    if isinstance(exc, KeyError):
        return f"a part of the workbook is missing ({text})"
    return f"{name}: {text}" if text else name


def _pick(path: Path, names: list[str], visible: list[bool], wanted: str | None) -> str:
    """The sheet to read: the named one (by its visible name), else the first visible one."""
    if wanted is None:
        shown = [n for n, v in zip(names, visible, strict=True) if v]
        if not shown:
            raise refuse(path, 0, "sheet", "", f"every sheet is hidden: {names}")
        return shown[0]
    matches = [n for n in names if name_key(n) == name_key(wanted)]
    if len(matches) > 1:
        raise refuse(path, 0, "sheet", wanted, f"several sheets are named so: {matches}")
    if not matches:
        raise refuse(path, 0, "sheet", wanted, f"no such sheet; the workbook has {names}")
    return matches[0]


def _too_big(path: Path, line: int, what: str, size: int, key: str, limit: int) -> IngestError:
    reason = f"{what} {size} exceeds [sources.limits] {key} = {limit}"
    return refuse(path, line, "size", f"{size}", reason)


def _check_archive(path: Path, limits: Limits) -> None:
    """Refuse an .xlsx whose parts would unpack to more than workbook_bytes (a zip bomb)."""
    with zipfile.ZipFile(path) as archive:
        total = sum(info.file_size for info in archive.infolist())
    if total > limits.workbook_bytes:
        raise _too_big(path, 0, "uncompressed size", total, "workbook_bytes", limits.workbook_bytes)


def _check_declared(path: Path, rows: int | None, columns: int | None, limits: Limits) -> None:
    """Refuse a sheet whose declared size exceeds the limits before reading a cell."""
    rows, columns = rows or 0, columns or 0
    if rows > limits.rows:
        raise _too_big(path, 0, "declared rows", rows, "rows", limits.rows)
    if columns > limits.columns:
        raise _too_big(path, 0, "declared columns", columns, "columns", limits.columns)
    if rows * columns > limits.cells:
        raise _too_big(path, 0, "declared cells", rows * columns, "cells", limits.cells)


class _Budget:
    """Counts the cells held and refuses the file the moment a limit is passed."""

    def __init__(self, path: Path, limits: Limits) -> None:
        self.path, self.limits, self.cells = path, limits, 0

    def take(self, row: int, width: int) -> None:
        limits = self.limits
        self.cells += width
        if row > limits.rows:
            raise _too_big(self.path, row, "rows", row, "rows", limits.rows)
        if width > limits.columns:
            raise _too_big(self.path, row, "columns", width, "columns", limits.columns)
        if self.cells > limits.cells:
            raise _too_big(self.path, row, "cells", self.cells, "cells", limits.cells)


def _read_xlsx(path: Path, source: Source) -> Sheet:
    _check_archive(path, source.limits)
    # data_only: a formula cell gives the value Excel last computed, never the formula.
    values = _xlsx_sheet(path, source, data_only=True)
    formulas = _xlsx_sheet(path, source, data_only=False)
    _refuse_uncomputed_formulas(path, values, formulas)
    return values


def _xlsx_sheet(path: Path, source: Source, data_only: bool) -> Sheet:
    # Our own handle: openpyxl leaves its file open when a workbook fails to load.
    with path.open("rb") as fh:
        book = openpyxl.load_workbook(fh, read_only=True, data_only=data_only)
        return _xlsx_pick_and_parse(path, book, source)


def _xlsx_pick_and_parse(path: Path, book: Any, source: Source) -> Sheet:
    try:
        worksheets = book.worksheets
        names = [ws.title for ws in worksheets]
        visible = [ws.sheet_state == "visible" for ws in worksheets]
        name = _pick(path, names, visible, source.sheet)
        ws: Any = book[name]
        _check_declared(path, ws.max_row, ws.max_column, source.limits)
        return _parse_xlsx(path, book, ws, name, source.limits)
    finally:
        book.close()


def _parse_xlsx(path: Path, book: Any, ws: Any, name: str, limits: Limits) -> Sheet:
    """Parse the sheet's XML once: cells as present (not as declared), hidden rows, columns.

    openpyxl's read-only rows drop row attributes and pad to the declared dimension,
    so its sheet parser is driven directly.
    """
    sheet = Sheet(name)
    budget = _Budget(path, limits)
    with ws._get_source() as src:
        parser = WorkSheetParser(
            src,
            ws._shared_strings,
            data_only=book.data_only,
            epoch=book.epoch,
            date_formats=book._date_formats,
            timedelta_formats=book._timedelta_formats,
        )
        for number, cells in parser.parse():
            width = max((c["column"] for c in cells), default=0)
            budget.take(number, width)
            row = [""] * width
            for cell in cells:
                row[cell["column"] - 1] = cell_text(cell["value"])
            sheet.rows[number] = row
            if parser.row_dimensions.get(str(number), {}).get("hidden") in ("1", "true"):
                sheet.hidden_rows.add(number)
        for attrs in parser.column_dimensions.values():
            if attrs.get("hidden") in ("1", "true"):
                first, last = int(attrs["min"]), min(int(attrs["max"]), limits.columns)
                sheet.hidden_columns.update(range(first - 1, last))
    return sheet


def _refuse_uncomputed_formulas(path: Path, values: Sheet, formulas: Sheet) -> None:
    """A formula saved without its computed value would read as empty: refuse it instead."""
    for number, row in formulas.rows.items():
        shown = values.rows.get(number, [])
        for c, text in enumerate(row):
            if text.startswith("=") and not (c < len(shown) and shown[c]):
                ref = f"{values.name}!{column_letter(c)}{number}"
                reason = "formula without a computed value: open and save it in Excel"
                raise refuse(path, number, ref, text, reason)


def _read_xls(path: Path, source: Source) -> Sheet:
    size = path.stat().st_size  # xlrd holds the whole file
    limits = source.limits
    if size > limits.workbook_bytes:
        raise _too_big(path, 0, "file size", size, "workbook_bytes", limits.workbook_bytes)
    book = xlrd.open_workbook(str(path), on_demand=True, formatting_info=True)
    try:
        names = book.sheet_names()
        visible = [book.sheet_by_index(i).visibility == 0 for i in range(len(names))]
        name = _pick(path, names, visible, source.sheet)
        ws = book.sheet_by_name(name)
        _check_declared(path, ws.nrows, ws.ncols, limits)
        sheet = Sheet(name)
        for r in range(ws.nrows):
            sheet.rows[r + 1] = [_xls_text(cell, book.datemode) for cell in ws.row(r)]
            info = ws.rowinfo_map.get(r)
            if info is not None and info.hidden:
                sheet.hidden_rows.add(r + 1)
        sheet.hidden_columns = {c for c, info in ws.colinfo_map.items() if info.hidden}
        return sheet
    finally:
        book.release_resources()


def _xls_text(cell: Any, datemode: int) -> str:
    if cell.ctype == xlrd.XL_CELL_DATE:
        return cell_text(xlrd.xldate.xldate_as_datetime(cell.value, datemode))
    if cell.ctype in (xlrd.XL_CELL_ERROR, xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return ""
    return cell_text(cell.value)


def _visible(path: Path, sheet: Sheet, source: Source) -> Rows:
    """The sheet's rows in order, gaps as empty rows, hidden cells as `hidden` says."""
    last = max(sheet.rows, default=0)
    out: Rows = []
    for number in range(1, last + 1):
        row = sheet.rows.get(number, [])
        if source.hidden != "read":
            hidden = _hidden_cells(sheet, number, row)
            if hidden and source.hidden == "error":
                c = hidden[0]
                ref = f"{sheet.name}!{column_letter(c)}{number}"
                what = "row" if number in sheet.hidden_rows else "column"
                reason = f'hidden {what} holds a value: unhide it, or set hidden = "read" or "skip"'
                raise refuse(path, number, ref, row[c], reason)
            if number in sheet.hidden_rows:
                row = []
            for c in hidden:
                if c < len(row):
                    row[c] = ""
        out.append((number, row))
    return out


def _hidden_cells(sheet: Sheet, number: int, row: list[str]) -> list[int]:
    if number in sheet.hidden_rows:
        return [c for c, text in enumerate(row) if text]
    return [c for c in sheet.hidden_columns if c < len(row) and row[c]]


def cell_text(value: object) -> str:
    """A cell's value as text, as a user reads it in the sheet."""
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
