"""The checks a record file's rows need from other rows or the store: units, tasks and
projects that exist, keys given once, key works that do not contain themselves."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingest.errors import IngestError, Problem, RowError
from ingest.task_records import Record
from ingest.unit_schema import ProblemItem, RecordKind, parent_cycles

UNKNOWN = "in no loaded project register"


def unknown_projects(
    con: duckdb.DuckDBPyConnection, problems: Sequence[ProblemItem]
) -> list[Problem]:
    """The config's problems that name a project no loaded register holds."""
    known = {p for (p,) in con.execute("SELECT DISTINCT project FROM project_rows").fetchall()}
    return [
        Problem(f"problems[id={p.id}].project", f"unknown project {p.project!r} ({UNKNOWN})")
        for p in problems
        if p.project and p.project not in known
    ]


def check_records(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    kind: RecordKind,
    records: Sequence[Record],
    units: set[str],
) -> None:
    """Refuse the file naming every row that names what does not exist or repeats a key."""
    known = Known(
        units,
        dict(con.execute("SELECT task, unit FROM tasks").fetchall()),
        dict(con.execute("SELECT task, supporting FROM tasks").fetchall()),
        {p for (p,) in con.execute("SELECT DISTINCT project FROM project_rows").fetchall()},
    )
    if kind == "tasks":
        known.tasks.update({r.values["task"]: r.values["unit"] for r in records})
    errors = _duplicates(records, kind)
    for r in records:
        errors += _row_errors(r, kind, known)
    if kind == "tasks":
        errors += _cycles(con, records)
    if errors:
        errors.sort(key=lambda e: e.line)
        raise IngestError(str(path), errors)


def _cycles(con: duckdb.DuckDBPyConnection, records: Sequence[Record]) -> list[RowError]:
    """Key works that would contain themselves once the file's tasks are stored."""
    parents: dict[str, str | None] = dict(con.execute("SELECT task, parent FROM tasks").fetchall())
    parents |= {r.values["task"]: r.values.get("parent") for r in records}
    cyclic = set(parent_cycles(parents))
    return [
        RowError(r.line, "parent", str(r.values.get("parent")), "key works form a cycle")
        for r in records
        if r.values["task"] in cyclic
    ]


def _duplicates(records: Sequence[Record], kind: RecordKind) -> list[RowError]:
    names = {"tasks": ("task",), "progress": ("task", "date"), "problems": ("problem",)}[kind]
    keys = Counter(tuple(r.values[n] for n in names) for r in records)
    seen: set[tuple[object, ...]] = set()
    errors = []
    for r in records:
        key = tuple(r.values[n] for n in names)
        if keys[key] > 1 and key in seen:
            shown = " ".join(str(k) for k in key)
            errors.append(RowError(r.line, names[-1], shown, "appears on an earlier line too"))
        seen.add(key)
    return errors


@dataclass(frozen=True)
class Known:
    """What a file's rows may name: units, tasks (with their unit and supporting units) and
    the projects of the loaded registers."""

    units: set[str]
    tasks: dict[str, str]
    supporting: dict[str, list[str]]
    projects: set[str]


def _row_errors(r: Record, kind: RecordKind, known: Known) -> list[RowError]:
    v = r.values
    units, tasks, supporting = known.units, known.tasks, known.supporting
    errors = []

    def bad(field: str, value: object, reason: str) -> None:
        errors.append(RowError(r.line, field, str(value), reason))

    for name in ("unit",):
        if v.get(name) is not None and v[name] not in units:
            bad(name, v[name], "unknown unit (not in [[units]] or [[regions]])")
    for u in v.get("supporting") or ():
        if u not in units:
            bad("supporting", u, "unknown unit (not in [[units]] or [[regions]])")
    if v.get("project") and v["project"] not in known.projects:
        bad("project", v["project"], f"unknown project ({UNKNOWN})")
    task_field = "parent" if kind == "tasks" else "task"
    if v.get(task_field) is not None and v[task_field] not in tasks:
        bad(task_field, v[task_field], "unknown task")
    if kind == "tasks":
        if v.get("start") is not None and v["start"] > v["deadline"]:
            bad("start", v["start"], f"after the deadline {v['deadline']}")
        if v.get("quantity") == 0:
            bad("quantity", "0", "a quantity target must be above zero")
    elif kind == "progress":
        if v.get("quantity") is None and not v.get("done"):
            bad("quantity", "", "a report needs a quantity done or done = true")
        task_unit = tasks.get(v["task"])
        allowed = {task_unit, *(supporting.get(v["task"]) or ())}
        if v.get("unit") in units and task_unit is not None and v["unit"] not in allowed:
            bad("unit", v["unit"], f"task {v['task']} belongs to {task_unit}")
    else:
        if v["due"] < v["raised"]:
            bad("due", v["due"], f"before it was raised ({v['raised']})")
        if v.get("resolved") is not None and v["resolved"] < v["raised"]:
            bad("resolved", v["resolved"], f"before it was raised ({v['raised']})")
    return errors
