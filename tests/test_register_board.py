"""Node supervision (按图督办): overdue, stuck, due this 旬, and the `kpiwatch projects` verb."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

from exporters.snapshot import read_snapshot_data, render
from ingest.store import open_store
from kpiwatch import app
from metrics.project_dekads import dekad_checks
from metrics.projects import supervise
from tests.register_helpers import load, project_line, query, register_config, write_register

KPIWATCH = Path(sys.executable).parent / "kpiwatch"
ARGS = ("--as-of", "2026-03-15", "--region", "西海岸新区")


def _board_store(tmp_path: Path) -> Path:
    config = register_config(tmp_path)
    lines = [
        # land planned 10 Jan, not done: 64 days late on 15 Mar, and stuck there (waiting
        # more than 60 days since the later of its plan and the signing on 5 Jan)
        project_line("P1", signed=("2026-01-05", "2026-01-05"), land=("2026-01-10", "")),
        # start planned 18 Mar (this 旬: 11–20 Mar), not started: due, not overdue yet
        project_line("P2", unit="工信局", started=("2026-03-18", "")),
        # start planned 5 Mar, not started: overdue 10 days; permit reported, unconfirmed;
        # the permit's unit is the node's own (住建局)
        project_line(
            "P3",
            region="董家口经济区",
            unit="工信局",
            permit=("2026-03-01", "2026-03-02"),
            started=("2026-03-05", ""),
        ),
    ]
    load(config, write_register(tmp_path / "register_1.csv", lines), "2026-03-15")
    # a later register moves P3's start to 25 Mar: as known on 15 Mar it stays overdue
    lines[2] = project_line(
        "P3",
        region="董家口经济区",
        unit="工信局",
        permit=("2026-03-01", "2026-03-02"),
        started=("2026-03-25", ""),
    )
    load(config, write_register(tmp_path / "register_2.csv", lines), "2026-03-16")
    return config.store_path


def test_supervision_by_hand(tmp_path: Path) -> None:
    con = open_store(_board_store(tmp_path), read_only=True)
    try:
        board = supervise(con, date(2026, 3, 15))
        later = supervise(con, date(2026, 3, 16))
        dongjiakou = supervise(con, date(2026, 3, 15), region="dongjiakou")
        by_unit = supervise(con, date(2026, 3, 15), unit="住建局")
    finally:
        con.close()
    assert [(r[1], r[4], r[6]) for r in board.overdue] == [("P1", "土地", 64), ("P3", "开工", 10)]
    assert [(r[1], r[4], r[5]) for r in board.stuck] == [("P1", "土地", 64)]
    assert [r[1] for r in board.due_not_started] == ["P2"]
    assert board.dekad.name == "2026年3月中旬"
    # units worst first; a reported, unconfirmed permit is the node unit's (住建局)
    assert [(u[0], u[1], u[2], u[4]) for u in board.units] == [
        ("发改局", 1, 64, 1),  # P1 signed, reported only
        ("工信局", 1, 10, 0),
        ("住建局", 0, None, 1),
    ]
    # the slipped start is no longer overdue once the new plan is known; its slip shows
    assert [(r[1], r[4]) for r in later.overdue] == [("P1", "土地")]
    assert [r[1] for r in dongjiakou.overdue] == ["P3"]
    assert by_unit.overdue == [] and [u[0] for u in by_unit.units] == ["住建局"]


def test_projects_verb(tmp_path: Path) -> None:
    _board_store(tmp_path)
    run = subprocess.run(
        [str(KPIWATCH), "--config", str(tmp_path / "config.toml"), "projects", *ARGS],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "overdue nodes, worst first (2)" in run.stdout
    assert "2026年3月中旬" in run.stdout
    assert run.stdout.index("P1") < run.stdout.index("P3")
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    shown = readme.split("Part of a board on 15 March", 1)[1].split("```text\n", 1)[1]
    for line in shown.split("```", 1)[0].splitlines():  # the README's sample, as printed
        assert line.strip() in run.stdout, line
    bad = subprocess.run(
        [str(KPIWATCH), "--config", str(tmp_path / "config.toml"), "projects", "--region", "x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


TARGET = """
[[targets]]
indicator = "projects_started"
region = "west_coast"
year = 2026
annual = 600
quarters = { Q1 = 257 }
"""


def test_targets_are_checked_per_dekad(tmp_path: Path) -> None:
    config = register_config(tmp_path, extra=TARGET)
    lines = [project_line(f"P{i}", started=("2026-03-10", "2026-03-10")) for i in range(3)]
    lines.append(project_line("P9", region="董家口经济区", started=("2026-03-11", "2026-03-11")))
    load(config, write_register(tmp_path / "register.csv", lines), "2026-03-20")
    con = open_store(config.store_path, read_only=True)
    try:
        checks = dekad_checks(
            con, config.targets, config.indicator_map(), config.thresholds_for, date(2026, 3, 20)
        )
    finally:
        con.close()
    # Q1 = 257, linear: 171.33 by the end of February, then 85.67 over March's 31 days
    assert [(c.dekad.label, c.actual, round(c.pace, 2), c.status) for c in checks] == [
        ("2026-02-D3", 0, 171.33, "behind"),
        ("2026-03-D1", 3, 198.97, "behind"),  # started on the 10th: the first 旬
        ("2026-03-D2", 4, 226.6, "behind"),  # on the 11th: the second
    ]


def test_dekad_checks_are_stored_and_exported(tmp_path: Path) -> None:
    config = register_config(tmp_path, extra=TARGET)
    lines = [project_line(f"P{i}", started=("2026-03-10", "2026-03-10")) for i in range(3)]
    lines.append(project_line("P9", region="董家口经济区", started=("2026-03-11", "2026-03-11")))
    load(config, write_register(tmp_path / "register.csv", lines), "2026-03-15")
    app.refresh_checks(config, today=date(2026, 3, 15))
    rows = query(
        config,
        "SELECT period, CAST(as_of_day AS VARCHAR), actual, round(pace_target, 2), "
        "round(dekad_target, 2), round(gap, 2), status FROM progress_dekads "
        "WHERE region = 'west_coast' ORDER BY period_start",
    )
    # every 旬 of the year so far; the one in progress judged on the 15th against
    # 171.33 + 85.67 × 15/31 = 212.78, its end's pace (20 March) 226.60
    assert [r[0] for r in rows] == [f"2026-0{m}-D{d}" for m in (1, 2, 3) for d in (1, 2, 3)][:8]
    assert rows[-2:] == [
        ("2026-03-D1", "2026-03-10", 3, 198.97, 198.97, -195.97, "behind"),
        ("2026-03-D2", "2026-03-15", 4, 212.78, 226.6, -208.78, "behind"),
    ]
    con = open_store(config.store_path, read_only=True)
    try:
        text = render(read_snapshot_data(con), 0.0, 100_000).text.decode()
    finally:
        con.close()
    labels = 'horizon="dekad",indicator="projects_started",region="west_coast",year="2026"'
    assert f"kpiwatch_kpi_actual{{{labels}}} 4.0" in text
    assert f"kpiwatch_kpi_target{{{labels}}} 226.6" in text
    status = labels.replace(',year="2026"', ',status="behind",year="2026"')
    assert f"kpiwatch_kpi_status{{{status}}} 1.0" in text
    check = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert check.returncode == 0 and not check.stdout.strip(), check.stdout + check.stderr
    _status_lists_dekads(tmp_path)


def _status_lists_dekads(tmp_path: Path) -> None:
    """`kpiwatch status --horizon dekad`: the 旬 in progress, or the one --as-of names."""
    args = [str(KPIWATCH), "--config", str(tmp_path / "config.toml"), "status"]
    now = subprocess.run([*args, "--horizon", "dekad"], capture_output=True, text=True)
    assert now.returncode == 0, now.stderr
    rows = [line for line in now.stdout.splitlines() if "重点项目开工" in line]
    assert len(rows) == 1 and "2026-03-D2" in rows[0] and "1.9%" in rows[0], now.stdout
    assert "4 to 2026-03-15 against 212.78" in now.stdout.replace("\n", " ")
    first = subprocess.run(
        [*args, "--horizon", "dekad", "--as-of", "2026年3月上旬", "--region", "west_coast"],
        capture_output=True,
        text=True,
    )
    assert "2026-03-D1" in first.stdout and "2026-03-D2" not in first.stdout, first.stdout
    bad = subprocess.run(
        [*args, "--horizon", "dekad", "--as-of", "2026-03-D4"], text=True, capture_output=True
    )
    assert bad.returncode != 0 and "--as-of '2026-03-D4'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_project_metrics_as_known_on_the_served_day(tmp_path: Path) -> None:
    store = _board_store(tmp_path)
    con = open_store(store, read_only=True)
    try:
        then = render(read_snapshot_data(con, date(2026, 3, 15)), 0.0, 100_000).text.decode()
        now = render(read_snapshot_data(con, date(2026, 3, 16)), 0.0, 100_000).text.decode()
    finally:
        con.close()
    # on 15 March P3's start (planned 5 March) was 10 days overdue; the register known
    # from 16 March plans it for 25 March
    overdue = (
        'kpiwatch_project_overdue_nodes{days_late="1-10",node="started",region="dongjiakou",'
        'register="major"} 1.0'
    )
    assert overdue in then
    assert overdue not in now
