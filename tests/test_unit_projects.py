"""A unit's list shows the projects and the indicators it answers for."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ingest.store import open_store
from kpiwatch import worklists
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
