"""The project register: reading, refusing, versions, as-of, and the counts it derives."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError, IngestError
from ingest.grains import span_of
from ingest.register import parse_date
from tests.conftest import dump
from tests.register_helpers import (
    HEADER,
    load,
    project_line,
    query,
    register_config,
    write_register,
)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026-03-05", date(2026, 3, 5)),
        ("2026/3/5", date(2026, 3, 5)),
        ("2026年3月5日", date(2026, 3, 5)),
        ("２０２６年３月５日", date(2026, 3, 5)),
        ("2026.3.5", date(2026, 3, 5)),
        ("2026-03-05 00:00:00", date(2026, 3, 5)),
        ("46086", date(2026, 3, 5)),  # an Excel serial date
        ("46086.0", date(2026, 3, 5)),
        ("", None),
        ("—", None),
    ],
)
def test_dates_as_published(text: str, day: date | None) -> None:
    assert parse_date(text) == day


@pytest.mark.parametrize("text", ["2026", "2026-02-30", "46086.5", "3/5/2026", "2026-13-01"])
def test_not_dates(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date(text)


def test_counts_by_dekad_and_threshold(tmp_path: Path) -> None:
    config = register_config(tmp_path)
    path = write_register(
        tmp_path / "register.csv",
        [
            # started on the 10th: first 旬; on the 11th: second
            project_line("P1", started=("2026-03-10", "2026-03-10")),
            project_line("P2", region="董家口经济区", started=("2026-03-11", "2026/3/11")),
            # exactly 50 亿 counts under ≥ 1 and ≥ 50; 0.5 亿 under neither
            project_line("P3", investment="50", signed=("2026-01-05", "2026年1月5日")),
            project_line("P4", investment="0.5", signed=("2026-01-06", "46028")),
        ],
    )
    load(config, path, "2026-04-01")  # March has ended: the monthly counts include it
    dekads = query(
        config,
        "SELECT period, projects FROM project_counts WHERE indicator = 'projects_started' "
        "AND region = 'west_coast' AND frequency = 'dekad' ORDER BY period",
    )
    assert dekads == [("2026-03-D1", 1), ("2026-03-D2", 1)]
    signed = query(
        config,
        "SELECT indicator, projects FROM project_counts WHERE region = 'west_coast' "
        "AND frequency = 'month' AND indicator LIKE 'signed%' ORDER BY 1",
    )
    assert signed == [("signed_1", 1), ("signed_50", 1)]
    # ordinary observations, rolled up the region tree, zeros for months without events
    started = query(
        config,
        "SELECT region, period, value FROM observations_latest "
        "WHERE indicator = 'projects_started' ORDER BY 1, 2",
    )
    assert started == [
        ("dongjiakou", "2026-01", 0.0),
        ("dongjiakou", "2026-02", 0.0),
        ("dongjiakou", "2026-03", 1.0),
        ("ecopark", "2026-01", 0.0),
        ("ecopark", "2026-02", 0.0),
        ("ecopark", "2026-03", 1.0),
        ("west_coast", "2026-01", 0.0),
        ("west_coast", "2026-02", 0.0),
        ("west_coast", "2026-03", 2.0),
    ]


@pytest.mark.parametrize(
    ("day", "start", "end"),
    [
        ("2026-01-31", "2026-01-21", "2026-01-31"),  # a 31-day month's third 旬: 11 days
        ("2026-02-28", "2026-02-21", "2026-02-28"),  # February: 8 days
        ("2028-02-29", "2028-02-21", "2028-02-29"),  # leap February: 9 days
        ("2026-04-30", "2026-04-21", "2026-04-30"),
    ],
)
def test_third_dekad_lengths(tmp_path: Path, day: str, start: str, end: str) -> None:
    config = register_config(tmp_path)
    path = write_register(tmp_path / "register.csv", [project_line("P1", started=(day, day))])
    load(config, path, "2028-12-31")
    rows = query(
        config,
        "SELECT CAST(period_start AS VARCHAR), CAST(period_end AS VARCHAR) FROM project_counts "
        "WHERE frequency = 'dekad' AND region = 'ecopark'",
    )
    assert rows == [(start, end)]


def test_slipped_start_moves_the_count_and_keeps_the_old_version(tmp_path: Path) -> None:
    config = register_config(tmp_path)
    first = write_register(
        tmp_path / "register_03.csv",
        [project_line("P1", started=("2026-03-10", "2026-03-10"))],
    )
    load(config, first, "2026-03-10")
    # the reported start was corrected to the 12th, and completion planned later
    second = write_register(
        tmp_path / "register_04.csv",
        [project_line("P1", started=("2026-03-10", "2026-03-12"))],
    )
    report = load(config, second, "2026-03-25")
    assert (report.node_changes, report.new_projects, report.changed_projects) == (1, 0, 0)
    versions = query(
        config,
        "SELECT CAST(reported AS VARCHAR) FROM project_node_versions "
        "WHERE node = 'started' ORDER BY known_from",
    )
    assert versions == [("2026-03-10",), ("2026-03-12",)]
    now = "SELECT period FROM project_counts WHERE frequency = 'dekad' AND region = 'ecopark'"
    assert query(config, now) == [("2026-03-D2",)]
    then = (
        "SELECT period FROM project_counts_at(TIMESTAMP '2026-03-20') "
        "WHERE frequency = 'dekad' AND region = 'ecopark'"
    )
    assert query(config, then) == [("2026-03-D1",)]


def test_slipped_plan_is_visible(tmp_path: Path) -> None:
    config = register_config(tmp_path)
    load(
        config,
        write_register(
            tmp_path / "register_1.csv", [project_line("P1", started=("2026-04-01", ""))]
        ),
        "2026-03-01",
    )
    report = load(
        config,
        write_register(
            tmp_path / "register_2.csv", [project_line("P1", started=("2026-05-15", ""))]
        ),
        "2026-03-11",
    )
    assert report.slipped_nodes == 1
    rows = query(
        config,
        "SELECT CAST(planned AS VARCHAR), CAST(first_planned AS VARCHAR), slip_days "
        "FROM project_nodes WHERE node = 'started'",
    )
    assert rows == [("2026-05-15", "2026-04-01", 44)]


def test_loading_twice_changes_nothing(tmp_path: Path) -> None:
    config = register_config(tmp_path)
    path = write_register(
        tmp_path / "register.csv", [project_line("P1", signed=("2026-01-05", "2026-01-05"))]
    )
    load(config, path, "2026-03-01")
    before = dump(config.store_path)
    report = load(config, path, "2026-03-02")
    assert report.already_loaded == 1
    assert dump(config.store_path) == before


def test_missing_project_is_reported_and_kept(tmp_path: Path) -> None:
    config = register_config(tmp_path)
    load(
        config,
        write_register(tmp_path / "register_1.csv", [project_line("P1"), project_line("P2")]),
        "2026-03-01",
    )
    report = load(
        config, write_register(tmp_path / "register_2.csv", [project_line("P1")]), "2026-03-11"
    )
    assert report.missing == ["P2"]
    assert "no longer listed: P2" in report.summary()
    rows = query(config, "SELECT project, listed FROM projects ORDER BY 1")
    assert rows == [("P1", True), ("P2", False)]
    # as many projects listed as before, one of them new; then a late file with another
    lines = [project_line("P1"), project_line("P3")]
    assert load(
        config, write_register(tmp_path / "register_3.csv", lines), "2026-03-21"
    ).missing == ["P2"]
    lines = [project_line("P1"), project_line("P4")]
    late = load(config, write_register(tmp_path / "register_4.csv", lines), "2026-03-05")
    assert late.missing == ["P2", "P3"]


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        (
            project_line(
                "P9", started=("2026-03-01", "2026-03-05"), completed=("2026-12-01", "2026-03-01")
            ),
            "竣工实际",
            "before started",
        ),
        (project_line("P9", started=("2026-03-01", "2026-04-02")), "开工实际", "in the future"),
        (project_line("P9", region="火星"), "区域", "unknown region"),
        (project_line("P9", signed=("2026-02-30", "")), "签约计划", "not a date"),
        (project_line("P9", investment="十亿"), "总投资(亿元)", "not a number"),
        (project_line("P9", land=("2026-01-01", "", "2026-01-02")), "土地认定", "never reported"),
        (project_line("P1"), "项目编号", "listed twice"),
    ],
)
def test_bad_register_is_refused_whole(tmp_path: Path, line: str, field: str, reason: str) -> None:
    config = register_config(tmp_path)
    load(config, write_register(tmp_path / "register_1.csv", [project_line("P0")]), "2026-03-01")
    before = dump(config.store_path)
    bad = write_register(tmp_path / "register_2.csv", [project_line("P1"), line])
    with pytest.raises(IngestError) as caught:
        load(config, bad, "2026-03-20")
    error = caught.value.errors[0]
    assert (error.line, error.field) == (3, field)
    assert reason in error.reason
    assert str(bad) in str(caught.value)
    assert dump(config.store_path) == before


def test_node_done_out_of_order_is_accepted_and_flagged(tmp_path: Path) -> None:
    config = register_config(tmp_path)
    path = write_register(
        tmp_path / "register.csv",
        [
            project_line(
                "P1", land=("2026-02-01", "2026-02-20"), permit=("2026-03-01", "2026-02-10")
            )
        ],
    )
    load(config, path, "2026-03-20")
    rows = query(config, "SELECT node, out_of_order FROM project_nodes WHERE actual IS NOT NULL")
    assert sorted(rows) == [("land", False), ("permit", True)]


def test_events_layout_gbk_with_unknown_node(tmp_path: Path) -> None:
    config = register_config(tmp_path, layout="events")
    head = "项目编号,项目名称,区域,责任单位,总投资(亿元),节点,计划日期,实际日期,认定日期,认定人"
    rows = [
        "P1,一号,中德生态园,发改局,60,签约,2026-01-05,2026-01-05,2026-01-08,张三",
        "P1,一号,中德生态园,发改局,60,started,2026-03-01,2026-03-02,,",
    ]
    path = tmp_path / "register.csv"
    path.write_text("\n".join([head, *rows]) + "\n", encoding="gbk")
    load(config, path, "2026-03-20")
    got = query(
        config,
        "SELECT node, state, confirmed_by FROM project_nodes "
        "WHERE actual IS NOT NULL ORDER BY position",
    )
    assert got == [("signed", "confirmed", "张三"), ("started", "reported", None)]
    bad = tmp_path / "register_2.csv"
    bad.write_text(
        "\n".join([head, rows[0], "P1,一号,中德生态园,发改局,60,拆迁,,,,"]) + "\n", encoding="gbk"
    )
    with pytest.raises(IngestError) as caught:
        load(config, bad, "2026-03-20")
    assert (caught.value.errors[0].line, caught.value.errors[0].field) == (3, "节点")


def test_confirmed_only_count_waits_for_confirmation(tmp_path: Path) -> None:
    config = register_config(tmp_path)
    path = write_register(
        tmp_path / "register.csv",
        [
            project_line(
                "P1", started=("2025-01-01", "2025-01-02"), completed=("2026-03-01", "2026-03-02")
            ),
            project_line(
                "P2",
                started=("2025-01-01", "2025-01-02"),
                completed=("2026-03-01", "2026-03-02", "2026-03-12"),
            ),
        ],
    )
    load(config, path, "2026-03-20")
    rows = query(
        config,
        "SELECT period, projects FROM project_counts WHERE indicator = "
        "'projects_completed' AND region = 'ecopark' AND frequency = 'dekad'",
    )
    assert rows == [("2026-03-D2", 1)]  # on its confirmed date; P2 only


def test_workbook_dates_and_serials(tmp_path: Path) -> None:
    config = register_config(tmp_path, extra="").model_copy()
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    row: list[object] = ["P1", "一号", "中德生态园", "发改局", 50]
    row += [date(2026, 1, 5), 46027, None] + [None] * 6 + ["2026/3/10", "2026年3月10日", None]
    sheet.append(row + [None] * 3)
    path = tmp_path / "register.xlsx"
    book.save(path)
    load(config, path, "2026-03-20")
    got = query(
        config,
        "SELECT node, CAST(actual AS VARCHAR) FROM project_nodes "
        "WHERE actual IS NOT NULL ORDER BY position",
    )
    assert got == [("signed", "2026-01-05"), ("started", "2026-03-10")]


@settings(max_examples=12)
@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)))
def test_dekad_counts_follow_the_calendar(
    tmp_path_factory: pytest.TempPathFactory, day: date
) -> None:
    tmp = tmp_path_factory.mktemp("dekad")
    config = register_config(tmp)
    text = day.isoformat()
    load(
        config,
        write_register(tmp / "register.csv", [project_line("P1", started=(text, text))]),
        "2031-01-01",
    )
    rows = query(
        config,
        "SELECT frequency, period, period_start, period_end FROM project_counts "
        "WHERE region = 'ecopark'",
    )
    for frequency, period, start, end in rows:
        grain = "dekad" if frequency == "dekad" else frequency
        span = span_of(day, grain)
        assert (period, start, end) == (span.label, span.start, span.end)


def test_month_in_progress_is_not_an_observation(tmp_path: Path) -> None:
    config = register_config(tmp_path)
    path = write_register(
        tmp_path / "register.csv", [project_line("P1", started=("2026-03-10", "2026-03-10"))]
    )
    load(config, path, "2026-03-31")  # March not over: judged against its pace, 0 would lie
    months = query(
        config,
        "SELECT period, value FROM observations_latest WHERE region = 'ecopark' "
        "AND indicator = 'projects_started' ORDER BY 1",
    )
    assert months == [("2026-01", 0.0), ("2026-02", 0.0)]
    # the month and 旬 in progress are counted in project_counts
    assert query(config, "SELECT count(*) FROM project_counts WHERE period = '2026-03-D1'") == [
        (2,)
    ]


def test_a_later_register_adds_months_to_the_counts(tmp_path: Path) -> None:
    config = register_config(tmp_path)
    lines = [project_line("P1", started=("2026-01-10", "2026-01-10"))]
    load(config, write_register(tmp_path / "register_1.csv", lines), "2026-02-15")
    lines.append(project_line("P2", started=("2026-02-20", "2026-02-20")))
    load(config, write_register(tmp_path / "register_2.csv", lines), "2026-03-15")
    months = query(
        config,
        "SELECT period, value FROM observations_latest WHERE region = 'west_coast' "
        "AND indicator = 'projects_started' ORDER BY 1",
    )
    assert months == [("2026-01", 1.0), ("2026-02", 1.0)]


PARITY_LINES = [
    project_line("P1", investment="50", signed=("2026-01-05", "2026年1月5日", "2026-01-08")),
    project_line("P2", region="董家口经济区", investment='"1,200"', land=("2026-02-01", "")),
    project_line("P3", started=("2026-03-10", "2026/3/12"), completed=("2027-01-01", "")),
    project_line("P4", region="west_coast", permit=("2026-03-01", "46082")),
]


def _stored(config_dir: Path, suffix: str) -> dict[str, list[tuple[object, ...]]]:
    """A register loaded from a CSV (read by DuckDB) or a workbook (read row by row)."""
    config_dir.mkdir()
    config = register_config(config_dir)
    path = config_dir / f"register{suffix}"
    if suffix == ".csv":
        write_register(path, PARITY_LINES)
    else:
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        for line in [HEADER, *PARITY_LINES]:
            sheet.append(next(csv.reader([line])))
        book.save(path)
    load(config, path, "2026-03-20")
    views = ("project_nodes", "projects", "project_counts", "observations_latest")
    return {
        v: query(
            config,
            f"SELECT * EXCLUDE (file) FROM {v} ORDER BY ALL"
            if v == "observations_latest"
            else f"SELECT * FROM {v} ORDER BY ALL",
        )
        for v in views
    }


def test_csv_and_workbook_registers_read_alike(tmp_path: Path) -> None:
    csv_store = _stored(tmp_path / "csv", ".csv")
    book_store = _stored(tmp_path / "xlsx", ".xlsx")
    assert csv_store["project_nodes"] and csv_store["observations_latest"]
    assert csv_store == book_store


SUMS = """
[[indicators]]
id = "funds_in_place"
name = "到位资金"
unit = "亿元"
kind = "stock"

[[registers.sums]]
indicator = "funds_in_place"
field = "funds"
"""


def test_funds_in_place_are_a_stock_indicator(tmp_path: Path) -> None:
    config = register_config(tmp_path, extra=SUMS)
    head = HEADER + ",到位资金(亿元)"
    first = [head, project_line("P1") + ",2.5", project_line("P2", region="董家口经济区") + ",1"]
    (tmp_path / "register_1.csv").write_text("\n".join(first) + "\n", encoding="utf-8")
    load(config, tmp_path / "register_1.csv", "2026-03-10")
    # P2 is no longer listed in April: its funds no longer count
    second = [head, project_line("P1") + ",4"]
    (tmp_path / "register_2.csv").write_text("\n".join(second) + "\n", encoding="utf-8")
    load(config, tmp_path / "register_2.csv", "2026-04-05")
    rows = query(
        config,
        "SELECT region, period, value FROM observations_latest "
        "WHERE indicator = 'funds_in_place' ORDER BY 1, 2",
    )
    assert rows == [
        ("dongjiakou", "2026-03", 1.0),
        ("ecopark", "2026-03", 2.5),
        ("ecopark", "2026-04", 4.0),
        ("west_coast", "2026-03", 3.5),
        ("west_coast", "2026-04", 4.0),
    ]


RATES = """
[[indicators]]
id = "start_rate"
name = "开工率"
unit = "%"
kind = "stock"

[[indicators]]
id = "progress"
name = "形象进度"
unit = "%"
kind = "stock"

[[registers.sums]]
indicator = "start_rate"
field = "start_rate"

[[registers.sums]]
indicator = "progress"
field = "progress"
"""


def test_start_rate_and_progress_are_stock_indicators(tmp_path: Path) -> None:
    config = register_config(tmp_path, extra=RATES)
    head = HEADER + ",形象进度(%)"
    lines = [
        head,  # on 10 March: P1 and P2 due to start, P1 started; P4 not due yet
        project_line("P1", started=("2026-03-01", "2026-03-02")) + ",40",
        project_line("P2", started=("2026-03-05", "")) + ",60",
        project_line("P3", region="董家口经济区", started=("2026-03-08", "2026-03-09")) + ",30",
        project_line("P4", region="董家口经济区", started=("2026-04-01", "")) + ",",
    ]
    (tmp_path / "register_1.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    load(config, tmp_path / "register_1.csv", "2026-03-10")
    rows = query(
        config,
        "SELECT indicator, region, period, round(value, 2) FROM observations_latest "
        "WHERE indicator IN ('start_rate', 'progress') ORDER BY 1, 2",
    )
    assert rows == [
        ("progress", "dongjiakou", "2026-03", 30.0),  # P4 reports none
        ("progress", "ecopark", "2026-03", 50.0),
        ("progress", "west_coast", "2026-03", 43.33),  # (40 + 60 + 30) / 3
        ("start_rate", "dongjiakou", "2026-03", 100.0),
        ("start_rate", "ecopark", "2026-03", 50.0),
        ("start_rate", "west_coast", "2026-03", 66.67),  # 2 started of 3 due, not a mean
    ]


OTHER = """
[[registers]]
name = "other"
path = "other.csv"
{}
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[[registers.sums]]\nindicator = "projects_started"\nfield = "funds"\n', "stock"),
        (OTHER.format('counts = [{indicator = "projects_started", node = "started"}]'), "once"),
        (OTHER.format('counts = [{indicator = "nothing", node = "started"}]'), "unknown"),
        (OTHER.format('counts = [{indicator = "signed_1", node = "nothing"}]'), "unknown node"),
        (OTHER.format("").replace('"other"', '"major"'), "used more than once"),
        (
            OTHER.format(
                'nodes = [{id = "signed", name = "签约"}]\n'
                'sums = [{indicator = "signed_1", field = "start_rate"}]'
            ),
            "needs a node 'started'",
        ),
    ],
)
def test_derived_indicators_are_checked(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        register_config(tmp_path, extra="\n" + extra)
