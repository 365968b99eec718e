"""Rules of the store: idempotent loads, vintages, all-or-nothing, the Jan–Feb arithmetic."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from ingest import validate
from ingest.errors import IngestError
from ingest.store import MIGRATIONS, open_store, schema_version
from kpiwatch.config import Config
from tests.conftest import BASE_TOML, dump
from tests.ingest_helpers import load, value

GOOD = """period,region,indicator,value
2026年1-2月,west_coast,projects_started,150
2026年3月,west_coast,projects_started,107
2026年4月,west_coast,projects_started,40
2026年1-2月,west_coast,fai,120
2026年3月,west_coast,fai,200
"""
SOURCE = """
[[sources]]
name = "sample"
path = "data.csv"
layout = "long"
measure = "value"
columns = { period = "period", region = "region", series = "indicator", value = "value" }
"""


@pytest.fixture
def config(make_config: Callable[[str], Config]) -> Config:
    return make_config(SOURCE)


def write(config: Config, text: str, name: str = "data.csv") -> Path:
    path = config.base_dir / name
    path.write_text(text, encoding="utf-8")
    return path


def test_loading_the_same_file_twice_changes_nothing(config: Config) -> None:
    path = write(config, GOOD)
    first = load(config, path)
    before = dump(config.store_path)
    second = load(config, path)
    assert (first.new, first.revised, first.unchanged) == (5, 0, 0)
    assert second.already_loaded == first.load_id and second.load_id is None
    assert dump(config.store_path) == before
    # The same figures in another file are classified, and are all unchanged.
    copy = load(config, write(config, GOOD + "\n", "copy.csv"))
    assert (copy.new, copy.revised, copy.unchanged, copy.load_id) == (0, 0, 5, None)
    assert dump(config.store_path) == before


def test_reloading_an_older_release_does_not_undo_a_revision(config: Config) -> None:
    march = write(config, "period,region,indicator,value\n2026-03,west_coast,fai,100\n", "m.csv")
    april = write(
        config,
        "period,region,indicator,value\n2026-03,west_coast,fai,101\n2026-04,west_coast,fai,50\n",
        "a.csv",
    )
    for _ in range(3):  # a refresh loop loads every release of the source again and again
        load(config, march)
        load(config, april)
    assert value(config, "fai", "west_coast", "2026-03", "value") == 101
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        vintages = con.execute("SELECT count(*) FROM observation_vintages").fetchall()[0][0]
        loads = con.execute("SELECT count(*) FROM loads").fetchall()[0][0]
    finally:
        con.close()
    assert (vintages, loads) == (3, 2)


def test_a_changed_value_is_a_new_vintage_and_the_old_one_stays(config: Config) -> None:
    path = write(config, GOOD)
    load(config, path, known_from=datetime(2026, 4, 15))
    write(config, GOOD.replace(",107\n", ",110\n"))
    report = load(config, path, known_from=datetime(2026, 5, 15))
    assert (report.new, report.revised, report.unchanged) == (0, 1, 4)
    assert value(config, "projects_started", "west_coast", "2026-03", "value") == 110
    con = duckdb.connect(str(config.store_path), read_only=True)
    key = ["projects_started", "west_coast", "2026-03"]
    vintages = con.execute(
        "SELECT value, known_from, known_until FROM observations "
        "WHERE indicator = ? AND region = ? AND period = ? ORDER BY known_from",
        key,
    ).fetchall()
    assert vintages == [
        (107.0, datetime(2026, 4, 15), datetime(2026, 5, 15)),
        (110.0, datetime(2026, 5, 15), None),
    ]
    as_known = con.execute(
        "SELECT value FROM observations_as_of(TIMESTAMP '2026-05-01') "
        "WHERE indicator = ? AND region = ? AND period = ?",
        key,
    ).fetchall()
    assert as_known == [(107.0,)]
    before_any = con.execute(
        "SELECT count(*) FROM observations_as_of(TIMESTAMP '2026-04-01')"
    ).fetchone()
    assert before_any == (0,)


BAD_ROWS = [
    ("2026年13月,west_coast,projects_started,1", "period", "has month 13"),
    ("2026年5月,west_coast,projects_started,十二", "value", "not a number"),
    ("2026年5月,west_coast,projects_finished,3", "indicator", "unknown indicator"),
    ("2026年3月,west_coast,projects_started,108", "value", "duplicate key"),
    ("2026年5月,west_coast,projects_started,-4", "value", "negative"),
    ("2026年5月,atlantis,projects_started,4", "region", "unknown region"),
    ("2099年5月,west_coast,projects_started,4", "period", "in the future"),
    ("1948年5月,west_coast,projects_started,4", "period", "before 1949"),
    ("2026年5月,west_coast,projects_started,inf", "value", "not a number"),
]


@pytest.mark.parametrize(("row", "field", "reason"), BAD_ROWS)
def test_one_bad_row_refuses_the_whole_file(
    config: Config, row: str, field: str, reason: str
) -> None:
    load(config, write(config, GOOD))
    before = dump(config.store_path)
    bad = write(config, GOOD + row + "\n", "bad.csv")
    with pytest.raises(IngestError) as info:
        load(config, bad)
    error = info.value.errors[0]
    assert len(info.value.errors) == 1, info.value.errors
    assert (error.line, error.field) == (7, field)
    assert reason in error.reason
    assert str(bad) in str(info.value) and "line 7" in str(info.value)
    assert dump(config.store_path) == before


@pytest.mark.parametrize("bitmap_limit", [validate.BITMAP_LIMIT, 0], ids=["bitmap", "sort"])
def test_repeated_keys_are_found_by_either_duplicate_check(
    config: Config, monkeypatch: pytest.MonkeyPatch, bitmap_limit: int
) -> None:
    monkeypatch.setattr(validate, "BITMAP_LIMIT", bitmap_limit)
    # An identical repeat collapses to one value; a different one refuses the file.
    report = load(config, write(config, GOOD + "2026年3月,west_coast,projects_started,107\n"))
    assert report.new == 5
    with pytest.raises(IngestError) as info:
        load(config, write(config, GOOD + "2026-03,west_coast,fai,201\n", "bad.csv"))
    assert [(e.line, e.field) for e in info.value.errors] == [(7, "value")]
    assert "than line 6" in info.value.errors[0].reason


def test_rejected_rows_can_be_written_to_a_side_file(config: Config, tmp_path: Path) -> None:
    bad = write(config, GOOD + "2026年5月,west_coast,projects_started,x\n2026-06,mars,fai,1\n")
    rejects = tmp_path / "rejects.csv"
    with pytest.raises(IngestError):
        load(config, bad, rejects=rejects)
    lines = rejects.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "line,field,value,reason"
    assert [ln.split(",")[:2] for ln in lines[1:]] == [["7", "value"], ["8", "region"]]


def test_a_truncated_row_is_refused_with_its_line(config: Config) -> None:
    bad = write(config, GOOD + "2026年5月,west_coast\n")
    load(config, write(config, GOOD, "good.csv"))
    before = dump(config.store_path)
    with pytest.raises(IngestError) as info:
        load(config, bad)
    assert info.value.errors[0].line == 7
    assert dump(config.store_path) == before


def test_jan_feb_ytd_then_march_gives_march_and_no_january(
    make_config: Callable[[str], Config],
) -> None:
    config = make_config(SOURCE.replace('measure = "value"', 'measure = "ytd"'))
    text = (
        "period,region,indicator,value\n"
        "2026年1-2月,west_coast,fai,120\n"
        "2026年3月,west_coast,fai,200\n"
    )
    load(config, write(config, text))
    con = duckdb.connect(str(config.store_path), read_only=True)
    rows = con.execute(
        "SELECT period, months, value, basis FROM monthly WHERE indicator = 'fai' "
        "ORDER BY period_end"
    ).fetchall()
    assert rows == [("2026-01/02", 2, 120.0, "from_ytd"), ("2026-03", 1, 80.0, "from_ytd")]


def test_schema_is_created_and_versioned_by_the_code(tmp_path: Path) -> None:
    path = tmp_path / "fresh.duckdb"
    con = open_store(path)
    assert schema_version(con) == MIGRATIONS[-1][0]
    con.close()
    before = dump(path)
    open_store(path).close()
    assert dump(path) == before
    ro = open_store(path, read_only=True)
    views = {
        r[0]
        for r in ro.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    }
    assert {"observations", "observations_latest", "monthly"} <= views
    ro.close()


def test_a_version_3_store_keeps_every_vintage_through_the_integer_keyed_migration(
    config: Config,
) -> None:
    path = config.store_path
    old = duckdb.connect(str(path))
    old.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
    for version, sql in MIGRATIONS[:3]:
        old.execute(sql)
        old.execute("INSERT INTO schema_version VALUES (?, now())", [version])
    old.execute(
        "INSERT INTO loads VALUES (1, 's', 'a.csv', 'x', '2026-04-10', now(), 2, 2, 0, 0), "
        "(2, 's', 'b.csv', 'y', '2026-05-10', now(), 1, 0, 1, 0)"
    )
    old.execute(
        "INSERT INTO periods VALUES ('2026-03', '2026-03-01', '2026-03-31', 1, 'M'), "
        "('2026-01/02', '2026-01-01', '2026-02-28', 2, 'M')"
    )
    vintages = [
        ("fai", "west_coast", "2026-03", "value", 200.0, 1, 3),
        ("fai", "west_coast", "2026-01/02", "ytd", 120.0, 1, 2),
        ("fai", "west_coast", "2026-03", "value", 210.0, 2, 2),
    ]
    old.executemany("INSERT INTO observation_vintages VALUES (?, ?, ?, ?, ?, ?, ?)", vintages)
    old.close()

    con = open_store(path)
    try:
        assert schema_version(con) == MIGRATIONS[-1][0]
        stored = con.execute("SELECT * FROM observation_vintages ORDER BY load_id, line").fetchall()
        as_of_april = con.execute(
            "SELECT period, value FROM observations_as_of('2026-04-30') ORDER BY period"
        ).fetchall()
    finally:
        con.close()
    assert sorted(stored) == sorted(vintages)
    assert as_of_april == [("2026-01/02", 120.0), ("2026-03", 200.0)]
    # A revision loaded after the migration is classified against the migrated vintages.
    report = load(
        config, write(config, "period,region,indicator,value\n2026年3月,west_coast,fai,210\n")
    )
    assert (report.new, report.revised, report.unchanged) == (0, 0, 1)


def test_stored_checks_survive_the_move_to_target_ids(tmp_path: Path) -> None:
    """From version 4 (a table of named checks) through target ids to derived columns:
    the stored facts survive and what follows from them (attainment, gap, required rate,
    periods left, staleness per target) reads the same."""
    path = tmp_path / "v4.duckdb"
    old = duckdb.connect(str(path))
    old.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
    for version, sql in MIGRATIONS[:4]:
        old.execute(sql)
        old.execute("INSERT INTO schema_version VALUES (?, now())", [version])
    rows = [
        (
            "fai",
            "west_coast",
            2026,
            3,
            "quarter",
            3,
            200.0,
            210.0,
            257.0,
            200 / 210,
            -10.0,
            None,
            0,
            "at_risk",
            "at_risk",
            "this month is behind its own target",
            "linear",
            False,
            True,
            None,
        ),
        (
            "fai",
            "west_coast",
            2026,
            3,
            "year",
            12,
            200.0,
            210.0,
            600.0,
            200 / 210,
            -10.0,
            (600 - 200) / 9,
            9,
            "on_track",
            "at_risk",
            "the current quarter is behind",
            "linear",
            False,
            True,
            2,
        ),
        (
            "gdp",
            "CN",
            2026,
            3,
            "month",
            3,
            None,
            5.0,
            5.0,
            None,
            None,
            None,
            0,
            "no_data",
            "no_data",
            None,
            "rate",
            True,
            False,
            None,
        ),
    ]
    old.executemany(
        "INSERT INTO progress_checks VALUES (" + ", ".join(["?"] * 20) + ", now())", rows
    )
    old.close()
    con = open_store(path)
    try:
        migrated = con.execute(
            "SELECT * EXCLUDE (computed_at, owner, data_month, release_due) FROM progress_checks "
            "ORDER BY indicator, horizon"
        ).fetchall()
    finally:
        con.close()
    assert migrated == sorted(rows, key=lambda r: (r[0], r[4]))


def test_a_memory_limit_spills_instead_of_failing(make_config: Callable[[str], Config]) -> None:
    base = BASE_TOML.replace(
        'path = "store.duckdb"', 'path = "store.duckdb"\nmemory_limit = "64MB"'
    )
    config = make_config(SOURCE, base=base)  # type: ignore[call-arg]
    assert config.store.memory_limit == "64MB"
    rows = "".join(f"{1950 + i // 12}-{i % 12 + 1:02d},west_coast,fai,{i}\n" for i in range(900))
    path = write(config, "period,region,indicator,value\n" + rows)
    con = open_store(config.store_path, False, config.store.memory_limit)
    try:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        assert "MiB" in limit and float(limit.split()[0]) <= 64
    finally:
        con.close()
    assert load(config, path).new == 900
