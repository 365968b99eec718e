"""Shared config and files for the tests of units, tasks, reports and problems."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
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


TASKS = """
[[task_files]]
path = "progress.csv"
kind = "progress"

[[tasks]]
id = "R_late"
title = "示范道路整治验收"
unit = "renewal"
deadline = 2026-03-27  # a Friday

[[tasks]]
id = "R_over"
title = "征收补偿方案"
unit = "renewal"
deadline = 2026-03-20

[[tasks]]
id = "R_soon"
title = "片区规划报批"
unit = "renewal"
deadline = 2026-04-01

[[tasks]]
id = "R_qty"
title = "示范道路"
unit = "renewal"
start = 2026-01-05
deadline = 2026-03-27
quantity = 26
quantity_unit = "条"

[[tasks]]
id = "H1"
title = "住房保障台账"
unit = "housing"
deadline = 2026-03-27

[[tasks]]
id = "Y1"
title = "跨年周任务"
unit = "housing"
cadence = "dekad"
start = 2025-12-29
deadline = 2026-01-16
quantity = 10

[[problems]]
id = "P1"
title = "拆迁协调"
unit = "renewal"
task = "R_over"
raised = 2026-03-01
due = 2026-03-10
"""

PROGRESS = """
task,date,quantity,done,note
R_qty,2026-01-09,3,,
R_qty,2026-01-16,2,,
R_qty,2026-01-23,1,,
R_qty,2026-01-30,2,,
R_late,2026-03-28,,是,周六办结
H1,2026-03-27,,是,
Y1,2025-12-30,2,,
"""


def load_lists(make_config: Callable[[str], Config], tmp_path: Path, extra: str = "") -> Config:
    """The units, tasks, problem and reports above, loaded as known from December 2025."""
    write(tmp_path / "progress.csv", PROGRESS)
    config = make_config(UNITS_TOML + TASKS + extra)
    outcomes = ingest(config, when="2025-12-01T00:00:00")
    assert [o.error for o in outcomes] == [None]
    return config
