"""The README's examples work as written: a newcomer copies them first."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import duckdb

from kpiwatch.config import Config, load_config
from tests.ingest_helpers import load

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


SOURCE = """
[[sources]]
name = "sample"
path = "data.csv"
layout = "long"
measure = "value"
columns = { period = "period", region = "region", series = "indicator", value = "value" }
"""
DATA = """period,region,indicator,value
2026年3月,west_coast,projects_started,107
2026年4月,west_coast,projects_started,40
"""


def _toml_blocks() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", README, flags=re.S)


def test_the_configuration_example_passes_check_config(tmp_path: Path) -> None:
    example = next(b for b in _toml_blocks() if "[[regions]]" in b)
    path = tmp_path / "config.toml"
    path.write_text(example, encoding="utf-8")
    config = load_config(path)
    assert {r.id for r in config.regions} >= {"qingdao", "west_coast"}


def test_every_snippet_of_config_toml_keys_is_known(tmp_path: Path) -> None:
    # Each standalone table snippet must load on top of the main example.
    base = next(b for b in _toml_blocks() if "[[regions]]" in b)
    for block in _toml_blocks():
        if block is base or "[[regions]]" in block or "[[sources]]" in block:
            continue
        path = tmp_path / "config.toml"
        path.write_text(base + "\n" + block, encoding="utf-8")
        load_config(path)


def test_the_as_of_examples_read_as_the_readme_says(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    # Loaded today with no --vintage: the March question is empty, the current one is not.
    config = make_config(SOURCE)
    path = tmp_path / "data.csv"
    path.write_text(DATA, encoding="utf-8")
    load(config, path)
    current, march = re.findall(r"`(SELECT \* FROM observations_as_of\([^`]*\))`", README)[-1::-1][
        :2
    ]
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        assert len(con.execute(current).fetchall()) == 2
        assert con.execute(march).fetchall() == []
    finally:
        con.close()
