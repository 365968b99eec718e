"""The register board as terminal tables (the `kpiwatch projects` verb)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rich.table import Table
from rich.text import Text

from metrics.projects import Supervision

SHOWN = 30  # rows of each list; the unit summary counts them all


def _table(title: str, *columns: str, rows: Iterable[Iterable[object]]) -> Table:
    """A table whose cells and title are shown as typed (never read as rich markup)."""
    shown = Table(*columns, title=Text(title))
    for row in rows:
        shown.add_row(*(Text("" if c is None else str(c)) for c in row))
    return shown


def tables(board: Supervision) -> Iterator[Table | Text]:
    """Targets by 旬, the unit summary, overdue nodes, stuck projects, starts due this 旬."""
    yield _dekads(board)
    yield _table(
        f"responsible units, as of {board.as_of.isoformat()}",
        "unit",
        "overdue nodes",
        "worst (days)",
        "projects",
        "reported, unconfirmed",
        rows=board.units,
    )
    yield _table(
        f"overdue nodes, worst first ({len(board.overdue)})",
        *("unit", "project", "name", "region", "node", "planned", "days late", "slipped (days)"),
        rows=board.overdue[:SHOWN],
    )
    yield _table(
        f"stuck projects ({len(board.stuck)})",
        *("unit", "project", "name", "region", "waiting at", "for (days)"),
        rows=board.stuck[:SHOWN],
    )
    yield _table(
        f"due to start in {board.dekad.name} ({board.dekad.start} … {board.dekad.end}), "
        f"not started ({len(board.due_not_started)})",
        *("unit", "project", "name", "region", "planned"),
        rows=board.due_not_started[:SHOWN],
    )
    if not (board.units or board.overdue or board.stuck or board.due_not_started):
        yield Text("nothing overdue, stuck or due (is a register loaded? kpiwatch ingest)")


def _dekads(board: Supervision) -> Table:
    rows = (
        (
            c.indicator,
            c.region,
            c.dekad.name,
            c.actual,
            f"{c.pace:.1f}",
            "" if c.attainment is None else f"{c.attainment:.1%}",
            c.status,
        )
        for c in board.dekads
    )
    return _table(
        "targets by 旬 (旬调度): counted to each 旬's end, against the pace",
        *("indicator", "region", "旬", "done", "pace", "attainment", "status"),
        rows=rows,
    )
