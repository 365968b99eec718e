"""Terminal tables for `kpiwatch units`: one unit's list, or the ranking of units."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from rich.table import Table
from rich.text import Text

from metrics.ladder import LEVELS
from metrics.unit_list import UnitList

STYLE = {
    "overdue": "bold red",
    "done_late": "yellow",
    "due_soon": "bold yellow",
    "on_time": "blue",
    "done": "green",
    "open": "yellow",
    "behind": "bold red",
    "at_risk": "bold yellow",
    "on_track": "bold blue",
    "no_data": "dim",
}


def _table(columns: Sequence[str], title: str, rows: Iterable[Sequence[object]]) -> Table:
    """A table whose cells are plain text (config and file texts are never markup)."""
    table = Table(*columns, title=Text(title))
    for row in rows:
        table.add_row(
            *(c if isinstance(c, Text) else Text("" if c is None else str(c)) for c in row)
        )
    return table


def _status(name: object) -> Text:
    return Text(str(name), style=STYLE.get(str(name), ""))


def _pct(value: object) -> str:
    return "" if value is None else f"{float(value):.0%}"  # type: ignore[arg-type]


def _num(value: object, digits: int = 1) -> str:
    return "" if value is None else f"{float(value):.{digits}f}"  # type: ignore[arg-type]


def ranking_table(
    rows: Sequence[dict[str, object]], as_of: date, levels: Sequence[str] = LEVELS
) -> Table:
    """Units by parent and rank (by the score with the units below); units with nothing
    due are shown unranked. `ladder` is the unit's highest level on the escalation
    ladder, in the configured words."""
    return _table(
        ("parent", "rank", "unit", "name", "kind", "due", "done", "on time", "overdue",
         "problems overdue", "score", "with units below", "ladder"),
        f"units as of {as_of}",
        (
            (r["parent"] or "", r["rank_in_parent"] or "–", r["unit"], r["name"], r["kind"],
             r["due"], _pct(r["completion_rate"]), _pct(r["on_time_rate"]), r["overdue"],
             r["overdue_problems"], _num(r["score"]), _num(r["tree_score"]),
             levels[int(str(r["ladder"]))] if r.get("ladder") else "")
            for r in rows
        ),
    )  # fmt: skip


def _tree(u: dict[str, object]) -> str:
    """The score with the units below, where there are any that have tasks."""
    if u["tree_tasks"] == u["tasks"]:
        return ""
    return f" ({_num(u['tree_score']) or '–'} with the units below: {u['tree_due']} due)"


def _progress(t: dict[str, object]) -> str:
    if t["quantity"] is None:
        return ""
    done = f"{_num(t['done_quantity'], 0)}/{_num(t['quantity'], 0)} {t['quantity_unit'] or ''}"
    parts = [done.strip()]
    if t["weekly_pace"] is not None:
        parts.append(f"{_num(t['weekly_pace'], 2)}/week")
    if t["required_per_week"] is not None:
        parts.append(f"needs {_num(t['required_per_week'], 2)}/week for {t['weeks_left']} weeks")
    return ", ".join(parts)


def _days(t: dict[str, object]) -> str:
    if t["days_late"] is not None:
        return f"{t['days_late']} day{'s' * (t['days_late'] != 1)} late"
    return (
        "" if t["days_left"] is None else f"{t['days_left']} day{'s' * (t['days_left'] != 1)} left"
    )


def unit_tables(found: UnitList, as_of: date) -> list[Table | Text]:
    """The unit's heading, then its tasks, supporting tasks, open problems and indicators."""
    u = found.unit
    rank = f"rank {u['rank_in_parent']} of {found.siblings}" if u["rank_in_parent"] else "unranked"
    head = Text(
        f"{u['unit']} {u['name']} ({u['kind']}) as of {as_of}: score {_num(u['score']) or '–'}"
        f"{_tree(u)}, {rank} under {u['parent'] or '–'}; {u['due']} due, completion "
        f"{_pct(u['completion_rate']) or '–'}, on time {_pct(u['on_time_rate']) or '–'}, "
        f"{u['overdue']} overdue, {u['overdue_problems']} problems overdue"
    )
    cols = ("status", "task", "title", "person", "deadline", "days", "progress")
    tasks = _table(cols, "tasks", _task_rows(found.tasks))
    parts: list[Table | Text] = [head, tasks]
    if found.supporting:
        parts.append(_table(cols, "supporting", _task_rows(found.supporting)))
    parts.append(
        _table(
            ("status", "problem", "title", "task / project", "raised", "due", "days overdue"),
            "open problems",
            (
                (
                    _status(p["status"]),
                    p["problem"],
                    p["title"],
                    p["task"] or p["project"],
                    p["raised"],
                    p["due"],
                    p["days_overdue"],
                )
                for p in found.problems
            ),
        )
    )
    if found.indicators:
        parts.append(
            _table(
                ("status", "indicator", "region", "as of", "attainment", "why"),
                "indicators",
                (
                    (
                        _status(i["status"]),
                        i["indicator_name"],
                        i["region_name"],
                        i["as_of"],
                        _attainment(i),
                        i["reason"],
                    )
                    for i in found.indicators
                ),
            )
        )
    if found.escalations:
        parts.append(_escalation_table(found.escalations))
    if found.projects:
        parts.append(
            _table(
                ("project", "name", "region", "nodes done", "overdue", "days late", "waiting at"),
                "projects",
                (
                    (
                        p["project"],
                        p["name"],
                        p["region"],
                        p["nodes_done"],
                        p["nodes_overdue"],
                        p["worst_days_late"],
                        _waiting(p),
                    )
                    for p in found.projects
                ),
            )
        )
    return parts


def _waiting(p: dict[str, object]) -> str:
    if p["waiting_at_name"] is None:
        return ""
    stuck = ", stuck" if p["stuck"] else ""
    return f"{p['waiting_at_name']} for {p['waiting_days']} days{stuck}"


def _task_rows(tasks: Sequence[dict[str, object]]) -> Iterable[Sequence[object]]:
    for t in tasks:
        yield (
            _status(t["status"]),
            t["task"],
            t["title"],
            t["person"],
            t["deadline"],
            _days(t),
            _progress(t),
        )


def _attainment(i: dict[str, object]) -> str:
    att = i["attainment"]
    if att is None:
        return ""
    return f"{float(att):+.2f} pp" if i["kind"] == "growth" else f"{float(att):.1%}"  # type: ignore[arg-type]


def _escalation_table(rows: Sequence[dict[str, object]]) -> Table:
    """The unit's items on the ladder (通报 → 约谈 → 问责), highest level first."""
    return _table(
        ("level", "item", "kind", "since", "how"),
        "escalation",
        (
            (
                e["level_name"],
                e["item"],
                e["item_kind"],
                e["reached_period"],
                "behind after a talk" if e["by_talk"] else "",
            )
            for e in rows
        ),
    )
