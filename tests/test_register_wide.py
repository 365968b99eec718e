"""Registers stored one row per project version: node lists that change, late files,
absences, the one-pass reading of plain files, and stores migrated from the narrow tables."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import astuple
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import IngestError
from ingest.register import parse_date
from ingest.register_fast import plain_date, stage_wide
from ingest.register_schema import Register
from ingest.register_store import RegisterReport, load_register
from ingest.store import open_store
from kpiwatch.config import Config
from tests.register_helpers import (
    HEADER,
    narrow,
    project_line,
    query,
    register_config,
    two_tables,
    write_register,
)
from tests.test_register_current import PAIRS

ORDER = ("signed", "land", "permit", "started", "completed")
P1 = {"signed": ("2026-01-05", "2026-01-05"), "started": ("2026-03-01", "")}


def _load(
    config: Config,
    path: Path,
    known: str,
    nodes: tuple[str, ...] = ORDER,
    register: Register | None = None,
) -> RegisterReport:
    """Load with the register's nodes in the given order (a node left out is unconfigured),
    or as the register given."""
    if register is None:
        base = config.registers[0]
        by_id = {n.id: n for n in base.nodes}
        register = base.model_copy(update={"nodes": tuple(by_id[n] for n in nodes)})
    con = open_store(config.store_path)
    try:
        return load_register(
            con,
            path,
            register,
            config.indicator_map(),
            config.regions,
            [register],
            known_from=datetime.fromisoformat(known),
        )
    finally:
        con.close()


def _tables(config: Config, tables: tuple[str, ...]) -> dict[str, Counter[tuple[object, ...]]]:
    return {t: Counter(query(config, f"SELECT * FROM {t}")) for t in tables}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, list[RegisterReport]]:
    """Nodes reordered, a node unconfigured then back, a project absent then back, and a
    late file that brings one node's version known after the latest one of that node."""
    tmp = tmp_path_factory.mktemp("wide")
    config = register_config(tmp)
    p1 = project_line("P1", completed=("2026-12-01", ""), **P1)
    p2 = project_line("P2", signed=("2026-02-01", "2026-02-03"))
    reports = [
        _load(config, write_register(tmp / "register_1.csv", [p1]), "2026-03-01"),
        _load(config, write_register(tmp / "register_2.csv", [p1, p2]), "2026-04-01", ORDER[::-1]),
        _load(config, write_register(tmp / "register_3.csv", [p1, ""]), "2026-05-01", ORDER[:4]),
    ]
    p1_back = project_line("P1", completed=("2026-12-15", ""), **P1)
    reports.append(
        _load(config, write_register(tmp / "register_4.csv", [p1_back, p2]), "2026-06-01")
    )
    late = project_line(
        "P1", completed=("2026-12-01", ""), **(P1 | {"started": ("2026-03-01", "2026-03-02")})
    )
    reports.append(_load(config, write_register(tmp / "register_5.csv", [late, p2]), "2026-04-15"))
    return config, reports


def _node(config: Config, relation: str, node: str) -> list[tuple[object, ...]]:
    sql = f"SELECT planned, reported FROM {relation} WHERE project = 'P1' AND node = '{node}'"
    return query(config, sql)


def test_a_reordered_node_list_reads_every_node_as_before(
    store: tuple[Config, list[RegisterReport]],
) -> None:
    config, reports = store
    assert (reports[1].node_changes, reports[1].changed_projects, reports[1].new_projects) == (
        1,
        0,
        1,
    )
    then = "project_node_latest_at(TIMESTAMP '2026-04-02')"
    assert _node(config, then, "signed") == [(date(2026, 1, 5), date(2026, 1, 5))]
    assert _node(config, then, "completed") == [(date(2026, 12, 1), None)]


def test_a_node_left_out_of_the_list_is_cleared_and_comes_back(
    store: tuple[Config, list[RegisterReport]],
) -> None:
    config, reports = store
    assert reports[2].node_changes == 1 and reports[2].missing == ["P2"]
    cleared = "project_node_latest_at(TIMESTAMP '2026-05-02')"
    assert _node(config, cleared, "completed") == [(None, None)]
    assert reports[3].node_changes == 1 and reports[3].slipped_nodes == 0
    assert _node(config, "node_rows_current", "completed") == [(date(2026, 12, 15), None)]
    # P2, absent then back unchanged, has one version
    assert reports[3].new_projects == 0 and reports[3].changed_projects == 0
    assert query(config, "SELECT count(*) FROM project_versions WHERE project = 'P2'") == [(1,)]


def test_a_late_file_replaces_only_the_nodes_known_earlier(
    store: tuple[Config, list[RegisterReport]],
) -> None:
    config, reports = store
    # its completed date is history (June's is known later); its start report is newer
    # than March's, the latest version of that node
    assert reports[4].node_changes == 2
    assert _node(config, "node_rows_current", "completed") == [(date(2026, 12, 15), None)]
    assert _node(config, "node_rows_current", "started") == [(date(2026, 3, 1), date(2026, 3, 2))]
    assert query(config, "SELECT count(*) FROM node_rows WHERE project = 'P1'") == [(7,)]


@pytest.mark.parametrize(("kept", "resolved"), PAIRS)
def test_kept_latest_equals_every_version_resolved(
    store: tuple[Config, list[RegisterReport]], kept: str, resolved: str
) -> None:
    config = store[0]
    assert query(config, f"({kept}) EXCEPT ALL ({resolved})") == []
    assert query(config, f"({resolved}) EXCEPT ALL ({kept})") == []


READERS = [
    "project_rows",
    "node_rows",
    "project_rows_current",
    "node_rows_current",
    "project_versions",
    "project_node_versions",
    "projects",
    "project_nodes",
    "project_counts",
    "project_count_events",
    "project_counts_at(TIMESTAMP '2026-04-20')",
    "project_node_latest_at(TIMESTAMP '2026-04-20')",
]


def _rows(path: Path, relation: str) -> Counter[tuple[object, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return Counter(con.execute(f"SELECT * FROM {relation}").fetchall())
    finally:
        con.close()


def _assert_migrates_to_the_same_rows(
    config: Config, tmp_path: Path, older_form: Callable[[duckdb.DuckDBPyConnection], None] = narrow
) -> None:
    """A copy of the store, put back into the tables an older store holds (the narrow
    ones, or the two wide ones), reads the same rows in every reader once opened
    (migrated)."""
    older = tmp_path / f"older_{older_form.__name__}.duckdb"
    shutil.copy(config.store_path, older)
    con = duckdb.connect(str(older))
    try:
        older_form(con)
    finally:
        con.close()
    open_store(older).close()
    for relation in READERS:
        assert _rows(older, relation) == _rows(config.store_path, relation), relation


def test_a_store_of_narrow_tables_is_migrated_to_the_same_rows(
    store: tuple[Config, list[RegisterReport]], tmp_path: Path
) -> None:
    config = store[0]
    _assert_migrates_to_the_same_rows(config, tmp_path)


def test_a_store_of_two_wide_tables_is_migrated_to_the_same_rows(
    store: tuple[Config, list[RegisterReport]], tmp_path: Path
) -> None:
    """Its latest states become merged rows; the next files replace them as any other."""
    _assert_migrates_to_the_same_rows(store[0], tmp_path, two_tables)
    # the next files (in order, then late) load the same into both
    stores = []
    for name in ("newer", "older_two_tables"):
        path = tmp_path / f"{name}.duckdb"
        if name == "newer":
            shutil.copy(store[0].store_path, path)
        stores.append(_with_store(store[0], path))
    for known, planned in (("2026-07-01", "2026-12-20"), ("2026-04-20", "2026-12-30")):
        p1 = project_line("P1", completed=(planned, ""), **P1)
        path = write_register(tmp_path / f"next_{known}.csv", [p1])
        reports = [astuple(_load(c, path, known)) for c in stores]
        assert reports[0] == reports[1]
    for relation in READERS:
        assert _rows(stores[1].store_path, relation) == _rows(stores[0].store_path, relation)


def _with_store(config: Config, path: Path) -> Config:
    return config.model_copy(update={"store": config.store.model_copy(update={"path": str(path)})})


# Records as an editor shows them: an empty line, a name with a quoted line break, a
# record of empty cells, a region written in full-width letters (its id).
_ODD_LINES = [
    project_line("P1", investment="50", completed=("2026年12月1日", ""), **P1),
    "",
    project_line("P2", investment=".5", land=("2026/2/1", "2026/2/03", "2026-2-4")).replace(
        "项目P2", '"项目\nP2"'
    ),
    "," * (HEADER.count(",")),
    project_line("P3", "ｅｃｏｐａｒｋ", "+7", permit=("2026-02-10", "2026-02-10")),
]


def test_plain_files_read_in_one_pass_equal_those_read_cell_by_cell(tmp_path: Path) -> None:
    """An Excel serial sends a file down the cell-by-cell path: the rows must not differ."""
    stores = []
    for name, first in (("plain", "2026-01-05"), ("serial", "46027")):
        (tmp_path / name).mkdir()
        config = register_config(tmp_path / name)
        text = [_ODD_LINES[0].replace("2026-01-05", first, 1), *_ODD_LINES[1:]]
        _load(config, write_register(tmp_path / "register.csv", text), "2026-03-01")
        stores.append(config.store_path)
    for relation in READERS:
        assert _rows(stores[0], relation) == _rows(stores[1], relation), relation


def test_one_pass_numbers_the_lines_an_editor_shows(tmp_path: Path) -> None:
    config = register_config(tmp_path)
    register = config.registers[0]
    path = write_register(tmp_path / "register.csv", [*_ODD_LINES, "", ""])
    con = duckdb.connect()
    today = date(2026, 3, 1)
    assert stage_wide(con, path, register, list(config.regions), today, register.node_ids()) == 3
    rows = con.execute("SELECT project, line, region FROM incoming_wide ORDER BY line").fetchall()
    assert rows == [("P1", 2, "ecopark"), ("P2", 4, "ecopark"), ("P3", 7, "ecopark")]


def test_columns_named_like_the_reads_inner_names_do_not_stand_in_for_them(
    tmp_path: Path,
) -> None:
    """A register may carry any extra column, even one headed planned_0 or
    INVESTMENT_TEXT: the node dates and the investment stay those of their own columns."""
    config = register_config(tmp_path)
    register = config.registers[0]
    path = tmp_path / "register.csv"
    lines = [project_line("P1", investment="50", **P1) + ",2020-01-01,999"]
    path.write_text(
        "\n".join([HEADER + ",planned_0,INVESTMENT_TEXT", *lines]) + "\n", encoding="utf-8"
    )
    con = duckdb.connect()  # read in one pass, not cell by cell
    assert stage_wide(con, path, register, list(config.regions), date(2026, 3, 1), ORDER) == 1
    _load(config, path, "2026-03-01")
    rows = query(
        config,
        "SELECT p.investment, n.planned FROM project_rows_current p "
        "JOIN node_rows_current n USING (register, project) WHERE n.node = 'signed'",
    )
    assert rows == [(50.0, date(2026, 1, 5))]


def test_a_value_under_a_column_with_no_header_refuses_the_file(tmp_path: Path) -> None:
    config = register_config(tmp_path)
    path = tmp_path / "register.csv"
    lines = [project_line("P1", **P1) + ",", project_line("P2", **P1) + ",x"]
    path.write_text("\n".join([HEADER + ",", *lines]) + "\n", encoding="utf-8")
    with pytest.raises(IngestError) as err:
        _load(config, path, "2026-03-01")
    assert [(e.line, e.field, e.value) for e in err.value.errors] == [(3, "column 21", "x")]
    assert query(config, "SELECT count(*) FROM loads") == [(0,)]


_DATE_TEXT = st.text(alphabet="0123456789-/.年月日 \tT:+aE", min_size=6, max_size=12)


@settings(deadline=None, max_examples=300)
@given(
    texts=st.lists(
        _DATE_TEXT | st.dates().map(lambda d: f"{d.year:04d}-{d.month}-{d.day}"),
        min_size=1,
        max_size=20,
    )
)
def test_dates_read_in_sql_are_read_as_in_python(texts: list[str]) -> None:
    con = duckdb.connect()
    rows = con.execute(f"SELECT t, {plain_date('t')} FROM unnest(?) AS x(t)", [texts]).fetchall()
    for text, day in rows:
        if day is None or day.year < 1000:
            continue  # the cell-by-cell path reads it (or names it as bad)
        assert parse_date(text) == day, text


def test_events_keep_each_node_line_and_migrate(tmp_path: Path) -> None:
    """A node's own line (its record's), a cleared node on its project's first line."""
    head = "项目编号,项目名称,区域,责任单位,总投资(亿元),节点,计划日期,实际日期,认定日期,认定人"
    rows = [
        "P1,一号,中德生态园,发改局,60,签约,2026-01-05,2026-01-05,2026-01-08,张三",
        "P2,二号,董家口经济区,工信局,5,土地,2026-02-01,,,",
        "P1,一号,中德生态园,发改局,60,started,2026-03-01,2026/3/2,,",
    ]
    config = register_config(tmp_path, layout="events")
    for i, (lines, known) in enumerate(((rows, "2026-03-20"), (rows[:2], "2026-04-01"))):
        path = tmp_path / f"register_{i}.csv"
        path.write_text("\n".join([head, *lines]) + "\n", encoding="utf-8")
        _load(config, path, known)
    stored = (
        "SELECT node, line, reported FROM node_rows WHERE project = 'P1' ORDER BY load_id, node"
    )
    assert query(config, stored) == [
        ("signed", 2, date(2026, 1, 5)),
        ("started", 4, date(2026, 3, 2)),
        ("started", 2, None),  # cleared by the second file
    ]
    _assert_migrates_to_the_same_rows(config, tmp_path)


def test_the_register_tables_follow_the_config_of_each_load(tmp_path: Path) -> None:
    """Nodes, settings and counts as configured when each file loads (kept when equal)."""
    config = register_config(tmp_path)
    base = config.registers[0]
    assert base.counts, "the test register counts something"
    changed = base.model_copy(
        update={"stuck_after_days": base.stuck_after_days + 7, "counts": base.counts[:-1]}
    )
    tables = ("register_nodes", "register_settings", "register_counts", "register_sums")
    seen = []
    for i, register in enumerate((base, changed, changed, base)):
        planned = {"completed": (f"2026-12-0{i + 1}", "")}  # a new file each time
        path = write_register(tmp_path / f"r{i}.csv", [project_line("P1", **P1, **planned)])
        _load(config, path, f"2026-03-0{i + 1}", register=register)
        seen.append(_tables(config, tables))
        counts = {(c.indicator, c.node, c.min_investment) for c in register.counts}
        assert {(r[0], r[2], r[3]) for r in seen[-1]["register_counts"]} == counts
        assert set(seen[-1]["register_settings"]) == {
            (register.name, register.stuck_after_days, register.illustrative)
        }
    assert seen[0] == seen[3] != seen[1] == seen[2]
