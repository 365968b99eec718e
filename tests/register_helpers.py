"""Small project registers and their config, for the register tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import duckdb

from ingest.register_store import RegisterReport, load_register
from ingest.register_wide import MIGRATION, ONE_COPY, REPLACED_ROW
from ingest.store import MIGRATIONS, open_store
from kpiwatch.config import Config, load_config

REGISTER_TOML = """
[store]
path = "store.duckdb"

[[regions]]
id = "west_coast"
name = "西海岸新区"

[[regions]]
id = "ecopark"
name = "中德生态园"
parent = "west_coast"

[[regions]]
id = "dongjiakou"
name = "董家口经济区"
parent = "west_coast"

[[indicators]]
id = "projects_started"
name = "重点项目开工"
unit = "个"
kind = "flow"

[[indicators]]
id = "projects_completed"
name = "重点项目竣工"
unit = "个"
kind = "flow"

[[indicators]]
id = "signed_1"
name = "签约亿元以上项目"
unit = "个"
kind = "flow"

[[indicators]]
id = "signed_50"
name = "签约50亿元以上项目"
unit = "个"
kind = "flow"

[[registers]]
name = "major"
path = "register*.csv"
layout = "{layout}"
nodes = [
  {{id = "signed", name = "签约"}},
  {{id = "land", name = "土地"}},
  {{id = "permit", name = "施工许可", unit = "住建局"}},
  {{id = "started", name = "开工"}},
  {{id = "completed", name = "竣工"}},
]
counts = [
  {{indicator = "projects_started", node = "started"}},
  {{indicator = "projects_completed", node = "completed", confirmed_only = true}},
  {{indicator = "signed_1", node = "signed", min_investment = 1}},
  {{indicator = "signed_50", node = "signed", min_investment = 50}},
]
"""

HEADER = "项目编号,项目名称,区域,责任单位,总投资(亿元)," + ",".join(
    f"{n}计划,{n}实际,{n}认定" for n in ("签约", "土地", "施工许可", "开工", "竣工")
)


def project_line(
    pid: str,
    region: str = "中德生态园",
    investment: str = "10",
    unit: str = "发改局",
    **nodes: tuple[str, str] | tuple[str, str, str],
) -> str:
    """A `projects` layout row; nodes given as node=(planned, reported[, confirmed])."""
    cells = [pid, f"项目{pid}", region, unit, investment]
    for node in ("signed", "land", "permit", "started", "completed"):
        planned, reported, *confirmed = nodes.get(node, ("", ""))
        cells += [planned, reported, confirmed[0] if confirmed else ""]
    return ",".join(cells)


def register_config(tmp: Path, layout: str = "projects", extra: str = "") -> Config:
    """Write and load the register config in `tmp`."""
    path = tmp / "config.toml"
    path.write_text(REGISTER_TOML.format(layout=layout) + extra, encoding="utf-8")
    return load_config(path)


def write_register(path: Path, lines: Sequence[str], encoding: str = "utf-8") -> Path:
    """A register CSV with the standard header."""
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding=encoding)
    return path


def load(config: Config, path: Path, known: str) -> RegisterReport:
    """Load one register file as known on `known` (YYYY-MM-DD)."""
    con = open_store(config.store_path)
    try:
        return load_register(
            con,
            path,
            config.registers[0],
            config.indicator_map(),
            config.regions,
            config.registers,
            known_from=datetime.fromisoformat(known),
        )
    finally:
        con.close()


def query(config: Config, sql: str) -> list[tuple[object, ...]]:
    """Rows of a query on the store."""
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


NARROW = ("project_rows", "node_rows", "project_rows_current", "node_rows_current")


def narrow(con: duckdb.DuckDBPyConnection) -> None:
    """Turn a store back into the narrow tables its views stand for, without the wide
    tables and with the migration to them not applied (a store of older kpiwatch)."""
    for name in NARROW:
        con.execute(f"CREATE TABLE {name}_t AS SELECT * FROM {name}")
        con.execute(f"DROP VIEW {name}")
        con.execute(f"ALTER TABLE {name}_t RENAME TO {name}")
    # the counted nodes' versions as the older views read them
    con.execute(
        "CREATE OR REPLACE VIEW counted_node_rows AS SELECT register, project, node, "
        "reported, confirmed, load_id FROM node_rows SEMI JOIN register_counts "
        "USING (register, node)"
    )
    con.execute("DROP VIEW project_latest; DROP VIEW project_history")
    con.execute("DROP TABLE project_wide; DROP TABLE register_layouts")
    for migration in (MIGRATION, ONE_COPY, REPLACED_ROW):
        version = next(v for v, sql in MIGRATIONS if sql == migration)
        con.execute("DELETE FROM schema_version WHERE version = ?", [version])


def two_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Turn a store back into the two wide tables (every version, each project's latest
    state) its views stand for, with the migration to one table not applied."""
    for name in ("project_history", "project_latest"):
        con.execute(f"CREATE TABLE {name}_t AS SELECT * FROM {name}")
        con.execute(f"DROP VIEW {name}")
        con.execute(f"ALTER TABLE {name}_t RENAME TO {name}")
    con.execute("DROP TABLE project_wide")
    for migration in (ONE_COPY, REPLACED_ROW):
        version = next(v for v, sql in MIGRATIONS if sql == migration)
        con.execute("DELETE FROM schema_version WHERE version = ?", [version])
