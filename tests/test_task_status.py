"""Task statuses, weekly pace and unit scores, checked by hand; the week calendar held to
ingest.grains by Hypothesis."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.grains import span_of, spans
from ingest.store import MIGRATIONS, open_store
from ingest.task_tables import SUPERSEDED
from kpiwatch.config import Config, load_config
from metrics.task_status import TaskScoring, install
from tests.conftest import BASE_TOML
from tests.units_helpers import ingest, load_lists, query, write


@pytest.fixture
def listed(make_config: Callable[[str], Config], tmp_path: Path) -> Callable[[str], Config]:
    return lambda extra="": load_lists(make_config, tmp_path, extra)


@pytest.fixture(scope="module")
def lists(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """The lists loaded once, for the tests that only read them."""
    tmp = tmp_path_factory.mktemp("lists")

    def make(extra: str) -> Config:
        (tmp / "config.toml").write_text(BASE_TOML + extra, encoding="utf-8")
        return load_config(tmp / "config.toml")

    return load_lists(make, tmp)


def status(config: Config, day: str) -> dict[str, tuple[object, ...]]:
    rows = query(
        config,
        "SELECT task, status, days_late, days_left, done_quantity, weekly_pace, weeks_left, "
        "required_per_week FROM task_status_as_of(CAST(? AS DATE))",
        [day],
    )
    return {str(r[0]): r[1:] for r in rows}


def test_done_saturday_for_a_friday_deadline_is_done_late(lists: Config) -> None:
    s = status(lists, "2026-03-30")
    assert s["R_late"][:3] == ("done_late", 1, None)
    assert s["H1"][:3] == ("done", None, None)
    assert s["R_over"][:3] == ("overdue", 10, None)
    assert s["R_soon"][:3] == ("due_soon", None, 2)
    assert s["R_qty"][:2] == ("overdue", 3)
    # The day before the Saturday report, the task was overdue by one day.
    assert status(lists, "2026-03-28")["R_late"][:2] == ("done_late", 1)
    assert status(lists, "2026-03-27")["R_late"][:3] == ("due_soon", None, 0)


def test_weekly_pace_and_required_rate_per_remaining_week(lists: Config) -> None:
    # Sunday 1 February 2026: weeks W02..W05 elapsed (8 roads: 2 a week); W06..W13 left
    # for the other 18: 2.25 a week.
    s = status(lists, "2026-02-01")["R_qty"]
    assert s == ("on_time", None, 54, 8.0, 2.0, 8, 2.25)
    # Wednesday 4 February: W06 has days left, so it still counts (8 weeks), and it is
    # the fifth week elapsed.
    s = status(lists, "2026-02-04")["R_qty"]
    assert s[3:] == (8.0, 8.0 / 5, 8, 2.25)


def test_a_revised_report_counts_from_when_it_was_known(
    listed: Callable[[], Config], tmp_path: Path
) -> None:
    config = listed()
    # 2 roads reported for the week of 16 January become 20 on 10 February: the target
    # of 26 is then reached by the report of 30 January (3 + 20 + 1 + 2), before the
    # deadline; what was known on 9 February still says 8.
    write(tmp_path / "progress.csv", "task,date,quantity,done,note\nR_qty,2026-01-16,20,,\n")
    assert [o.error for o in ingest(config, when="2026-02-10T08:00:00")] == [None]
    sql = "SELECT status, done_quantity, done_on FROM task_status_as_of(CAST(? AS DATE))"
    sql += " WHERE task = 'R_qty'"
    assert query(config, sql, ["2026-02-09"]) == [("on_time", 8.0, None)]
    assert query(config, sql, ["2026-02-10"]) == [("done", 26.0, date(2026, 1, 30))]
    cumulative = "SELECT cumulative FROM task_progress WHERE task = 'R_qty' ORDER BY report_date"
    assert [r[0] for r in query(config, cumulative)] == [3.0, 23.0, 24.0, 26.0]
    # A store written before versions recorded their successor learns them on opening.
    con = duckdb.connect(str(config.store_path))
    for table in ("task_vintages", "report_vintages", "problem_vintages"):
        con.execute(f"ALTER TABLE {table} DROP COLUMN superseded_from")
    version = next(v for v, sql in MIGRATIONS if sql == SUPERSEDED)
    con.execute("DELETE FROM schema_version WHERE version = ?", [version])
    con.close()
    assert query(config, sql, ["2026-02-09"]) == [("on_time", 8.0, None)]
    assert query(config, sql, ["2026-02-10"]) == [("done", 26.0, date(2026, 1, 30))]


def test_a_quantity_reached_after_the_deadline_is_done_late_by_its_days(
    listed: Callable[[], Config], tmp_path: Path
) -> None:
    config = listed()
    rows = "R_qty,2026-03-20,10,,\nR_qty,2026-03-31,5,,\nR_qty,2026-04-03,3,,\nR_qty,2026-04-10,9,,"
    write(tmp_path / "progress.csv", "task,date,quantity,done,note\n" + rows + "\n")
    assert [o.error for o in ingest(config, when="2026-01-01T00:00:00")] == [None]
    sql = "SELECT status, days_late, done_quantity, done_on FROM task_status_as_of(?)"
    sql += " WHERE task = 'R_qty'"
    # 8 by 30 January + 10 = 18 by the deadline (27 March); 23 on 31 March; 26 on 3 April.
    assert query(config, sql, [date(2026, 4, 30)]) == [("done_late", 7, 35.0, date(2026, 4, 3))]
    assert query(config, sql, [date(2026, 4, 1)]) == [("overdue", 5, 23.0, None)]


def test_behind_pace_at_the_end_of_the_last_week_or_dekad(lists: Config) -> None:
    config = lists
    sql = (
        "SELECT checked_through, round(due_at_check, 3), behind_pace "
        "FROM task_status_as_of(CAST(? AS DATE)) WHERE task = ?"
    )
    # Weekly R_qty (26 from Mon 5 January to Fri 27 March, 82 days): on Sunday 1 February
    # the week just ended, 28 days in: 26 × 28/82 = 8.878 due, 8 done.
    assert query(config, sql, ["2026-02-01", "R_qty"]) == [(date(2026, 2, 1), 8.878, True)]
    # Wednesday 4 February: the current week has not ended; the check is still Sunday's.
    assert query(config, sql, ["2026-02-04", "R_qty"]) == [(date(2026, 2, 1), 8.878, True)]
    # Y1 by 旬 (10 from 29 December 2025 to 16 January, 19 days, 2 done): on 4 January the
    # last ended 旬 is 下旬 of December (3 days in, 1.579 due); on 12 January 上旬 (13 days,
    # 6.842 due).
    assert query(config, sql, ["2026-01-04", "Y1"]) == [(date(2025, 12, 31), 1.579, False)]
    assert query(config, sql, ["2026-01-12", "Y1"]) == [(date(2026, 1, 10), 6.842, True)]
    # Non-quantity tasks are never behind pace.
    assert query(config, sql, ["2026-03-30", "R_over"])[0][1:] == (None, False)


def test_weeks_across_a_year_boundary(lists: Config) -> None:
    config = lists
    # 2025-12-29 is the Monday of ISO week 2026-W01 (the Thursday is 1 January 2026).
    s = status(config, "2026-01-04")["Y1"]
    assert s == ("on_time", None, 12, 2.0, 2.0, 2, 4.0)
    rows = query(config, "SELECT week, week_start, week_month FROM task_progress WHERE task='Y1'")
    assert rows == [("2026-W01", date(2025, 12, 29), 1)]


def test_a_unit_with_no_tasks_is_not_ranked_first(listed: Callable[[str], Config]) -> None:
    sql = (
        "SELECT unit, due, done, overdue, overdue_problems, round(score, 3), rank_in_parent "
        "FROM unit_scores_as_of(DATE '2026-03-30') WHERE parent = 'tf3' ORDER BY unit"
    )
    rows = query(listed(), sql)
    # renewal: 3 due (R_late, R_over, R_qty), 1 done late, 2 overdue, 1 overdue problem:
    # 100 × (0.5 × 1/3 + 0.5 × 0) − 1 × 2 − 2 × 1 = 12.667.
    assert rows == [
        # housing: H1 done on time, Y1 overdue: 100 × (0.5 × 1/2 + 0.5 × 1/2) − 1 = 49.
        ("housing", 2, 1, 1, 0, 49.0, 1),
        ("idle_co", 0, 0, 0, 0, None, None),
        ("renewal", 3, 1, 2, 1, 12.667, 2),
    ]
    scored = query(listed("[task_scoring]\nno_due_score = 40\n"), sql)
    assert [(r[0], r[6]) for r in scored] == [("housing", 1), ("idle_co", 2), ("renewal", 3)]


def test_a_task_force_is_scored_over_the_units_below_it(lists: Config) -> None:
    sql = (
        "SELECT unit, due, tree_due, tree_done, tree_done_on_time, tree_overdue, "
        "tree_overdue_problems, score, round(tree_score, 3), rank_in_parent "
        "FROM unit_scores_as_of(DATE '2026-03-30') "
        "WHERE unit IN ('CN', 'west_coast', 'tf3', 'housing') ORDER BY unit"
    )
    # tf3 holds no task itself; below it renewal (3 due, 1 done late, 2 overdue, 1 problem
    # overdue), housing (2 due, 1 done on time, 1 overdue) and idle_co (none):
    # 100 × (0.5 × 2/5 + 0.5 × 1/5) − 1 × 3 − 2 × 1 = 25, and so for the regions above.
    assert query(lists, sql) == [
        ("CN", 0, 5, 2, 1, 3, 1, None, 25.0, 1),
        ("housing", 2, 2, 1, 1, 1, 0, 49.0, 49.0, 1),
        ("tf3", 0, 5, 2, 1, 3, 1, None, 25.0, 1),
        ("west_coast", 0, 5, 2, 1, 3, 1, None, 25.0, 1),
    ]


# -- the week calendar, held to ingest.grains ------------------------------------------

DAYS = st.dates(min_value=date(2020, 1, 1), max_value=date(2032, 12, 31))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_store(tmp_path_factory.mktemp("weeks") / "store.duckdb")
    install(con, TaskScoring())
    con.execute(
        "INSERT INTO task_loads VALUES (1, 'tasks', 'f', 'x', '2000-01-01', now(), 0, 0, 0, 0)"
    )
    yield con
    con.close()


def _one_task(con: duckdb.DuckDBPyConnection, start: date, deadline: date) -> None:
    con.execute("DELETE FROM task_vintages")
    con.execute("DELETE FROM report_vintages")
    con.execute(
        "INSERT INTO task_vintages VALUES ('T', 't', 'u', '', [], 'week', ?, ?, 100, '', "
        "NULL, false, 1, 1, NULL)",
        [start, deadline],
    )


@given(DAYS)
def test_a_reports_week_is_the_calendars(store: duckdb.DuckDBPyConnection, day: date) -> None:
    _one_task(store, day, day)
    store.execute("INSERT INTO report_vintages VALUES ('T', ?, 1, false, '', 1, 2, NULL)", [day])
    [(label, start, month)] = store.execute(
        "SELECT week, week_start, week_month FROM task_progress"
    ).fetchall()
    span = span_of(day, "week")
    assert (label, start, month) == (span.label, span.start, span.month[1])


@given(DAYS, st.integers(0, 400), st.integers(0, 400))
def test_weeks_elapsed_and_left_cover_the_task(
    store: duckdb.DuckDBPyConnection, start: date, until: int, length: int
) -> None:
    deadline = start + timedelta(days=length)
    as_of = start + timedelta(days=min(until, length - 1)) if length else start
    _one_task(store, start, deadline)
    [(left,)] = store.execute("SELECT weeks_left FROM task_status_as_of(?)", [as_of]).fetchall()
    # weeks_elapsed is weekly_pace's divisor: done 1 per report day → recover it.
    store.execute("INSERT INTO report_vintages VALUES ('T', ?, 1, false, '', 1, 2, NULL)", [start])
    [(pace,)] = store.execute("SELECT weekly_pace FROM task_status_as_of(?)", [as_of]).fetchall()
    elapsed = round(1 / pace)
    assert elapsed == len(list(spans(start, as_of, "week")))
    after = [s for s in spans(start, deadline, "week") if s.end > as_of]
    assert left == (len(after) if as_of < deadline else 0)


# -- the CLI ---------------------------------------------------------------------------

KPIWATCH = str(Path(sys.executable).parent / "kpiwatch")


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KPIWATCH, *args], capture_output=True, text=True, cwd=cwd)


def test_units_verb_prints_a_list_worst_first_and_the_ranking(lists: Config) -> None:
    tmp_path = lists.store_path.parent
    done = run(tmp_path, "units", "--unit", "renewal", "--as-of", "2026-03-30")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "score 12.7, rank 2 of 2 under tf3" in text
    order = [text.index(t) for t in ("R_over", "R_qty", "R_late", "R_soon")]
    assert order == sorted(order)  # overdue (10, then 3 days), done late, due soon
    assert "10 days late" in text and "8/26 条" in text
    assert "P1" in text and "拆迁协调" in text  # the overdue problem
    ranking = run(tmp_path, "units", "--as-of", "2026-03-30")
    assert ranking.returncode == 0, ranking.stderr
    lines = [line for line in ranking.stdout.splitlines() if line.startswith("│ tf3 ")]
    assert [next(u for u in ("housing", "renewal", "idle_co") if u in x) for x in lines] == [
        "housing",
        "renewal",
        "idle_co",
    ]


def test_units_verb_refuses_an_unknown_unit_in_one_line(lists: Config) -> None:
    tmp_path = lists.store_path.parent
    done = run(tmp_path, "units", "--unit", "atlantis")
    assert done.returncode == 1
    assert done.stderr.strip() == "unknown unit 'atlantis': `kpiwatch units` lists them"
    assert "Traceback" not in done.stderr
