"""Targets split top-down (区 → 功能区 → 镇街 → 部门): do the children's add up to the parent's?

A plan breaks a target down the region tree (a district's 600 projects into its zones'
targets) and a key work down to the units' tasks (627 renewal projects into each unit's
quantity). A split that falls short leaves part of the parent's target to no one; one
that exceeds it is the plan's own margin (层层加码). Both are reported, and refused only
where `[checks] split_mismatch = "error"` says so: the plan decides. Only amounts add
up: flows and stocks, never growth rates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import duckdb

from ingest.schema import Region, region_children
from ingest.store import transaction
from ingest.unit_schema import Task
from metrics.schema import Target

# Parent and children are equal at the precision targets are written in.
DIGITS = 6

# A view for the tasks the store holds (from config or task files): each key work whose
# quantity differs from the sum of its direct sub-tasks' quantities.
TASK_SPLITS_VIEW = """
CREATE OR REPLACE VIEW task_splits AS
SELECT p.task AS parent, p.unit, p.quantity AS parent_quantity,
       sum(c.quantity) AS children_quantity, count(c.task) AS children,
       sum(c.quantity) / p.quantity AS share,
       list(c.task ORDER BY c.task) FILTER (c.quantity IS NULL) AS without_quantity
FROM tasks p JOIN tasks c ON c.parent = p.task
WHERE p.quantity IS NOT NULL
GROUP BY p.task, p.unit, p.quantity
HAVING round(coalesce(sum(c.quantity), 0), 6) <> round(p.quantity, 6);
"""


# Every split of a config target over its sub-regions' targets, one row per value the
# parent gives (written by each refresh).
TARGET_SPLITS_TABLE = """
CREATE OR REPLACE TABLE target_splits (
    indicator VARCHAR, region VARCHAR, year INTEGER, target_key VARCHAR,
    parent_target DOUBLE, children VARCHAR[], children_target DOUBLE, share DOUBLE,
    without_target VARCHAR[], status VARCHAR
)
"""


@dataclass(frozen=True)
class Split:
    """A parent's value and what its children's add up to."""

    where: str  # the parent's TOML path and key
    parent: float
    children: float
    by: tuple[str, ...]  # the children that carry a value
    missing: tuple[str, ...] = ()  # children without one (nothing split to them)
    key: tuple[str, str, int, str] | None = None  # a target's indicator, region, year, key

    @property
    def share(self) -> float:
        return self.children / self.parent if self.parent else float("inf")

    @property
    def status(self) -> str:
        """adds_up, short (part of the parent's value is split to no one) or over."""
        gap = round(self.children, DIGITS) - round(self.parent, DIGITS)
        return "adds_up" if gap == 0 else "short" if gap < 0 else "over"

    @property
    def detail(self) -> str:
        text = (
            f"the children's {self.children:g} ({', '.join(self.by)}) are "
            f"{self.share:.1%} of {self.parent:g}"
        )
        return text + (f"; nothing split to {', '.join(self.missing)}" if self.missing else "")

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}"


def install(con: duckdb.DuckDBPyConnection, target_splits: Sequence[Split] = ()) -> None:
    """(Re)create the view task_splits and the table target_splits, in one transaction."""
    rows = [
        (*s.key, s.parent, list(s.by), s.children, s.share, list(s.missing), s.status)
        for s in target_splits
        if s.key is not None
    ]
    with transaction(con):
        con.execute(TASK_SPLITS_VIEW)
        con.execute(TARGET_SPLITS_TABLE)
        if rows:
            con.executemany("INSERT INTO target_splits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def target_splits(
    targets: Sequence[Target], regions: Sequence[Region], kinds: Mapping[str, str]
) -> list[Split]:
    """Every value of a flow or stock target split over its sub-regions' targets.

    The annual value and each quarter or month the parent gives are compared with the
    children's same key, over the children that give it.
    """
    children = region_children(regions)
    by_key = {(t.indicator, t.region, t.year): t for t in targets}
    splits = []
    for t in targets:
        if kinds.get(t.indicator) not in ("flow", "stock") or t.region not in children:
            continue
        subs = [by_key.get((t.indicator, c, t.year)) for c in children[t.region]]
        if not any(subs):
            continue  # not split at all: nothing to check
        where = f"targets[indicator={t.indicator}, region={t.region}, year={t.year}]"
        given = [s for s in subs if s is not None]
        missing = tuple(c for c, s in zip(children[t.region], subs, strict=True) if s is None)
        for key, value in _values(t):
            parts = [(s.region, v) for s in given for k, v in _values(s) if k == key]
            if parts:
                total = sum(v for _, v in parts)
                by = tuple(name for name, _ in parts)
                ids = (t.indicator, t.region, t.year, key.replace('"', ""))
                splits.append(Split(f"{where}.{key}", value, total, by, missing, ids))
    return splits


def target_split_gaps(
    targets: Sequence[Target], regions: Sequence[Region], kinds: Mapping[str, str]
) -> list[Split]:
    """Every value of a flow or stock target that its sub-regions' targets do not sum to."""
    return [s for s in target_splits(targets, regions, kinds) if s.status != "adds_up"]


def task_split_gaps(tasks: Sequence[Task]) -> list[Split]:
    """Every key work whose quantity its direct sub-tasks' quantities do not sum to."""
    subs: dict[str, list[Task]] = {}
    for t in tasks:
        if t.parent is not None:
            subs.setdefault(t.parent, []).append(t)
    gaps = []
    for t in tasks:
        if t.quantity is None or t.id not in subs:
            continue
        parts = [(s.id, s.quantity) for s in subs[t.id] if s.quantity is not None]
        missing = tuple(s.id for s in subs[t.id] if s.quantity is None)
        gap = _gap(f"tasks[id={t.id}].quantity", t.quantity, parts, missing)
        if gap is not None:
            gaps.append(gap)
    return gaps


def _values(t: Target) -> Iterable[tuple[str, float]]:
    if t.annual is not None:
        yield "annual", t.annual
    yield from ((f"quarters.{q}", v) for q, v in sorted(t.quarters.items()))
    yield from ((f'months."{m}"', v) for m, v in sorted(t.months.items(), key=lambda i: int(i[0])))
    # one 旬 however each target writes it (3-D2, 3月中旬)
    yield from ((f'dekads."{m}-D{n}"', v) for (m, n), v in sorted(t.dekad_values().items()))


def _gap(
    where: str, parent: float, parts: list[tuple[str, float]], missing: tuple[str, ...]
) -> Split | None:
    if not parts:  # not split
        return None
    split = Split(where, parent, sum(v for _, v in parts), tuple(n for n, _ in parts), missing)
    return None if split.status == "adds_up" else split
