"""config.toml validation: every problem reported once, with its TOML path."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.errors import ConfigError
from kpiwatch.config import Config, load_config
from tests.conftest import ROOT

KPIWATCH = str(Path(sys.executable).parent / "kpiwatch")


def test_the_demo_config_is_valid() -> None:
    config = load_config(ROOT / "config.toml")
    assert {s.name for s in config.sources} >= {"nbs_core", "west_coast_sample"}
    assert any(
        t.indicator == "projects_started" and t.quarters == {"Q1": 257} for t in config.targets
    )


def test_every_problem_is_listed_with_its_path(make_config: Callable[[str], Config]) -> None:
    with pytest.raises(ConfigError) as info:
        make_config("""
            [[indicators]]
            id = "gdp_growth"
            name = "GDP growth"
            kind = "ratio"
            colour = "red"

            [[targets]]
            indicator = "gdp_grwth"
            region = "CN"
            year = 2026
            annual = 5.0

            [thresholds]
            behind_below = 3.5
        """)
    paths = {p.path for p in info.value.problems}
    assert "indicators[id=gdp_growth].kind" in paths
    assert "indicators[id=gdp_growth].colour" in paths
    assert "thresholds.behind_below" in paths
    text = str(info.value)
    assert "config.toml" in text and "kind" in text


def test_references_are_cross_checked(make_config: Callable[[str], Config]) -> None:
    with pytest.raises(ConfigError) as info:
        make_config("""
            [[targets]]
            indicator = "gdp_grwth"
            region = "atlantis"
            year = 2026
            annual = 5.0

            [[regions]]
            id = "loop_a"
            name = "A"
            parent = "loop_b"

            [[regions]]
            id = "loop_b"
            name = "B"
            parent = "loop_a"
        """)
    found = {(p.path, p.message) for p in info.value.problems}
    where = "targets[indicator=gdp_grwth, region=atlantis, year=2026]"
    assert (f"{where}.indicator", "unknown indicator 'gdp_grwth'") in found
    assert (f"{where}.region", "unknown region 'atlantis'") in found
    assert ("regions[id=loop_a].parent", "region tree has a cycle") in found


def test_an_identifier_that_is_not_plain_is_refused(make_config: Callable[[str], Config]) -> None:
    with pytest.raises(ConfigError) as info:
        make_config("""
            [[indicators]]
            id = "x'); DROP TABLE observations; --"
            name = "x"
            kind = "flow"
        """)
    assert any(p.path.endswith(".id") for p in info.value.problems)


def test_check_config_command_exit_codes(tmp_path: Path) -> None:
    ok = subprocess.run(
        [KPIWATCH, "check-config", str(ROOT / "config.toml")], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert "ok" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[[indicators]]\nid = "a"\nname = "A"\nkind = "flux"\n', encoding="utf-8")
    res = subprocess.run([KPIWATCH, "check-config", str(bad)], capture_output=True, text=True)
    assert res.returncode == 1
    assert "indicators[id=a].kind" in res.stderr
    assert "Traceback" not in res.stderr


def test_ingest_command_reports_and_refuses(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        """
[[regions]]
id = "west_coast"
name = "西海岸新区"
[[indicators]]
id = "projects_started"
name = "重点项目开工"
kind = "flow"
[[sources]]
name = "sample"
path = "in/*.csv"
layout = "long"
region = "west_coast"
indicator = "projects_started"
columns = { period = "period", value = "value" }
""",
        encoding="utf-8",
    )
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("period,value\n2026年1-2月,150\n2026年3月,107\n")
    (tmp_path / "in" / "b.csv").write_text("period,value\n2026年4月,40\n2026年5月,x\n")
    res = subprocess.run([KPIWATCH, "ingest"], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 1
    assert "1 file(s) loaded, 0 skipped, 1 refused" in res.stdout
    assert "b.csv: line 3, field 'value' ('x'): not a number" in res.stderr
    assert "projects_started" in res.stdout and "2026-01/02 … 2026-03" in res.stdout
    assert (tmp_path / "kpiwatch.duckdb").is_file()
    again = subprocess.run(
        [KPIWATCH, "ingest", "in/a.csv"], capture_output=True, text=True, cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr
    assert "already loaded (load 1), skipped" in again.stdout
    assert "0 file(s) loaded, 1 skipped, 0 refused" in again.stdout


@pytest.mark.parametrize(
    ("first", "second", "path"),
    [
        ('name = "a"\naliases = ["黄岛"]', 'name = "黄岛"', "regions[id=b].name"),
        (
            'name = "a"\naliases = ["黄岛"]',
            'name = "b"\naliases = ["黄　岛\u200b"]',
            "regions[id=b].aliases",
        ),
        ('name = "Ｂ区"', 'name = "B区"', "regions[id=b].name"),  # full-width = ASCII
        ('name = "a"\naliases = ["b"]', 'name = "bee"', "regions[id=b].id"),  # alias = an id
        ('name = "a"', 'name = "b"\naliases = [" "]', "regions[id=b].aliases"),  # empty
    ],
)
def test_a_region_text_naming_two_regions_is_refused(
    make_config: Callable[[str], Config], first: str, second: str, path: str
) -> None:
    with pytest.raises(ConfigError) as info:
        make_config(f'\n[[regions]]\nid = "a"\n{first}\n[[regions]]\nid = "b"\n{second}\n')
    assert path in {p.path for p in info.value.problems}


def test_series_names_equal_once_normalised_are_refused(
    make_config: Callable[[str], Config],
) -> None:
    with pytest.raises(ConfigError) as info:
        make_config("""
            [[sources]]
            name = "s"
            path = "x.csv"
            layout = "long"
            region = "CN"
            columns = { period = "p", value = "v", series = "s" }
            [sources.series]
            "投资:当月值" = { indicator = "fai" }
            "投资:当月值\u00a0" = { indicator = "fai_growth" }
        """)
    assert [p.path for p in info.value.problems] == ['sources[name=s].series."投资:当月值\u00a0"']
