"""The events layout (one row per project × node): a CSV read by DuckDB, a workbook row by
row, to the same rules: the same store when valid, the same errors when not."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest

from ingest.errors import IngestError
from tests.register_helpers import load, query, register_config

HEAD = "项目编号,项目名称,区域,责任单位,总投资(亿元),节点,计划日期,实际日期,认定日期,认定人"
ROWS = [
    "P1,一号,中德生态园,发改局,60,签约,2026-01-05,2026-01-05,2026-01-08,张三",
    "P1,一号,中德生态园,发改局,60,started,2026-03-01,2026/3/2,,",
    "P1,一号,中德生态园,发改局,60,竣工,2027-01-01,,,",
    'P2,二号,董家口经济区,工信局,"1,200",土地,2026-02-01,,,',
    'P2,二号,董家口经济区,工信局,"1,200",施工许可,2026-03-01,46082,,',
    "P3,三号,west_coast,住建局,0.5,开工,2026-03-10,2026年3月12日,,",
    "P3,三号,west_coast,住建局,0.5,签约,,,,",  # a node without dates: nothing to store
    "P4,四号,中德生态园,发改局,,ｓｉｇｎｅｄ,2026-02-01,2026-02-03,,",  # full-width id
]
VIEWS = ("project_nodes", "projects", "project_counts", "observations_latest")


def _write(path: Path, rows: list[str]) -> Path:
    if path.suffix == ".csv":
        path.write_text("\n".join([HEAD, *rows]) + "\n", encoding="utf-8")
        return path
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for line in [HEAD, *rows]:
        sheet.append(next(csv.reader([line])))
    book.save(path)
    return path


def _stored(tmp: Path, suffix: str) -> dict[str, list[tuple[object, ...]]]:
    tmp.mkdir()
    config = register_config(tmp, layout="events")
    load(config, _write(tmp / f"register{suffix}", ROWS), "2026-03-20")
    return {
        v: query(config, f"SELECT * {'EXCLUDE (file)' if 'obs' in v else ''} FROM {v} ORDER BY ALL")
        for v in VIEWS
    }


def test_csv_and_workbook_events_read_alike(tmp_path: Path) -> None:
    from_csv = _stored(tmp_path / "csv", ".csv")
    assert from_csv == _stored(tmp_path / "xlsx", ".xlsx")
    nodes = [r for r in from_csv["project_nodes"] if r[1] == "P4" and r[14] is not None]
    assert [r[6] for r in nodes] == ["signed"]
    assert len(from_csv["observations_latest"]) > 0


@pytest.mark.parametrize(
    "bad",
    [
        "P1,一号,中德生态园,发改局,60,拆迁,,,,",  # no such node
        "P1,一号,中德生态园,发改局,60,签约,2026-01-06,,,",  # the node twice
        "P1,一号,中德生态园,发改局,70,土地,2026-01-06,,,",  # details differ from line 2
        "P5,五号,火星,发改局,1,土地,2026-01-06,,,",  # no such region
        "P5,五号,中德生态园,发改局,1,土地,2026-02-30,,,",  # no such day
        "P5,五号,中德生态园,发改局,1,土地,2026-01-06,2026-04-01,,",  # reported in the future
        "P5,五号,中德生态园,发改局,1,土地,2026-01-06,,2026-01-07,",  # confirmed, never reported
        "P3,三号,west_coast,住建局,0.5,竣工,2026-12-01,2026-03-01,,",  # completed before started
        ",五号,中德生态园,发改局,1,土地,2026-01-06,,,",  # no id
        "P5,五号,中德生态园,发改局,-1,土地,2026-01-06,,,",  # a negative investment
    ],
)
def test_csv_and_workbook_events_refuse_alike(tmp_path: Path, bad: str) -> None:
    errors = []
    for suffix in (".csv", ".xlsx"):
        config = register_config(tmp_path, layout="events")
        with pytest.raises(IngestError) as refused:
            load(config, _write(tmp_path / f"register{suffix}", [*ROWS, bad]), "2026-03-20")
        errors.append([(e.line, e.field, e.value, e.reason) for e in refused.value.errors])
        assert not query(config, "SELECT * FROM node_rows")
    assert errors[0] == errors[1]
    assert errors[0][0][0] == len(ROWS) + 2
