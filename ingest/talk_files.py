"""Talks (约谈) kept in a CSV or workbook beside config.toml: read whole or refused.

A supervision office keeps its record of talks as a sheet (日期, 被约谈单位, 约谈事由);
`[escalation] talk_files` names such files. Every bad cell — a date that is not one, a
unit the config does not name, an unknown column — is reported with the file, its
physical line and the field, and nothing of the file is used.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic import Field

from ingest.errors import IngestError, RowError
from ingest.readers import read_grid
from ingest.schema import Columns, Source, Strict
from ingest.task_records import parse_day


class Talk(Strict):
    """[[escalation.talks]], or a row of a talk file: a 约谈 that took place."""

    date: date
    unit: Annotated[str, Field(min_length=1)]
    note: str = ""


# Column names: English, then the Chinese a talk register uses.
FIELDS: dict[str, tuple[str, ...]] = {
    "date": ("日期", "约谈日期", "约谈时间"),
    "unit": ("单位", "被约谈单位", "责任单位"),
    "note": ("备注", "约谈事由", "事由"),
}
REQUIRED = ("date", "unit")


def read_talks(path: Path, units: set[str]) -> list[Talk]:
    """Every talk of a file, checked; refuse the file naming every bad cell."""
    if not path.is_file():
        raise IngestError(str(path), [RowError(0, "path", str(path), "no such file")])
    # the observation reader, through a source that says only how to read the file
    shim = Source(name="talks", path=str(path), layout="wide", columns=Columns(key="-"))
    grid = read_grid(path, shim)
    if not grid or not any(cell.strip() for cell in grid[0][1]):
        raise IngestError(str(path), [RowError(1, "header", "", "the file has no header row")])
    header_line, header = grid[0]
    columns = _columns(path, header_line, header)
    talks: list[Talk] = []
    errors: list[RowError] = []
    for line, row in grid[1:]:
        if not any(cell.strip() for cell in row):
            continue
        cells = {name: row[i].strip() if i < len(row) else "" for name, i in columns.items()}
        bad = _row_errors(line, cells, units)
        errors += bad
        if not bad:
            talks.append(
                Talk(date=parse_day(cells["date"]), unit=cells["unit"], note=cells["note"])
            )
    if errors:
        raise IngestError(str(path), errors[:1000], len(errors))
    return talks


def read_all(paths: Sequence[Path], units: set[str]) -> list[Talk]:
    """The talks of every file, or the first refused file's error (nothing is used)."""
    return [talk for path in paths for talk in read_talks(path, units)]


def _columns(path: Path, line: int, header: Sequence[str]) -> dict[str, int]:
    by_name = {n: n for n in FIELDS} | {a: n for n, aliases in FIELDS.items() for a in aliases}
    columns: dict[str, int] = {}
    errors: list[RowError] = []
    for i, text in enumerate(header):
        name = by_name.get(unicodedata.normalize("NFKC", text).strip())
        if name is None and text.strip():
            why = f"unknown column; known: {', '.join(FIELDS)}"
            errors.append(RowError(line, text, text, why))
        elif name in columns:
            errors.append(RowError(line, text, text, f"a second column for {name!r}"))
        elif name is not None:
            columns[name] = i
    for name in REQUIRED:
        if name not in columns:
            errors.append(RowError(line, name, ", ".join(header), "required column missing"))
    if errors:
        raise IngestError(str(path), errors)
    columns.setdefault("note", len(header))  # past the row's end: an empty note
    return columns


def _row_errors(line: int, cells: dict[str, str], units: set[str]) -> list[RowError]:
    errors = []
    try:
        parse_day(cells["date"])
    except ValueError as exc:
        errors.append(RowError(line, "date", cells["date"], str(exc)))
    if not cells["unit"]:
        errors.append(RowError(line, "unit", "", "required"))
    elif cells["unit"] not in units:  # a typo would silently never count
        errors.append(RowError(line, "unit", cells["unit"], "a unit the config does not name"))
    return errors
