"""Shared config and files for the tests of units, tasks, reports and problems."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path

import duckdb

from ingest.store import open_store
from kpiwatch import app
from kpiwatch.config import Config

UNITS_TOML = """
[[units]]
id = "tf3"
name = "重要工作推进专班"
kind = "task_force"
parent = "west_coast"
lead = "王某"

[[units]]
id = "renewal"
name = "城市更新和城市建设攻坚指挥部"
kind = "department"
parent = "tf3"
task_force = "tf3"
lead = "李某"
people = ["赵某", "钱某"]
supporting = ["housing"]

[[units]]
id = "housing"
name = "住房和城乡建设局"
kind = "department"
parent = "tf3"
task_force = "tf3"

[[units]]
id = "idle_co"
name = "城投集团"
kind = "company"
parent = "tf3"
task_force = "tf3"
"""


def write(path: Path, text: str) -> Path:
    """Write a file (dedented) and return its path."""
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def ingest(config: Config, *files: Path, when: str | None = None) -> list[app.FileOutcome]:
    """Run kpiwatch's ingest on the files (known from `when`, an ISO timestamp)."""
    known = datetime.fromisoformat(when) if when else None
    return app.ingest(config, list(files), known_from=known)


def query(config: Config, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    """Rows of one query against the config's store."""
    con: duckdb.DuckDBPyConnection = open_store(config.store_path)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()
