"""The ladder's metrics: bounded labels, exact exposition, promtool, read from a real store."""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from exporters.escalation_metrics import (
    EscalationCollector,
    EscalationData,
    read_escalation_data,
)
from ingest.store import open_store
from tests.checks_helpers import pipeline
from tests.test_ladder import TARGET, rows

DATA = EscalationData(
    [("projects_started", "zone_a", "发展改革局", 3), ("projects_started", "zone_b", "", 0)],
    [("发展改革局", 3, 1), ("dev", 1, 2)],
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
    ]


def test_exposition_passes_promtool_check_metrics() -> None:
    done = subprocess.run(
        ["promtool", "check", "metrics"], input=exposition(DATA), capture_output=True, text=True
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_read_from_the_store(tmp_path: Path) -> None:
    config = pipeline(tmp_path, rows([150, 70, 70, 70]) + "\n" + rows([100], "zone_b"), TARGET)
    con: duckdb.DuckDBPyConnection = open_store(config.store_path)
    try:
        data = read_escalation_data(con)
    finally:
        con.close()
    assert data.checks == [("projects_started", "zone_a", "发展改革局", 3)]
    assert data.units == [("发展改革局", 3, 1)]


def test_a_store_without_the_ladder_has_no_levels(tmp_path: Path) -> None:
    con = open_store(tmp_path / "kpiwatch.duckdb")
    try:
        assert read_escalation_data(con) == EscalationData()
    finally:
        con.close()
