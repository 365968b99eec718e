"""Quantity tasks behind pace at their cadence, period by period, on the escalation ladder."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from rich.console import Console

from ingest.store import open_store
from kpiwatch import app, unit_render
from kpiwatch.config import Config
from metrics import unit_list
from tests.units_helpers import load_lists, query


def test_periods_behind_pace_climb_the_ladder(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    config = load_lists(make_config, tmp_path)
    con = open_store(config.store_path)
    try:
        app.escalations_with(con, config)
    finally:
        con.close()
    # R_qty: 26 roads from Monday 5 January to Friday 27 March (82 days), weekly; 3, 2, 1
    # and 2 reported in the first four weeks. Due by 25 January: 26 × 21/82 = 6.66 > 6.
    paced = query(
        config,
        "SELECT period, round(due, 2), done_quantity, status "
        "FROM task_pace_as_of(DATE '2026-02-09') WHERE task = 'R_qty' ORDER BY period_end",
    )
    assert paced == [
        ("2026-W02", 2.22, 3.0, "on_track"),
        ("2026-W03", 4.44, 5.0, "on_track"),
        ("2026-W04", 6.66, 6.0, "behind"),
        ("2026-W05", 8.88, 8.0, "behind"),
        ("2026-W06", 11.1, 8.0, "behind"),
    ]
    levels = query(
        config,
        "SELECT item, period, level FROM escalation_history WHERE item_kind = 'task_pace' "
        "ORDER BY item, period_end",
    )
    assert levels[:5] == [
        ("R_qty", "2026-W02", 0),
        ("R_qty", "2026-W03", 0),
        ("R_qty", "2026-W04", 1),
        ("R_qty", "2026-W05", 2),
        ("R_qty", "2026-W06", 3),
    ]
    # Y1 by 旬 from 29 December to 16 January: 2 of 10 by the first 旬's end is on pace
    # (3/19 of the way), not by the next two (the last judged at the deadline)
    assert [r for r in levels if r[0] == "Y1"] == [
        ("Y1", "2025-12-D3", 0),
        ("Y1", "2026-01-D1", 1),
        ("Y1", "2026-01-D2", 2),
    ]
    con = open_store(config.store_path)
    try:
        rows = unit_list.ranking(con, date(2026, 2, 9))
    finally:
        con.close()
    # the ranking of units shows each one's highest level: R_qty's 问责, Y1's 约谈
    ranked = {r["unit"]: r["ladder"] for r in rows}
    assert (ranked["renewal"], ranked["housing"], ranked["idle_co"]) == (3, 2, 0)
    console = Console(width=240, record=True)
    console.print(unit_render.ranking_table(rows, date(2026, 2, 9)))
    lines = console.export_text().splitlines()
    assert "ladder" in next(line for line in lines if "parent" in line)
    assert "问责" in next(line for line in lines if "renewal" in line)
