"""The ladder's metrics: bounded labels, exact exposition, promtool, read from a real store."""

from __future__ import annotations

import subprocess
from datetime import date, datetime
from pathlib import Path

import duckdb
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from exporters.escalation_metrics import (
    EscalationCollector,
    EscalationData,
    history_once,
    read_escalation_data,
)
from exporters.project_collector import read_project_data
from exporters.snapshot import read_snapshot_data
from exporters.unit_metrics import read_unit_data
from ingest.store import open_store
from kpiwatch import app
from kpiwatch.config import load_config
from tests.checks_helpers import CONFIG
from tests.test_escalation_rules import WEEKLY
from tests.test_ladder import TARGET, rows

DATA = EscalationData(
    [("projects_started", "zone_a", "发展改革局", 3), ("projects_started", "zone_b", "", 0)],
    [("发展改革局", 3, 1), ("dev", 1, 2)],
    [("monthly_starts", "", 1, 0), ("weekly_signing", "投资促进局", 3, 2)],
)


def exposition(data: EscalationData) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EscalationCollector(data))
    return generate_latest(registry).decode()


def samples(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_one_series_per_check_and_per_unit_and_level() -> None:
    assert samples(exposition(DATA)) == [
        'kpiwatch_escalation_level{indicator="projects_started",region="zone_a",'
        'unit="发展改革局"} 3.0',
        'kpiwatch_escalation_level{indicator="projects_started",region="zone_b",unit=""} 0.0',
        'kpiwatch_escalation_unit_level{unit="dev"} 1.0',
        'kpiwatch_escalation_unit_level{unit="发展改革局"} 3.0',
        'kpiwatch_escalation_items{level="1",unit="dev"} 2.0',
        'kpiwatch_escalation_items{level="2",unit="dev"} 0.0',
        'kpiwatch_escalation_items{level="3",unit="dev"} 0.0',
        'kpiwatch_escalation_items{level="1",unit="发展改革局"} 0.0',
        'kpiwatch_escalation_items{level="2",unit="发展改革局"} 0.0',
        'kpiwatch_escalation_items{level="3",unit="发展改革局"} 1.0',
        'kpiwatch_every_period_without_one{rule="monthly_starts",unit=""} 1.0',
        'kpiwatch_every_period_without_one{rule="weekly_signing",unit="投资促进局"} 3.0',
        'kpiwatch_every_period_behind_run{rule="monthly_starts",unit=""} 0.0',
        'kpiwatch_every_period_behind_run{rule="weekly_signing",unit="投资促进局"} 2.0',
    ]


def test_exposition_passes_promtool_check_metrics() -> None:
    done = subprocess.run(
        ["promtool", "check", "metrics"], input=exposition(DATA), capture_output=True, text=True
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_read_from_the_store(tmp_path: Path) -> None:
    (tmp_path / "progress.csv").write_text(
        "task,date,quantity\nsigning,2026-04-15,1\nsigning,2026-04-24,1\n", encoding="utf-8"
    )
    weekly = WEEKLY + '[[task_files]]\npath = "progress.csv"\nkind = "progress"\n'
    (tmp_path / "config.toml").write_text(CONFIG + TARGET + weekly, encoding="utf-8")
    header = "period,region,indicator,measure,value\n"
    data_rows = rows([150, 70, 70, 70]) + "\n" + rows([100], "zone_b")
    (tmp_path / "data.csv").write_text(header + data_rows + "\n", encoding="utf-8")
    config = load_config(tmp_path / "config.toml")
    # everything became known on 30 April
    assert [o.error for o in app.ingest(config, known_from=datetime(2026, 4, 30))] == [None] * 2
    app.refresh_checks(config, date(2026, 5, 10))
    con: duckdb.DuckDBPyConnection = open_store(config.store_path)
    try:
        data = read_escalation_data(con, date(2026, 5, 10))
        before = read_escalation_data(con, date(2026, 4, 20)).every_period
        for day in (date(2026, 4, 20), date(2026, 5, 10)):
            assert_history_once_reads_the_same(con, day)
    finally:
        con.close()
    assert data.checks == [("projects_started", "zone_a", "发展改革局", 3)]
    # on 10 May: the check at 问责, the rule at 通报 (W18 without one after two with one)
    assert data.units == [("发展改革局", 1, 1), ("发展改革局", 3, 1)]
    # W15 without, W16 (the 15th) and W17 (the 24th) with one, W18 without
    assert data.every_period == [("weekly_signing", "发展改革局", 2, 1)]
    # on 20 April the report of the 15th was not known yet: W15 and W16 without one
    assert before == [("weekly_signing", "发展改革局", 2, 2)]


def assert_history_once_reads_the_same(con: duckdb.DuckDBPyConnection, day: date) -> None:
    """The snapshot's read (today's history evaluated once) gives what each reader reads
    from the store's macros, and leaves the connection's macros as they were."""
    alone = (read_unit_data(con, day), read_project_data(con, day), read_escalation_data(con, day))
    assert alone[2].checks  # the ladder has something to read on these days
    snapshot = read_snapshot_data(con, day)
    assert (snapshot.units, snapshot.projects, snapshot.escalations) == alone
    others = [date(2026, 3, 1), date(2026, 4, 29), date(2026, 5, 3)]  # the store's history
    theirs = [read_escalation_data(con, other) for other in others]
    with history_once(con, day):
        assert macros(con)[0] == "temp"
        assert read_escalation_data(con, day) == alone[2]
        assert [read_escalation_data(con, other) for other in others] == theirs
    assert macros(con) == [con.execute("SELECT current_database()").fetchall()[0][0]]


def macros(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The databases holding `escalation_history_as_of`, temp (searched first) first."""
    sql = (
        "SELECT database_name FROM duckdb_functions() "
        "WHERE function_name = 'escalation_history_as_of' ORDER BY database_name <> 'temp'"
    )
    return [str(d) for (d,) in con.execute(sql).fetchall()]


def test_a_store_without_the_ladder_has_no_levels(tmp_path: Path) -> None:
    con = open_store(tmp_path / "kpiwatch.duckdb")
    try:
        assert read_escalation_data(con) == EscalationData()
        with history_once(con):  # nothing to evaluate, nothing left behind
            assert read_escalation_data(con) == EscalationData()
        assert macros(con) == []
    finally:
        con.close()
