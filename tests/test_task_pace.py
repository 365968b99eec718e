"""Quantity tasks behind pace at their cadence, period by period, on the escalation ladder;
every judged period held by Hypothesis to a direct reading of the rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from ingest.grains import Grain, spans
from ingest.store import open_store
from kpiwatch import app, unit_render
from kpiwatch.config import Config
from metrics import task_pace, unit_list
from metrics.task_status import TaskScoring, install
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


FIRST = date(2025, 12, 1)
Report = tuple[int, float | None, bool]  # day offset, quantity, done


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_store(tmp_path_factory.mktemp("pace") / "store.duckdb")
    install(con, TaskScoring())
    con.execute(task_pace.MACRO)
    con.execute(
        "INSERT INTO task_loads VALUES (0, 'tasks', 'f', '', '2025-01-01', now(), 1, 1, 0, 0)"
    )
    yield con
    con.close()


def _expected(
    cadence: Grain, start: date, deadline: date, target: float, reports: list[Report], as_of: date
) -> list[tuple[str, date, float, float, str]]:
    """Each period from the start's to the deadline's that ended before the day: due the
    target prorated by days to its end (or the deadline), done what was reported by then."""
    rows = []
    for span in spans(start, min(deadline, as_of), cadence):
        if span.end >= as_of:
            continue
        cutoff = min(span.end, deadline)
        upto = [(q, done) for day, q, done in reports if FIRST + timedelta(days=day) <= cutoff]
        done_quantity = sum(q or 0.0 for q, _ in upto)
        due = target * min(1, ((cutoff - start).days + 1) / ((deadline - start).days + 1))
        behind = done_quantity < due and not any(done for _, done in upto)
        rows.append((span.label, span.end, due, done_quantity, "behind" if behind else "on_track"))
    return rows


@settings(deadline=None, max_examples=40)
@given(
    st.sampled_from(task_pace.CADENCES),
    st.integers(0, 60),
    st.integers(0, 150),
    st.sampled_from([1.0, 7.5, 26.0]),
    st.dictionaries(
        st.integers(0, 240),
        st.tuples(
            st.sampled_from([None, 0.0, 0.5, 2.0, 4.0]), st.sampled_from([False] * 8 + [True])
        ),
        max_size=20,
    ),
    st.integers(0, 260),
)
def test_each_period_is_judged_by_what_was_reported_by_its_end(
    store: duckdb.DuckDBPyConnection,
    cadence: Grain,
    start_day: int,
    length: int,
    target: float,
    reported: dict[int, tuple[float | None, bool]],
    as_of_day: int,
) -> None:
    start, as_of = FIRST + timedelta(days=start_day), FIRST + timedelta(days=as_of_day)
    deadline = start + timedelta(days=length)
    reports = [(day, q, done) for day, (q, done) in sorted(reported.items())]
    store.execute("DELETE FROM task_vintages")
    store.execute("DELETE FROM report_vintages")
    store.execute(
        "INSERT INTO task_vintages VALUES ('T', 't', 'u', '', [], ?, ?, ?, ?, '', NULL, false, "
        "0, 1, NULL)",
        [cadence, start, deadline, target],
    )
    for day, q, done in reports:
        store.execute(
            "INSERT INTO report_vintages VALUES ('T', ?, ?, ?, '', 0, 1, NULL)",
            [FIRST + timedelta(days=day), q, done],
        )
    got = store.execute(
        "SELECT period, period_end, due, done_quantity, status FROM task_pace_as_of(?) "
        "ORDER BY period_end",
        [as_of],
    ).fetchall()
    assert got == _expected(cadence, start, deadline, target, reports, as_of)
