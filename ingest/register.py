"""Read a project register (CSV or workbook) into checked project and node rows.

Two layouts: `projects` (one row per project, planned/reported/confirmed dates per node
in columns) and `events` (one row per project × node). Either way every problem of the
file is collected with its line and field, and the file is refused whole if any.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache, lru_cache
from pathlib import Path

from ingest.errors import IngestError, RowError
from ingest.readers import read_grid
from ingest.register_schema import Register
from ingest.schema import Columns, Region, Source
from ingest.text import clean_text

# Excel's day 0 (serials count from 1899-12-30, after Lotus' 1900 leap-year bug).
_EXCEL_EPOCH = date(1899, 12, 30)
# Serials read as dates only within 1990..2099: a bare year like 2026 is not a date.
_SERIALS = (32874, 73050)
_DATE = re.compile(
    r"^(\d{4})\s*(?:[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})|年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?)"
    r"(?:[ T]00:00(?::00)?)?$"
)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


@dataclass(frozen=True)
class ProjectRow:
    """A project as one register states it."""

    project: str
    name: str
    region: str
    unit: str
    supporting: str
    investment: float | None
    category: str
    funds: float | None
    progress: float | None
    line: int


@dataclass(frozen=True)
class NodeRow:
    """One node of one project: planned, reported and confirmed dates."""

    project: str
    node: str
    planned: date | None
    reported: date | None
    confirmed: date | None
    confirmed_by: str
    line: int


@dataclass(frozen=True)
class RegisterRows:
    """A register file, read and checked."""

    projects: list[ProjectRow]
    nodes: list[NodeRow]
    rows_read: int


@lru_cache(maxsize=65536)
def parse_date(text: str) -> date | None:
    """A date as registers publish it: 2026-03-05, 2026/3/5, 2026年3月5日, an Excel serial."""
    clean = unicodedata.normalize("NFKC", text).strip()
    if not clean or clean in {"-", "—", "/"}:
        return None
    found = _DATE.match(clean)
    if found:
        y, m1, d1, m2, d2 = found.groups()
        try:
            return date(int(y), int(m1 or m2), int(d1 or d2))
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a date on the calendar ({exc})") from exc
    if _NUMBER.match(clean):
        serial = float(clean)
        if serial == math.floor(serial) and _SERIALS[0] <= serial <= _SERIALS[1]:
            return _EXCEL_EPOCH + timedelta(days=int(serial))
        raise ValueError(f"{text!r} is not a date (an Excel serial date is a whole number)")
    raise ValueError(f"{text!r} is not a date (e.g. 2026-03-05, 2026/3/5, 2026年3月5日)")


def read_register(
    path: Path, register: Register, regions: Sequence[Region], today: date
) -> RegisterRows:
    """Read and check a register file; raise IngestError naming every bad cell."""
    grid = read_grid(path, _as_source(register))
    header = next((cells for line, cells in grid if line == register.header_row), None)
    if header is None:
        raise IngestError(str(path), [RowError(register.header_row, "header", "", "no header")])
    reader = _Reader(register, header, region_names(regions), today)
    rows = [(line, cells) for line, cells in grid if line > register.header_row and any(cells)]
    if not reader.errors:
        for line, cells in rows:
            reader.read_row(line, cells)
        reader.check_orders()
    if reader.errors:
        raise IngestError(str(path), reader.errors[:1000], len(reader.errors))
    return RegisterRows(list(reader.projects.values()), list(reader.nodes.values()), len(rows))


def _as_source(register: Register) -> Source:
    """The grid reader's view of a register: encoding, delimiter and sheet."""
    return Source(
        name=register.name,
        path=register.path,
        layout="wide",
        encoding=register.encoding,
        delimiter=register.delimiter,
        sheet=register.sheet,
        columns=Columns(key=register.columns.id),
        limits=register.limits,
    )


def region_names(regions: Sequence[Region]) -> dict[str, str]:
    """Region id, name and aliases (as clean_text leaves them) → region id."""
    names: dict[str, str] = {}
    for r in regions:
        for text in (r.id, r.name, *r.aliases):
            names[clean_text(text)] = r.id
    return names


def node_id(register: Register, text: str) -> str | None:
    """The node a cell of the events layout names (its id or its name), if any."""
    clean = unicodedata.normalize("NFKC", text).strip()
    for n in register.nodes:
        if clean in (n.id, unicodedata.normalize("NFKC", n.name)):
            return n.id
    return None


def unknown_node(register: Register) -> str:
    """The reason a cell naming no node of the register is refused."""
    return "unknown node; the register's nodes: " + ", ".join(
        f"{n.id}/{n.name}" for n in register.nodes
    )


def read_number(text: str) -> float:
    """A number as registers write it (thousands separators and full width allowed)."""
    clean = unicodedata.normalize("NFKC", text.replace(",", "")).strip()
    if not _NUMBER.match(clean):
        raise ValueError("not a number")
    return float(clean)


class _Reader:
    """Turns cells into rows, collecting every problem of the file."""

    def __init__(
        self, register: Register, header: list[str], regions: dict[str, str], today: date
    ) -> None:
        self.register, self.regions, self.today = register, regions, today
        self.line = register.header_row
        self.errors: list[RowError] = []
        self.projects: dict[str, ProjectRow] = {}
        self.nodes: dict[tuple[str, str], NodeRow] = {}
        self.col = {name: i for i, name in enumerate(header) if name}
        c = register.columns
        need = [c.id, c.region] + ([c.node] if register.layout == "events" else [])
        if register.layout == "projects":
            need += [n.name + s for n in register.nodes for s in (c.planned_suffix,)]
            need += [n.name + c.reported_suffix for n in register.nodes]
        for name in need:
            if name not in self.col:
                shown = ", ".join(h for h in header if h)
                self._error(self.line, name, shown, f"no column named {name!r} in the header")

    def _error(self, line: int, field: str, value: str, reason: str) -> None:
        self.errors.append(RowError(line, field, value, reason))

    def cell(self, row: list[str], name: str) -> str:
        i = self.col.get(name)
        return row[i] if i is not None and i < len(row) else ""  # cells come stripped

    def read_row(self, line: int, row: list[str]) -> None:
        project = self._project(line, row)
        if project is None:
            return
        if self.register.layout == "projects":
            for node in self.register.nodes:
                self._node(line, row, project.project, node.id)
        else:
            c = self.register.columns
            text = self.cell(row, c.node)
            found = self._node_id(text)
            if found is None:
                self._error(line, c.node, text, unknown_node(self.register))
                return
            self._node(line, row, project.project, found)

    def _node_id(self, text: str) -> str | None:
        return node_id(self.register, text)

    def _project(self, line: int, row: list[str]) -> ProjectRow | None:
        c = self.register.columns
        pid = self.cell(row, c.id)
        if not pid:
            self._error(line, c.id, "", "a project needs an id")
            return None
        region_text = self.cell(row, c.region)
        region = self.regions.get(clean_text(region_text))
        if region is None:
            self._error(line, c.region, region_text, "unknown region (not in [[regions]])")
            return None
        project = ProjectRow(
            pid,
            self.cell(row, c.name),
            region,
            self.cell(row, c.unit),
            self.cell(row, c.supporting),
            self._number(line, row, c.investment, None),
            self.cell(row, c.category),
            self._number(line, row, c.funds, None),
            self._number(line, row, c.progress, 100.0),
            line,
        )
        return self._keep_project(project)

    def _keep_project(self, project: ProjectRow) -> ProjectRow | None:
        earlier = self.projects.get(project.project)
        if earlier is None:
            self.projects[project.project] = project
            return project
        if self.register.layout == "projects":
            reason = f"project listed twice (first on line {earlier.line})"
        elif _same(earlier, project):
            return earlier
        else:
            reason = f"project details differ from line {earlier.line}"
        self._error(project.line, self.register.columns.id, project.project, reason)
        return None

    def _number(self, line: int, row: list[str], name: str, most: float | None) -> float | None:
        text = self.cell(row, name)
        if not text:
            return None
        try:
            value = read_number(text)
        except ValueError as exc:
            self._error(line, name, text, str(exc))
            return None
        if value < 0 or (most is not None and value > most):
            bound = f"0 to {most:g}" if most is not None else "0 or more"
            self._error(line, name, text, f"out of range ({bound})")
            return None
        return value

    def _node(self, line: int, row: list[str], pid: str, node: str) -> None:
        names = self._fields(node)
        texts = [self.cell(row, n) for n in names]
        if not any(texts):  # most nodes of most rows: nothing to read
            return
        planned, reported, confirmed = (
            self._date(line, n, t) for n, t in zip(names[:3], texts[:3], strict=True)
        )
        for name, day in ((names[1], reported), (names[2], confirmed)):
            if day is not None and day > self.today:
                self._error(line, name, day.isoformat(), f"in the future (after {self.today})")
        if confirmed is not None and reported is None:
            self._error(line, names[2], str(confirmed), "confirmed, but never reported")
        if (pid, node) in self.nodes:
            first = self.nodes[(pid, node)].line
            reason = f"node listed twice (first on line {first})"
            self._error(line, self.register.columns.node, node, reason)
            return
        self.nodes[(pid, node)] = NodeRow(pid, node, planned, reported, confirmed, texts[3], line)

    def _date(self, line: int, name: str, text: str) -> date | None:
        try:
            return parse_date(text)
        except ValueError as exc:
            self._error(line, name, text, str(exc))
            return None

    def check_orders(self) -> None:
        """Refuse a later node dated before an earlier one of a strict pair."""
        for first, then in self.register.ordered_pairs():
            for pid in self.projects:
                a, b = self.nodes.get((pid, first)), self.nodes.get((pid, then))
                if a is None or b is None:
                    continue
                for i, kind in ((0, "planned"), (1, "reported")):
                    da, db = getattr(a, kind), getattr(b, kind)
                    if da is not None and db is not None and db < da:
                        reason = f"{then} {kind} before {first} {kind} ({da})"
                        self._error(b.line, self._fields(then)[i], db.isoformat(), reason)

    @cache  # noqa: B019 - one reader per file, a handful of nodes
    def _fields(self, node: str) -> tuple[str, str, str, str]:
        """Header texts of a node's planned, reported, confirmed and confirmed-by cells."""
        c = self.register.columns
        if self.register.layout == "events":
            return c.planned, c.reported, c.confirmed, c.confirmed_by
        label = next(n.name for n in self.register.nodes if n.id == node)
        suffixes = (c.planned_suffix, c.reported_suffix, c.confirmed_suffix)
        return (*(label + s for s in suffixes), label + c.confirmed_by_suffix)  # type: ignore[return-value]


def _same(a: ProjectRow, b: ProjectRow) -> bool:
    """Two rows of the events layout agree on the project's details."""
    return a.__dict__ | {"line": 0} == b.__dict__ | {"line": 0}
