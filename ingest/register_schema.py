"""Config models of a project register: [[registers]], its nodes, columns and counts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ingest.errors import Problem
from ingest.schema import Encoding, Id, Indicator, Limits, Strict


class Node(Strict):
    """One milestone of a project (一项目一图谱), in the order projects pass them."""

    id: Id
    name: str
    # the unit answering for this node on every project (else the project's own unit)
    unit: str | None = None


# Signed, the 7 key nodes of 一项目一图谱, started, completed.
DEFAULT_NODES: tuple[Node, ...] = tuple(
    Node(id=i, name=n)
    for i, n in (
        ("signed", "签约"),
        ("approval", "立项"),
        ("land", "土地"),
        ("planning", "规划许可"),
        ("eia", "环评"),
        ("design_budget", "概算批复"),
        ("drawings", "施工图审查"),
        ("permit", "施工许可"),
        ("started", "开工"),
        ("completed", "竣工"),
    )
)


class RegisterColumns(Strict):
    """Header texts of the register's columns (exactly as in the file).

    `projects` layout: the project columns, then per node `<node name><suffix>` for
    the planned, reported and (optional) confirmed dates and confirming person.
    `events` layout: the project columns repeated on each row, plus node and dates.
    """

    id: str = "项目编号"
    name: str = "项目名称"
    region: str = "区域"
    unit: str = "责任单位"
    supporting: str = "配合单位"
    investment: str = "总投资(亿元)"
    category: str = "类别"
    funds: str = "到位资金(亿元)"
    progress: str = "形象进度(%)"
    node: str = "节点"
    planned: str = "计划日期"
    reported: str = "实际日期"
    confirmed: str = "认定日期"
    confirmed_by: str = "认定人"
    planned_suffix: str = "计划"
    reported_suffix: str = "实际"
    confirmed_suffix: str = "认定"
    confirmed_by_suffix: str = "认定人"


class Count(Strict):
    """[[registers.counts]]: an indicator counted from the register, never typed in.

    Each month, the projects whose `node` happened in it (with at least
    `min_investment` 亿元), in the project's region and every region above it.
    """

    indicator: Id
    node: Id
    min_investment: float | None = Field(default=None, ge=0)
    # count a node only once the task force confirmed it (旬认定), on its confirmed date
    confirmed_only: bool = False


class Sum(Strict):
    """[[registers.sums]]: a monthly stock indicator over the listed projects.

    Each load writes the month it is known in, for each region and every one above: the
    funds in place (到位资金) or the planned investment summed, the mean physical
    progress (形象进度, %) of the projects reporting it, or the start rate (开工率, %):
    of the projects whose planned start has come by the load's day, those started.
    """

    indicator: Id
    field: Literal["funds", "investment", "progress", "start_rate"]


class Register(Strict):
    """[[registers]]: a file (or glob of files) of major projects and their node dates."""

    name: Id
    path: str
    layout: Literal["projects", "events"] = "projects"
    encoding: Encoding = "auto"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    sheet: str | None = None
    header_row: int = Field(default=1, ge=1)
    limits: Limits = Limits()
    columns: RegisterColumns = RegisterColumns()
    nodes: tuple[Node, ...] = DEFAULT_NODES
    # node pairs (earlier, later) whose dates may never be the other way round: a
    # completion before its start refuses the file (with the default nodes, always);
    # any other node done out of order is accepted and flagged in project_nodes
    strict_order: tuple[tuple[Id, Id], ...] = ()
    counts: tuple[Count, ...] = ()
    sums: tuple[Sum, ...] = ()
    # a project waiting at the same node longer than this is stuck
    stuck_after_days: int = Field(default=60, ge=1)
    illustrative: bool = False

    @model_validator(mode="after")
    def _check_nodes(self) -> Register:
        ids = [n.id for n in self.nodes]
        if not ids:
            raise ValueError("nodes: at least one node is needed")
        dups = sorted({i for i in ids if ids.count(i) > 1})
        if dups:
            raise ValueError(f"nodes defined more than once: {', '.join(dups)}")
        for node in (n for pair in self.strict_order for n in pair):
            if node not in ids:
                raise ValueError(f"strict_order names unknown node {node!r}")
        for count in self.counts:
            if count.node not in ids:
                raise ValueError(
                    f"counts[indicator={count.indicator}]: unknown node {count.node!r}"
                )
        for m in self.sums:
            if m.field == "start_rate" and "started" not in ids:
                raise ValueError(
                    f"sums[indicator={m.indicator}]: a start rate needs a node 'started'"
                )
        return self

    def node_ids(self) -> list[str]:
        return [n.id for n in self.nodes]

    def ordered_pairs(self) -> list[tuple[str, str]]:
        """The strict pairs, with started → completed whenever both nodes exist."""
        pairs = list(self.strict_order)
        ids = self.node_ids()
        if "started" in ids and "completed" in ids and ("started", "completed") not in pairs:
            pairs.append(("started", "completed"))
        return pairs


def check_registers(
    registers: tuple[Register, ...], indicators: dict[str, Indicator], sources: set[str]
) -> list[Problem]:
    """References of the registers: derived indicators, and names unique among sources."""
    problems: list[Problem] = []
    names = [r.name for r in registers]
    derived = [c.indicator for r in registers for c in r.counts]
    derived += [m.indicator for r in registers for m in r.sums]
    for r in registers:
        where = f"registers[name={r.name}]"
        if r.name in sources or names.count(r.name) > 1:
            problems.append(Problem(where, "name used more than once (registers and sources)"))
        wanted = [(f"{where}.counts", c.indicator, "flow") for c in r.counts]
        wanted += [(f"{where}.sums", m.indicator, "stock") for m in r.sums]
        for table, indicator, kind in wanted:
            at = f"{table}[indicator={indicator}]"
            problems += _check_derived(at, indicators.get(indicator), indicator, kind)
            if derived.count(indicator) > 1:
                problems.append(Problem(at, "indicator derived more than once"))
    return problems


def _check_derived(at: str, ind: Indicator | None, name: str, kind: str) -> list[Problem]:
    if ind is None:
        return [Problem(at, f"unknown indicator {name!r}")]
    if ind.kind != kind or ind.frequency != "monthly":
        return [Problem(at, f"must be a monthly {kind} indicator")]
    return []
