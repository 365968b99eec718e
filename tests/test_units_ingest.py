"""Units, tasks, progress reports and problems: config checks, files, versions, refusals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from ingest.errors import ConfigError, IngestError
from kpiwatch.config import Config
from tests.conftest import dump
from tests.units_helpers import UNITS_TOML, ingest, query, write

FILES = """
[[task_files]]
path = "tasks*.csv"
kind = "tasks"

[[task_files]]
path = "progress*.csv"
kind = "progress"

[[task_files]]
path = "problems*.csv"
kind = "problems"
"""

TASKS_CSV = """
task,title,unit,person,supporting,cadence,deadline,quantity,quantity_unit,parent
R1,示范道路整治,renewal,赵某,housing,week,2026-03-27,26,条,
R2,老旧小区改造开工,renewal,钱某,,周,2026-03-31,151,个,R1
H1,住房保障台账,housing,孙某,,month,2026-04-30,,,
"""


def test_units_that_are_not_regions_are_cross_checked(
    make_config: Callable[[str], Config],
) -> None:
    with pytest.raises(ConfigError) as info:
        make_config(
            UNITS_TOML
            + """
            [[units]]
            id = "west_coast"
            name = "西海岸"
            kind = "zone"

            [[units]]
            id = "loop_a"
            name = "A"
            kind = "zone"
            parent = "loop_b"
            task_force = "housing"
            supporting = ["nowhere"]

            [[units]]
            id = "loop_b"
            name = "B"
            kind = "zone"
            parent = "loop_a"

            [[tasks]]
            id = "T1"
            title = "x"
            unit = "atlantis"
            deadline = 2026-03-31
            parent = "T9"

            [[problems]]
            id = "P1"
            title = "y"
            unit = "renewal"
            task = "T2"
            raised = 2026-03-01
            due = 2026-03-10
            """
        )
    paths = {p.path for p in info.value.problems}
    assert paths >= {
        "units[id=west_coast].kind",
        "units[id=loop_a].parent",
        "units[id=loop_a].task_force",
        "units[id=loop_a].supporting",
        "tasks[id=T1].unit",
        "tasks[id=T1].parent",
        "problems[id=P1].task",
    }
    with pytest.raises(ConfigError) as dates:
        make_config(
            UNITS_TOML
            + """
            [[problems]]
            id = "P1"
            title = "y"
            unit = "renewal"
            raised = 2026-03-01
            due = 2026-02-01
            """
        )
    assert [p.path for p in dates.value.problems] == ["problems[id=P1]"]


def test_units_view_holds_configured_units_and_regions(
    make_config: Callable[[str], Config],
) -> None:
    config = make_config(UNITS_TOML)
    ingest(config)
    rows = query(config, "SELECT id, kind, parent, task_force, people FROM units ORDER BY id")
    assert ("renewal", "department", "tf3", "tf3", ["赵某", "钱某"]) in rows
    assert ("west_coast", "region", "CN", None, []) in rows
    assert len(rows) == 6


def test_task_files_load_with_versions_and_as_of(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    config = make_config(UNITS_TOML + FILES)
    write(tmp_path / "tasks.csv", TASKS_CSV)
    [outcome] = ingest(config, when="2026-03-01T09:00:00")
    assert outcome.error is None and outcome.report is not None
    assert outcome.report.rows_read == 3
    rows = query(config, "SELECT task, supporting, cadence, quantity, parent FROM tasks ORDER BY 1")
    assert rows == [
        ("H1", [], "month", None, None),
        ("R1", ["housing"], "week", 26.0, None),
        ("R2", [], "week", 151.0, "R1"),
    ]
    # A revised list: R1's deadline moves; the earlier version stays queryable.
    write(tmp_path / "tasks.csv", TASKS_CSV.replace("2026-03-27", "2026-04-10"))
    [again] = ingest(config, when="2026-03-15T09:00:00")
    assert again.error is None
    sql = "SELECT deadline FROM tasks_as_of(?) WHERE task = 'R1'"
    assert query(config, sql, [date(2026, 3, 10)]) == [(date(2026, 3, 27),)]
    assert query(config, sql, [date(2026, 3, 15)]) == [(date(2026, 4, 10),)]
    assert query(config, "SELECT count(*) FROM task_vintages") == [(4,)]


@pytest.mark.parametrize(
    ("row", "line", "field"),
    [
        ("R9,2026-03-06,3,,", 3, "task"),
        ("R1,2026-03-06,3,,\nR1,2026-03-06,4,,", 4, "date"),
        ("R1,2026-02-30,3,,", 3, "date"),
        ("R1,2026-03-06,-3,,", 3, "quantity"),
        ("R1,2026-03-06,,,", 3, "quantity"),
        ("R1,2026-03-06,,maybe,", 3, "done"),
    ],
)
def test_a_bad_report_refuses_the_file_and_leaves_the_store(
    make_config: Callable[[str], Config], tmp_path: Path, row: str, line: int, field: str
) -> None:
    config = make_config(UNITS_TOML + FILES)
    write(tmp_path / "tasks.csv", TASKS_CSV)
    ingest(config)
    before = dump(config.store_path)
    body = "task,date,quantity,done,note\nR1,2026-03-05,2,,\n" + row + "\n"
    path = write(tmp_path / "progress.csv", body)
    [outcome] = ingest(config, path)
    assert isinstance(outcome.error, IngestError)
    assert [(e.line, e.field) for e in outcome.error.errors] == [(line, field)]
    assert str(path) in str(outcome.error)
    assert dump(config.store_path) == before


def test_a_report_for_an_unknown_or_wrong_unit_refuses_the_file(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    config = make_config(UNITS_TOML + FILES)
    write(tmp_path / "tasks.csv", TASKS_CSV)
    ingest(config)
    path = write(
        tmp_path / "progress.csv",
        """
        日期,任务编号,责任单位,完成数量,是否完成,备注
        2026-03-06,R1,nowhere,3,否,
        2026-03-06,R2,idle_co,3,否,
        2026-03-06,H1,housing,,是,按期完成
        2026-03-13,R1,housing,2,否,配合单位报送
        """,
    )
    [outcome] = ingest(config, path)
    assert isinstance(outcome.error, IngestError)
    assert [(e.line, e.field, e.value) for e in outcome.error.errors] == [
        (2, "unit", "nowhere"),
        (3, "unit", "idle_co"),
    ]


def test_key_works_that_contain_themselves_are_refused(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    config = make_config(UNITS_TOML + FILES)
    write(tmp_path / "tasks.csv", TASKS_CSV)
    ingest(config)
    # R1 is stored as R2's key work; making R1 part of R2 closes a loop across loads.
    path = write(
        tmp_path / "tasks.csv",
        """
        task,title,unit,deadline,parent
        R1,示范道路整治,renewal,2026-03-27,R2
        S1,自身,renewal,2026-03-27,S1
        """,
    )
    [outcome] = ingest(config, path)
    assert isinstance(outcome.error, IngestError)
    assert [(e.line, e.field) for e in outcome.error.errors] == [(2, "parent"), (3, "parent")]
    with pytest.raises(ConfigError) as info:
        make_config(
            UNITS_TOML
            + """
            [[tasks]]
            id = "A"
            title = "a"
            unit = "renewal"
            deadline = 2026-03-31
            parent = "B"

            [[tasks]]
            id = "B"
            title = "b"
            unit = "renewal"
            deadline = 2026-03-31
            parent = "A"
            """
        )
    assert [p.path for p in info.value.problems] == ["tasks[id=A].parent", "tasks[id=B].parent"]


def test_unknown_and_missing_columns_are_refused(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    config = make_config(UNITS_TOML + FILES)
    path = write(tmp_path / "tasks.csv", "task,title,unit,dedline\nR1,x,renewal,2026-03-01\n")
    [outcome] = ingest(config, path)
    assert isinstance(outcome.error, IngestError)
    assert {(e.line, e.field) for e in outcome.error.errors} == {(1, "dedline"), (1, "deadline")}


def test_config_tasks_are_versioned_and_withdrawn(
    make_config: Callable[[str], Config],
) -> None:
    task = """
        [[tasks]]
        id = "C1"
        title = "道路整治"
        unit = "renewal"
        deadline = 2026-03-27
        """
    config = make_config(UNITS_TOML + task)
    ingest(config, when="2026-03-01T00:00:00")
    ingest(config, when="2026-03-02T00:00:00")  # unchanged: no new version
    assert query(config, "SELECT count(*) FROM task_loads") == [(1,)]
    config = make_config(UNITS_TOML)
    ingest(config, when="2026-03-05T00:00:00")
    assert query(config, "SELECT count(*) FROM tasks") == [(0,)]
    assert query(config, "SELECT task FROM tasks_as_of(DATE '2026-03-03')") == [("C1",)]


def test_a_workbook_of_problems_loads(make_config: Callable[[str], Config], tmp_path: Path) -> None:
    import openpyxl

    config = make_config(UNITS_TOML + FILES.replace("problems*.csv", "problems*.xlsx"))
    write(tmp_path / "tasks.csv", TASKS_CSV)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["问题编号", "问题", "责任单位", "任务编号", "提出日期", "解决时限", "解决日期"])
    sheet.append(["Q1", "拆迁协调", "renewal", "R1", date(2026, 3, 2), date(2026, 3, 10), None])
    sheet.append(["Q2", "资金拨付", "housing", None, date(2026, 3, 2), date(2026, 3, 20), None])
    book.save(tmp_path / "problems.xlsx")
    outcomes = ingest(config, when="2026-03-02T18:00:00")
    assert [o.error for o in outcomes] == [None, None]
    rows = query(
        config, "SELECT problem, status, days_overdue FROM problems_as_of(DATE '2026-03-15')"
    )
    assert sorted(rows) == [("Q1", "overdue", 5), ("Q2", "open", None)]
