"""Rows of task, progress-report and problem files, read and checked field by field.

Headers are English names or the Chinese ones a 一单位一清单 sheet uses; an unknown
header is refused (a typo would silently drop a column). Every bad cell is named with
its physical line and field; nothing is written unless every row is good.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ingest.errors import IngestError, RowError
from ingest.readers import read_grid
from ingest.schema import Columns, Id, Source
from ingest.unit_schema import ItemId, RecordKind, TaskFile

Cell = Any  # a checked value: str, date, float, bool, tuple[str, ...] or None
Parse = Callable[[str], Cell]


@dataclass(frozen=True)
class Field:
    """One column of a record file: its name, Chinese aliases, parser and whether required."""

    name: str
    aliases: tuple[str, ...]
    parse: Parse
    required: bool = False


@dataclass(frozen=True)
class Record:
    """One good row: its physical line and its checked fields by name."""

    line: int
    values: dict[str, Cell]


_ID = TypeAdapter(Id)
_ITEM = TypeAdapter(ItemId)
_CADENCES = {"week": "week", "dekad": "dekad", "month": "month", "周": "week", "旬": "dekad"}
_CADENCES["月"] = "month"
_TRUE = {"true", "yes", "y", "1", "是", "完成", "已完成", "done"}
_FALSE = {"false", "no", "n", "0", "否", "未完成", ""}
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_LIST_SPLIT = re.compile(r"[;,，、；\s]+")


def _text(raw: str) -> str:
    return raw.strip()


def _unit_id(raw: str) -> str:
    try:
        return str(_ID.validate_python(raw.strip()))
    except ValidationError as exc:
        raise ValueError("not a unit id (letters, digits and _, starting with a letter)") from exc


def _item_id(raw: str) -> str:
    try:
        return str(_ITEM.validate_python(raw.strip()))
    except ValidationError as exc:
        raise ValueError("not an id (letters, digits, _ . -)") from exc


def _optional(parse: Parse) -> Parse:
    return lambda raw: parse(raw) if raw.strip() else None


def parse_day(raw: str) -> date:
    found = _DATE.match(unicodedata.normalize("NFKC", raw).strip())
    if not found:
        raise ValueError("not a date (YYYY-MM-DD)")
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError as exc:
        raise ValueError(f"not a real date: {exc}") from exc


def _amount(raw: str) -> float:
    text = unicodedata.normalize("NFKC", raw).strip()
    if not re.fullmatch(r"\d+(\.\d+)?", text):
        raise ValueError("not a non-negative number (digits and one decimal point)")
    return float(text)


def _cadence(raw: str) -> str:
    found = _CADENCES.get(raw.strip().lower())
    if found is None:
        raise ValueError("not a cadence: week, dekad or month (周, 旬, 月)")
    return found


def _flag(raw: str) -> bool:
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("not a yes/no value (true/false, 是/否)")


def _units(raw: str) -> tuple[str, ...]:
    return tuple(_unit_id(p) for p in _LIST_SPLIT.split(raw.strip()) if p)


FIELDS: dict[RecordKind, tuple[Field, ...]] = {
    "tasks": (
        Field("task", ("任务编号",), _item_id, True),
        Field("title", ("任务名称", "任务"), _text, True),
        Field("unit", ("责任单位",), _unit_id, True),
        Field("person", ("责任人",), _text),
        Field("supporting", ("配合单位",), _units),
        Field("cadence", ("调度频次",), _optional(_cadence)),
        Field("start", ("开始日期",), _optional(parse_day)),
        Field("deadline", ("办结时限", "完成时限"), parse_day, True),
        Field("quantity", ("目标数量",), _optional(_amount)),
        Field("quantity_unit", ("计量单位",), _text),
        Field("parent", ("所属重点工作",), _optional(_item_id)),
    ),
    "progress": (
        Field("task", ("任务编号",), _item_id, True),
        Field("date", ("日期", "报告日期"), parse_day, True),
        Field("unit", ("责任单位",), _optional(_unit_id)),
        Field("quantity", ("完成数量",), _optional(_amount)),
        Field("done", ("是否完成",), _flag),
        Field("note", ("备注", "进展情况"), _text),
    ),
    "problems": (
        Field("problem", ("问题编号",), _item_id, True),
        Field("title", ("问题", "问题描述"), _text, True),
        Field("unit", ("责任单位",), _unit_id, True),
        Field("task", ("任务编号",), _optional(_item_id)),
        Field("project", ("项目",), _text),
        Field("raised", ("提出日期",), parse_day, True),
        Field("due", ("解决时限",), parse_day, True),
        Field("resolved", ("解决日期",), _optional(parse_day)),
    ),
}


def read_records(path: Path, spec: TaskFile) -> list[Record]:
    """Every row of a record file, checked; refuse the file naming every bad cell."""
    if not path.is_file():
        raise IngestError(str(path), [RowError(0, "path", str(path), "no such file")])
    # The observation reader, through a source that names only how to read the file.
    shim = Source(
        name="records",
        path=str(path),
        layout="wide",
        columns=Columns(key="-"),
        encoding=spec.encoding,
        delimiter=spec.delimiter,
        sheet=spec.sheet,
    )
    grid = read_grid(path, shim)
    if not grid or not any(grid[0][1]):
        raise IngestError(str(path), [RowError(1, "header", "", "the file has no header row")])
    header_line, header = grid[0]
    columns = _columns(path, header_line, header, FIELDS[spec.kind])
    records: list[Record] = []
    errors: list[RowError] = []
    for line, row in grid[1:]:
        if not any(cell.strip() for cell in row):
            continue
        record, bad = _record(line, row, columns)
        errors += bad
        if record is not None:
            records.append(record)
    if errors:
        raise IngestError(str(path), errors)
    return records


def _columns(
    path: Path, line: int, header: Sequence[str], fields: Sequence[Field]
) -> dict[int, Field]:
    by_name = {f.name: f for f in fields} | {a: f for f in fields for a in f.aliases}
    columns: dict[int, Field] = {}
    errors: list[RowError] = []
    for i, name in enumerate(header):
        field = by_name.get(name.strip())
        if field is None:
            if name.strip():
                known = ", ".join(f.name for f in fields)
                errors.append(RowError(line, name, name, f"unknown column; known: {known}"))
            continue
        if field in columns.values():
            errors.append(RowError(line, name, name, f"a second column for {field.name!r}"))
        columns[i] = field
    for f in fields:
        if f.required and f not in columns.values():
            errors.append(RowError(line, f.name, ", ".join(header), "required column missing"))
    if errors:
        raise IngestError(str(path), errors)
    return columns


def _record(
    line: int, row: Sequence[str], columns: dict[int, Field]
) -> tuple[Record | None, list[RowError]]:
    values: dict[str, Cell] = {}
    errors: list[RowError] = []
    for i, field in columns.items():
        raw = row[i] if i < len(row) else ""
        if field.required and not raw.strip():
            errors.append(RowError(line, field.name, raw, "required"))
            continue
        try:
            values[field.name] = field.parse(raw)
        except ValueError as exc:
            errors.append(RowError(line, field.name, raw, str(exc)))
    if errors:
        return None, errors
    return Record(line, values), []
