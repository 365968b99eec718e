"""Shared fixtures: real DuckDB files in tmp_path, the real data in ../shared/data."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, settings

from kpiwatch.config import Config, load_config

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
NBS = DATA / "china_nbs"

# No test may depend on the machine's speed: a busy 2-core machine runs some examples
# (a DuckDB file, a subprocess) slower than Hypothesis' default 200 ms deadline.
settings.register_profile("kpiwatch", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kpiwatch")

BASE_TOML = """
[store]
path = "store.duckdb"

[[regions]]
id = "CN"
name = "全国"

[[regions]]
id = "west_coast"
name = "西海岸新区"
parent = "CN"

[[indicators]]
id = "fai"
name = "固定资产投资"
unit = "亿元"
kind = "flow"

[[indicators]]
id = "fai_growth"
name = "固定资产投资增速"
unit = "%"
kind = "growth"

[[indicators]]
id = "projects_started"
name = "重点项目开工"
unit = "个"
kind = "flow"
"""


@pytest.fixture(scope="session", autouse=True)
def _shared_data() -> None:
    if not NBS.is_dir():
        pytest.fail(f"the real data sets are missing: {DATA} (clone beside ../shared)")


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[[str], Config]:
    """Write BASE_TOML plus extra TOML into tmp_path/config.toml and load it."""

    def make(extra: str = "", base: str = BASE_TOML) -> Config:
        path = tmp_path / "config.toml"
        path.write_text(base + textwrap.dedent(extra), encoding="utf-8")
        return load_config(path)

    return make


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of a DuckDB file, sorted: its content, for equality."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY 1"
            ).fetchall()
        ]
        return {t: con.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall() for t in tables}
    finally:
        con.close()
