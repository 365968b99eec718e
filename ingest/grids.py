"""Staging of grid layouts (`columns` and `wide`) read from CSV files or workbook sheets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd

from ingest.errors import IngestError, RowError
from ingest.periods import PeriodError, parse_period
from ingest.readers import STAGED_COLUMNS, read_grid
from ingest.schema import Source
from ingest.text import name_key
from ingest.workbooks import WORKBOOK_SUFFIXES, column_letter

Row = tuple[int, str, str, str, str, str, str, str, str]
Grid = list[tuple[int, list[str]]]


def stage_grid(con: duckdb.DuckDBPyConnection, path: Path, source: Source) -> int:
    """Read a `columns` or `wide` file into the staged table; return its data row count."""
    grid = read_grid(path, source)
    h = source.header_row - 1
    if len(grid) <= h:
        raise IngestError(
            str(path), [RowError(source.header_row, "header", "", "file ends before the header")]
        )
    header = [name_key(c) for c in grid[h][1]]
    _check_extent(path, grid, header, source)
    errors: list[RowError] = []
    # Sheets omit trailing empty cells; a CSV row with fewer fields lost some of its cells.
    if path.suffix.lower() not in WORKBOOK_SUFFIXES:
        errors.extend(_short_rows(grid, header, source))
    line = grid[h][0]
    if source.layout == "columns":
        rows = _melt_columns(grid, (line, header), source, errors)
    else:
        rows = _melt_wide(grid, (line, header), source, errors)
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


def _check_extent(path: Path, grid: Grid, header: list[str], source: Source) -> None:
    """Every data row is read as wide as the header: refuse what that would make too big."""
    extent = (len(grid) - source.header_row) * len(header)
    if extent > source.limits.cells:
        reason = (
            f"{len(grid) - source.header_row} rows × {len(header)} header columns exceed "
            f"[sources.limits] cells = {source.limits.cells}"
        )
        raise IngestError(str(path), [RowError(source.header_row, "size", str(extent), reason)])


def _index(header: list[str], name: str | None, errors: list[RowError], line: int) -> int | None:
    if name is None:
        return None
    if name_key(name) in header:
        return header.index(name_key(name))
    shown = ", ".join(h for h in header if h)
    errors.append(RowError(line, name, shown, f"no column named {name!r} in the header"))
    return None


def _data_rows(grid: Grid, source: Source, key: int, width: int) -> Iterator[tuple[int, list[str]]]:
    """Rows holding data, as wide as the header: not blank, not a note row (by the key cell).

    A key cell naming a configured series is data even where it looks like a note.
    """
    start = (source.data_start_row or source.header_row + 1) - 1
    skips = [re.compile(p) for p in source.skip_rows]
    for n, cells in grid[start:]:
        row = [c.strip() for c in cells] + [""] * (width - len(cells))
        if not any(row):
            continue
        if source.series_entry(row[key]) is None and any(p.search(row[key]) for p in skips):
            continue
        yield n, row


def _short_rows(grid: Grid, header: list[str], source: Source) -> list[RowError]:
    """CSV data rows with fewer fields than the header's named columns."""
    width = max((i + 1 for i, name in enumerate(header) if name), default=0)
    start = (source.data_start_row or source.header_row + 1) - 1
    skips = [re.compile(p) for p in source.skip_rows]
    errors = []
    for n, cells in grid[start:]:
        if 0 < len(cells) < width and any(cells):
            if any(p.search(cells[0].strip()) for p in skips):
                continue  # a note row, whatever its width
            reason = f"expected {len(header)} fields as in the header, found {len(cells)}"
            errors.append(RowError(n, "csv", ",".join(cells), reason))
    return errors


def _melt_columns(
    grid: Grid, numbered: tuple[int, list[str]], source: Source, errors: list[RowError]
) -> list[Row]:
    cols, (line, header) = source.columns, numbered
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
    for n, row in _data_rows(grid, source, period, len(header)):
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
    grid: Grid, numbered: tuple[int, list[str]], source: Source, errors: list[RowError]
) -> list[Row]:
    line, header = numbered
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
    for n, row in _data_rows(grid, source, key, len(header)):
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
        if cell and not (i < len(header) and header[i])
    ]
