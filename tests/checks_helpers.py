"""Run the real pipeline (ingest → checks) on a small CSV and read the progress view."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import duckdb

from kpiwatch import app
from kpiwatch.config import Config, load_config

CONFIG = """
[[regions]]
id = "west_coast"
name = "西海岸新区"
[[regions]]
id = "zone_a"
name = "A区"
parent = "west_coast"
[[regions]]
id = "zone_b"
name = "B区"
parent = "west_coast"
[[regions]]
id = "CN"
name = "全国"

[[indicators]]
id = "projects_started"
name = "重点项目开工"
unit = "个"
kind = "flow"
owner = "发展改革局"
[[indicators]]
id = "gdp_growth"
name = "GDP growth"
unit = "%"
kind = "growth"
frequency = "quarterly"
[[indicators]]
id = "energy"
name = "能耗"
unit = "万吨标准煤"
kind = "flow"
direction = "lower"

[[sources]]
name = "data"
path = "data.csv"
layout = "long"
[sources.columns]
period = "period"
region = "region"
series = "indicator"
measure = "measure"
value = "value"
"""


def pipeline(
    tmp: Path, rows: str, extra: str = "", today: date = date(2026, 11, 1), base: str = CONFIG
) -> Config:
    """Write config and data, ingest, compute checks; return the config."""
    (tmp / "config.toml").write_text(base + textwrap.dedent(extra), encoding="utf-8")
    header = "period,region,indicator,measure,value\n"
    (tmp / "data.csv").write_text(header + textwrap.dedent(rows).strip() + "\n", encoding="utf-8")
    config = load_config(tmp / "config.toml")
    outcomes = app.ingest(config)
    assert all(o.error is None for o in outcomes), [str(o.error) for o in outcomes]
    app.refresh_checks(config, today)
    return config


def progress(
    config: Config, where: str = "true", params: list[object] | None = None
) -> list[dict[str, object]]:
    """Rows of the progress view as dicts, ordered by as-of, horizon."""
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        cur = con.execute(
            f"SELECT * FROM progress WHERE {where} ORDER BY region, as_of_end, horizon",
            params or [],
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def one(
    config: Config, region: str, as_of: str, horizon: str, indicator: str = "projects_started"
) -> dict[str, object]:
    rows = progress(
        config,
        "indicator = ? AND region = ? AND as_of = ? AND horizon = ?",
        [indicator, region, as_of, horizon],
    )
    assert len(rows) == 1, rows
    return rows[0]
