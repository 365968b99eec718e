"""Staging of grid layouts (`columns` and `wide`) read from CSV files or workbook sheets."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd

from ingest.errors import IngestError, RowError
from ingest.periods import PeriodError, parse_period
from ingest.readers import STAGED_COLUMNS, column_letter, read_grid
from ingest.schema import Source

Row = tuple[int, str, str, str, str, str, str, str, str]


def stage_grid(con: duckdb.DuckDBPyConnection, path: Path, source: Source) -> int:
    """Read a `columns` or `wide` file into the staged table; return its data row count."""
    grid = read_grid(path, source)
    h = source.header_row - 1
    if len(grid) <= h:
        raise IngestError(
            str(path), [RowError(source.header_row, "header", "", "file ends before the header")]
        )
    header = [c.strip() for c in grid[h]]
    errors: list[RowError] = []
    if source.layout == "columns":
        rows = _melt_columns(grid, header, source, errors)
    else:
        rows = _melt_wide(grid, header, source, errors)
    if errors:
        raise IngestError(str(path), errors)
    frame = pd.DataFrame(rows, columns=STAGED_COLUMNS[1:])
    frame.insert(0, "cell", range(len(frame)))
    frame = frame.astype({"cell": "int64", "line": "int64"})
    con.register("staged_frame", frame)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE raw_rows AS SELECT * FROM staged_frame")
        con.execute("CREATE OR REPLACE TEMP VIEW staged AS SELECT * FROM raw_rows")
    finally:
        con.unregister("staged_frame")
    return len({r[0] for r in rows})


def _index(header: list[str], name: str | None, errors: list[RowError], line: int) -> int | None:
    if name is None:
        return None
    if name in header:
        return header.index(name)
    shown = ", ".join(h for h in header if h)
    errors.append(RowError(line, name, shown, f"no column named {name!r} in the header"))
    return None


def _data_rows(grid: list[list[str]], source: Source, key: int) -> list[tuple[int, list[str]]]:
    """Rows holding data: not blank, not a note row (by the key cell)."""
    start = (source.data_start_row or source.header_row + 1) - 1
    skips = [re.compile(p) for p in source.skip_rows]
    out = []
    for r in range(start, len(grid)):
        row = [c.strip() for c in grid[r]]
        if not any(row) or any(p.search(row[key]) for p in skips):
            continue
        out.append((r + 1, row))
    return out


def _melt_columns(
    grid: list[list[str]], header: list[str], source: Source, errors: list[RowError]
) -> list[Row]:
    cols, line = source.columns, source.header_row
    period = _index(header, cols.period, errors, line)
    jan_feb = _index(header, cols.jan_feb, errors, line)
    freq = _index(header, cols.freq, errors, line)
    region = _index(header, cols.region, errors, line)
    if period is None:
        return []
    special = {period, jan_feb, freq, region}
    series: list[tuple[int, str]] = []
    for i, name in enumerate(header):
        if i in special or not name:
            continue
        if not source.series or source.series_entry(name) is not None:
            series.append((i, name))
        elif source.unmapped == "error":
            errors.append(RowError(line, name, name, "column is not mapped in [sources.series]"))
    rows: list[Row] = []
    for n, row in _data_rows(grid, source, period):
        base = (
            row[region] if region is not None else "",
            row[period],
            row[freq] if freq is not None else source.freq,
            row[jan_feb] if jan_feb is not None else "false",
        )
        for i, name in series:
            if row[i]:
                rows.append((n, name, name, "", *base, row[i]))
        if source.unmapped == "error":
            errors.extend(_stray(n, row, header, "series"))
    return rows


def _melt_wide(
    grid: list[list[str]], header: list[str], source: Source, errors: list[RowError]
) -> list[Row]:
    line = source.header_row
    key = _index(header, source.columns.key, errors, line)
    if key is None:
        return []
    periods: list[tuple[int, str]] = []
    for i, text in enumerate(header):
        if i == key or not text:
            continue
        try:
            parse_period(text, source.freq)
        except PeriodError as exc:
            errors.append(RowError(line, f"{column_letter(i)}{line}", text, str(exc)))
            continue
        periods.append((i, text))
    rows: list[Row] = []
    for n, row in _data_rows(grid, source, key):
        name = row[key]
        series, region = (name, "") if source.row_key == "series" else ("", name)
        if source.series and series and source.series_entry(series) is None:
            if source.unmapped == "error":
                errors.append(
                    RowError(n, header[key], name, "row is not mapped in [sources.series]")
                )
            continue
        for i, text in periods:
            if row[i]:
                rows.append((n, text, series, "", region, text, source.freq, "false", row[i]))
        errors.extend(_stray(n, row, header, "period"))
    return rows


def _stray(n: int, row: list[str], header: list[str], what: str) -> list[RowError]:
    """Cells holding a value under an empty header: their meaning is unknown."""
    return [
        RowError(n, f"{column_letter(i)}{n}", cell, f"value under a column with no {what} name")
        for i, cell in enumerate(row)
        if cell and not header[i]
    ]
