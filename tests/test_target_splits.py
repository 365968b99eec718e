"""Targets split top-down (区 → 功能区 → 镇街 → 部门): the children's targets against the
parent's, reported in the store and, under split_mismatch = "error", refused."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.schema import Region
from kpiwatch import app
from kpiwatch.cli import cli
from kpiwatch.config import load_config, split_gaps
from kpiwatch.service import Service
from metrics.schema import Target
from metrics.splits import target_split_gaps
from tests.checks_helpers import CONFIG

# A district's 600 projects split over its two zones: the year sums to 594 (99 %), Q1
# adds up; a key work of 627 split to units' tasks sums to 620.
SPLIT = """
[[targets]]
indicator = "projects_started"
region = "west_coast"
year = 2026
annual = 600
quarters = { Q1 = 257 }
[[targets]]
indicator = "projects_started"
region = "zone_a"
year = 2026
annual = 300
quarters = { Q1 = 130 }
[[targets]]
indicator = "projects_started"
region = "zone_b"
year = 2026
annual = 294
quarters = { Q1 = 127 }
[[targets]]
indicator = "gdp_growth"
region = "west_coast"
year = 2026
annual = 6.5
[[targets]]
indicator = "gdp_growth"
region = "zone_a"
year = 2026
annual = 7.0

[[tasks]]
id = "renewal"
title = "城市更新项目开工"
unit = "west_coast"
deadline = 2026-12-31
quantity = 627
[[tasks]]
id = "renewal.a"
title = "A区城市更新"
unit = "zone_a"
deadline = 2026-12-31
quantity = 400
parent = "renewal"
[[tasks]]
id = "renewal.b"
title = "B区城市更新"
unit = "zone_b"
deadline = 2026-12-31
quantity = 220
parent = "renewal"
[[tasks]]
id = "roads"
title = "示范道路"
unit = "west_coast"
deadline = 2026-12-31
quantity = 26
[[tasks]]
id = "roads.a"
title = "A区示范道路"
unit = "zone_a"
deadline = 2026-12-31
quantity = 26
parent = "roads"
"""


def test_children_summing_to_99_percent_of_the_parent_are_reported(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG + SPLIT, encoding="utf-8")
    res = CliRunner().invoke(cli, ["check-config", str(tmp_path / "config.toml")])
    assert res.exit_code == 0, res.output  # reported, not refused: the plan decides
    lines = [line for line in res.stdout.splitlines() if line.startswith("split:")]
    assert lines == [
        "split: targets[indicator=projects_started, region=west_coast, year=2026].annual: "
        "the children's 594 (zone_a, zone_b) are 99.0% of 600",
        "split: tasks[id=renewal].quantity: the children's 620 (renewal.a, renewal.b) are "
        "98.9% of 627",
    ]  # Q1 adds up (130 + 127), growth rates never add up, roads' one child carries all


def test_a_child_without_a_value_is_named(tmp_path: Path) -> None:
    extra = '\n[[regions]]\nid = "zone_c"\nname = "C区"\nparent = "west_coast"\n'
    config_file = tmp_path / "config.toml"
    config_file.write_text(CONFIG + extra + SPLIT, encoding="utf-8")
    gaps = split_gaps(load_config(config_file))
    assert gaps[0].missing == ("zone_c",)
    assert str(gaps[0]).endswith("; nothing split to zone_c")


def test_the_store_lists_the_splits_of_targets_and_of_key_works(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG + SPLIT, encoding="utf-8")
    config = load_config(tmp_path / "config.toml")
    (tmp_path / "data.csv").write_text("period,region,indicator,measure,value\n", "utf-8")
    assert all(o.error is None for o in app.ingest(config))  # the config's tasks too
    app.refresh_checks(config, date(2026, 11, 1))
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        tasks = con.execute(
            "SELECT parent, parent_quantity, children_quantity, children, round(share, 4) "
            "FROM task_splits"
        ).fetchall()
        targets = con.execute(
            "SELECT indicator, region, year, target_key, parent_target, children, "
            "children_target, round(share, 4), without_target, status FROM target_splits "
            "ORDER BY target_key"
        ).fetchall()
    finally:
        con.close()
    assert tasks == [("renewal", 627.0, 620.0, 2, 0.9888)]
    assert targets == [
        (
            "projects_started",
            "west_coast",
            2026,
            "annual",
            600.0,
            ["zone_a", "zone_b"],
            594.0,
            0.99,
            [],
            "short",
        ),
        (
            "projects_started",
            "west_coast",
            2026,
            "quarters.Q1",
            257.0,
            ["zone_a", "zone_b"],
            257.0,
            1.0,
            [],
            "adds_up",
        ),
    ]  # growth rates never add up: no row for gdp_growth


MISMATCH_IS_ERROR = '\n[checks]\nsplit_mismatch = "error"\n'
REFUSED = (
    "targets[indicator=projects_started, region=west_coast, year=2026].annual: the "
    'children\'s 594 (zone_a, zone_b) are 99.0% of 600; [checks] split_mismatch = "error" '
    "refuses a split that does not add up"
)


def test_a_split_that_does_not_add_up_refuses_the_config_under_error(tmp_path: Path) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text(CONFIG + SPLIT + MISMATCH_IS_ERROR, encoding="utf-8")
    (tmp_path / "data.csv").write_text("period,region,indicator,measure,value\n", "utf-8")
    res = CliRunner().invoke(cli, ["check-config", str(config_file)])
    assert res.exit_code == 1
    assert REFUSED in res.stderr and "tasks[id=renewal].quantity: the children's 620" in res.stderr
    res = CliRunner().invoke(cli, ["--config", str(config_file), "ingest"])
    assert res.exit_code == 1 and REFUSED in res.stderr and "Traceback" not in res.output
    assert not (tmp_path / "kpiwatch.duckdb").exists()  # nothing was loaded


def test_a_reload_keeps_the_old_config_when_a_split_is_refused(tmp_path: Path) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text(CONFIG + SPLIT, encoding="utf-8")
    service = Service(load_config(config_file), config_path=config_file)
    old = service.config
    config_file.write_text(CONFIG + SPLIT + MISMATCH_IS_ERROR, encoding="utf-8")
    assert REFUSED in str(service.reload())
    assert service.config is old
    balanced = SPLIT.replace("annual = 294", "annual = 300").replace(
        "quantity = 220", "quantity = 227"
    )
    config_file.write_text(CONFIG + balanced + MISMATCH_IS_ERROR, encoding="utf-8")
    assert service.reload() is None and service.config.checks.split_mismatch == "error"


@settings(deadline=None, max_examples=60)
@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=6), st.integers(-3, 3))
def test_a_split_is_reported_exactly_when_it_does_not_add_up(parts: list[int], off: int) -> None:
    regions = [Region(id="top", name="top")] + [
        Region(id=f"r{i}", name=f"r{i}", parent="top") for i in range(len(parts))
    ]
    targets = [Target(indicator="x", region="top", year=2026, annual=sum(parts) + off)] + [
        Target(indicator="x", region=f"r{i}", year=2026, annual=v) for i, v in enumerate(parts)
    ]
    gaps = target_split_gaps(targets, regions, {"x": "flow"})
    assert len(gaps) == (off != 0)
    if gaps:
        assert gaps[0].children == sum(parts) and gaps[0].parent == sum(parts) + off
