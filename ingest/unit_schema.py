"""Config models for units, their tasks and problems (一单位一清单), and their cross-checks.

A unit is anything that answers for an item: a region, a department, a state-owned
company, a task force (专班), a functional zone. Regions are units already; a `[[units]]`
entry with the id of a region and kind `region` only adds its lead and people.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Annotated, Literal

from pydantic import Field, model_validator

from ingest.errors import Problem
from ingest.schema import Encoding, Id, Region, Strict

UnitKind = Literal["department", "company", "task_force", "zone", "region"]
Cadence = Literal["week", "dekad", "month"]
RecordKind = Literal["tasks", "progress", "problems"]
# Task and problem ids never become labels: codes such as UR-2026-001 are allowed.
ItemId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]


class Unit(Strict):
    """[[units]]: a unit that answers for indicators, projects, tasks and problems."""

    id: Id
    name: str
    kind: UnitKind
    # the unit (or region) it answers to: units are ranked among their parent's children
    parent: Id | None = None
    # the task force (专班) whose items these are
    task_force: Id | None = None
    lead: str = ""  # the leading official
    people: tuple[str, ...] = ()  # named responsible people
    supporting: tuple[Id, ...] = ()  # supporting units


class Task(Strict):
    """[[tasks]]: one task of a unit's list, with its person and deadline (定人定责定时限)."""

    id: ItemId
    title: str
    unit: Id
    person: str = ""
    supporting: tuple[Id, ...] = ()
    cadence: Cadence = "week"
    # the first day counted for a quantity task's pace (default: 1 January of its deadline)
    start: date | None = None
    deadline: date
    quantity: float | None = Field(default=None, gt=0)
    quantity_unit: str = ""
    # the key work (another task) this task is part of
    parent: ItemId | None = None

    @model_validator(mode="after")
    def _start_before_deadline(self) -> Task:
        if self.start is not None and self.start > self.deadline:
            raise ValueError(f"start {self.start} is after the deadline {self.deadline}")
        return self


class ProblemItem(Strict):
    """[[problems]]: a problem raised for a task or project, its owner, due and resolved dates."""

    id: ItemId
    title: str
    unit: Id
    task: ItemId | None = None
    project: str = ""
    raised: date
    due: date
    resolved: date | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> ProblemItem:
        if self.due < self.raised:
            raise ValueError(f"due {self.due} is before it was raised ({self.raised})")
        if self.resolved is not None and self.resolved < self.raised:
            raise ValueError(f"resolved {self.resolved} is before it was raised ({self.raised})")
        return self


class TaskFile(Strict):
    """[[task_files]]: a CSV or workbook of tasks, progress reports or problems."""

    path: str
    kind: RecordKind
    encoding: Encoding = "auto"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    sheet: str | None = None


def unit_ids(units: Iterable[Unit], regions: Iterable[Region]) -> set[str]:
    """Every id a task, problem or indicator owner may name as its unit."""
    return {u.id for u in units} | {r.id for r in regions}


def cross_check_units(
    units: Sequence[Unit],
    regions: Sequence[Region],
    tasks: Sequence[Task],
    problems: Sequence[ProblemItem],
) -> list[Problem]:
    """References between units, regions, tasks and problems; duplicates; cycles."""
    found: list[Problem] = []
    region_ids = {r.id for r in regions}
    by_id = {u.id: u for u in units}
    known = unit_ids(units, regions)
    for table, ids in (
        ("units", [u.id for u in units]),
        ("tasks", [t.id for t in tasks]),
        ("problems", [p.id for p in problems]),
    ):
        for dup in sorted(i for i, n in Counter(ids).items() if n > 1):
            found.append(Problem(f"{table}[id={dup}]", "defined more than once"))
    for u in units:
        found += _check_unit(u, by_id, known, region_ids)
    found += _unit_cycles(by_id)
    task_ids = {t.id for t in tasks}
    for t in tasks:
        where = f"tasks[id={t.id}]"
        found += _refs(where, "unit", [t.unit], known, "unit")
        found += _refs(where, "supporting", t.supporting, known, "unit")
        if t.parent is not None and t.parent not in task_ids:
            found.append(Problem(f"{where}.parent", f"unknown task {t.parent!r}"))
    for task in parent_cycles({t.id: t.parent for t in tasks}):
        found.append(Problem(f"tasks[id={task}].parent", "key works form a cycle"))
    for p in problems:
        where = f"problems[id={p.id}]"
        found += _refs(where, "unit", [p.unit], known, "unit")
        if p.task is not None and p.task not in task_ids:
            found.append(Problem(f"{where}.task", f"unknown task {p.task!r}"))
    return found


def _check_unit(
    u: Unit, by_id: Mapping[str, Unit], known: set[str], regions: set[str]
) -> list[Problem]:
    where = f"units[id={u.id}]"
    found = []
    if u.id in regions and u.kind != "region":
        found.append(Problem(f"{where}.kind", "a region's id: kind must be 'region'"))
    if u.kind == "region" and u.id not in regions:
        found.append(Problem(f"{where}.kind", "kind 'region' needs a [[regions]] entry"))
    found += _refs(where, "parent", [u.parent] if u.parent else [], known, "unit")
    found += _refs(where, "supporting", u.supporting, known, "unit")
    if u.task_force is not None:
        force = by_id.get(u.task_force)
        if force is None or force.kind != "task_force":
            msg = f"{u.task_force!r} is not a unit of kind 'task_force'"
            found.append(Problem(f"{where}.task_force", msg))
    if u.id in u.supporting:
        found.append(Problem(f"{where}.supporting", "a unit cannot support itself"))
    return found


def _refs(where: str, key: str, values: Iterable[str], known: set[str], what: str) -> list[Problem]:
    return [Problem(f"{where}.{key}", f"unknown {what} {v!r}") for v in values if v not in known]


def _unit_cycles(by_id: Mapping[str, Unit]) -> list[Problem]:
    cyclic = parent_cycles({u.id: u.parent for u in by_id.values()})
    return [Problem(f"units[id={u}].parent", "unit tree has a cycle") for u in cyclic]


def parent_cycles(parents: Mapping[str, str | None]) -> list[str]:
    """The items (regions, units, tasks) whose chain of parents comes back to them."""
    cyclic = []
    for start in parents:
        seen, node = {start}, parents[start]
        while node is not None and node in parents:
            if node == start:
                cyclic.append(start)
                break
            if node in seen:
                break
            seen.add(node)
            node = parents[node]
    return sorted(cyclic)
