"""A unit's list shows the projects and the indicators it answers for; its problems name
the registers' projects."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from ingest.errors import ConfigError, IngestError
from ingest.store import open_store
from kpiwatch import app, worklists
from tests.checks_helpers import pipeline
from tests.register_helpers import load, project_line, register_config, write_register

UNIT = """
[[units]]
id = "ndrc"
name = "发改局"
kind = "department"
parent = "west_coast"
"""


def test_the_units_projects_are_on_its_list_worst_first(tmp_path: Path) -> None:
    config = register_config(tmp_path, extra=UNIT)
    path = write_register(
        tmp_path / "register.csv",
        [
            project_line("P1", started=("2026-03-31", "")),
            project_line("P2", started=("2026-02-28", "")),
            project_line("P3", started=("2026-02-28", "2026-02-20")),
            project_line("P9", unit="住建局", started=("2026-01-31", "")),
        ],
    )
    load(config, path, "2026-03-01")
    con = open_store(config.store_path)
    try:
        worklists.ingest_records(con, config)
    finally:
        con.close()
    found = worklists.one_unit(config, "ndrc", date(2026, 4, 10))
    assert found is not None
    assert [(p["project"], p["nodes_overdue"], p["worst_days_late"]) for p in found.projects] == [
        ("P2", 1, 41),
        ("P1", 1, 10),
        ("P3", 0, None),
    ]


def test_the_units_indicators_are_its_own_and_a_regions_checks(tmp_path: Path) -> None:
    units = """
    [[units]]
    id = "ndrc"
    name = "发展改革局"
    kind = "department"

    [[units]]
    id = "zone_b"
    name = "B区"
    kind = "region"

    [[targets]]
    indicator = "projects_started"
    region = "zone_a"
    year = 2026
    annual = 120

    [[targets]]
    indicator = "energy"
    region = "zone_b"
    year = 2026
    annual = 100
    """
    rows = """
    2026-01,zone_a,projects_started,value,2
    2026-02,zone_a,projects_started,value,2
    2026-01,zone_b,energy,value,5
    2026-02,zone_b,energy,value,5
    """
    config = pipeline(tmp_path, rows, units)
    ndrc = worklists.one_unit(config, "ndrc", date(2026, 3, 15))
    zone = worklists.one_unit(config, "zone_b", date(2026, 3, 15))
    assert ndrc is not None and zone is not None
    # The indicator's owner is 发展改革局, the unit's name; B区 answers for its region.
    assert [(i["indicator_name"], i["region_name"], i["status"]) for i in ndrc.indicators] == [
        ("重点项目开工", "A区", "behind")
    ]
    assert [(i["indicator_name"], i["region_name"]) for i in zone.indicators] == [("能耗", "B区")]


PROBLEM_FILES = """
[[task_files]]
path = "problems.csv"
kind = "problems"
"""


def test_a_problem_for_an_unknown_project_is_refused_with_its_rejects(tmp_path: Path) -> None:
    config = register_config(tmp_path, extra=UNIT + PROBLEM_FILES)
    write_register(tmp_path / "register.csv", [project_line("P1", started=("2026-03-31", ""))])
    problems = tmp_path / "problems.csv"
    problems.write_text(
        "problem,title,unit,project,raised,due\n"
        "Q1,征地协调,ndrc,P1,2026-03-01,2026-03-10\n"
        "Q2,资金缺口,ndrc,P404,2026-03-01,2026-03-10\n"
        "Q3,手续办理,atlantis,P1,2026-03-01,2026-03-10\n",
        encoding="utf-8",
    )
    # One ingest: the register loads first, so P1 is known to the problems that name it.
    outcomes = app.ingest(config, rejects_dir=tmp_path / "rejects")
    [refused] = [o.error for o in outcomes if o.error is not None]
    assert isinstance(refused, IngestError) and refused.file == str(problems)
    assert [(e.line, e.field, e.value) for e in refused.errors] == [
        (3, "project", "P404"),
        (4, "unit", "atlantis"),
    ]
    rejects = (tmp_path / "rejects" / "problems.csv.rejects.csv").read_text(encoding="utf-8")
    assert [row[:3] for row in csv.reader(io.StringIO(rejects))] == [
        ["line", "field", "value"],
        ["3", "project", "P404"],
        ["4", "unit", "atlantis"],
    ]
    con = open_store(config.store_path)
    try:
        assert con.execute("SELECT count(*) FROM problem_vintages").fetchall() == [(0,)]
    finally:
        con.close()
    problems.write_text(
        "problem,title,unit,project,raised,due\nQ1,征地协调,ndrc,P1,2026-03-01,2026-03-10\n",
        encoding="utf-8",
    )
    assert [o.error for o in app.ingest(config, [problems])] == [None]
    # The config's problems are held to the registers too, whole or not at all.
    declared = """
[[problems]]
id = "C1"
title = "用地指标"
unit = "ndrc"
project = "P1"
raised = 2026-03-02
due = 2026-03-12
"""
    config = register_config(tmp_path, extra=UNIT + PROBLEM_FILES + declared)
    assert [o.error for o in app.ingest(config, [problems])] == [None]
    config = register_config(tmp_path, extra=UNIT + PROBLEM_FILES + declared.replace("P1", "P9"))
    [refused] = [o.error for o in app.ingest(config, [problems]) if o.error is not None]
    assert isinstance(refused, ConfigError)
    assert [str(p) for p in refused.problems] == [
        "problems[id=C1].project: unknown project 'P9' (in no loaded project register)"
    ]
    con = open_store(config.store_path)
    try:
        assert con.execute("SELECT problem, project FROM problems ORDER BY 1").fetchall() == [
            ("C1", "P1"),
            ("Q1", "P1"),
        ]
    finally:
        con.close()
