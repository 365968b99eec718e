"""One invariant helper for every ingest test: what a successful load must leave behind."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ingest.loader import LoadReport, load_file
from ingest.store import open_store
from kpiwatch.config import Config


def load(config: Config, path: Path, source: str | None = None, **kw: object) -> LoadReport:
    """Load one file with the named (or only) source into the config's store."""
    by_name = {s.name: s for s in config.sources}
    src = by_name[source] if source else config.sources[0]
    con = open_store(config.store_path)
    try:
        report = load_file(con, path, src, config.indicator_map(), config.regions, **kw)  # type: ignore[arg-type]
        check_store_invariants(con)
    finally:
        con.close()
    return report


def check_store_invariants(con: duckdb.DuckDBPyConnection) -> None:
    """Every vintage has its load; one latest per key; no temp tables leak into main."""
    orphans = con.execute(
        "SELECT count(*) FROM observation_vintages WHERE load_id NOT IN (SELECT load_id FROM loads)"
    ).fetchone()
    assert orphans == (0,)
    dup_latest = con.execute(
        "SELECT count(*) FROM (SELECT indicator, region, period, measure FROM observations_latest "
        "GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone()
    assert dup_latest == (0,)
    counted = con.execute(
        "SELECT coalesce(sum(new_values + revised_values + older_values), 0) FROM loads"
    ).fetchone()
    stored = con.execute("SELECT count(*) FROM observation_vintages").fetchone()
    assert counted == stored


def value(config: Config, indicator: str, region: str, period: str, measure: str) -> float | None:
    """The latest stored value of one key (None when absent)."""
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        row = con.execute(
            "SELECT value FROM observations_latest WHERE indicator = ? AND region = ? "
            "AND period = ? AND measure = ?",
            [indicator, region, period, measure],
        ).fetchone()
    finally:
        con.close()
    return None if row is None else float(row[0])


# The hostile-file corpus: files that must be refused whole, naming the physical line an
# editor shows and the field. Each case writes its file into a folder and gives the
# [[sources]] settings (besides name and path) that read it.
LONG_SOURCE = """
layout = "long"
region = "west_coast"
indicator = "fai"
columns = { period = "period", value = "value" }
"""
REGION_SOURCE = """
layout = "long"
indicator = "fai"
columns = { period = "period", value = "value", region = "region" }
"""
COLUMNS_SOURCE = """
layout = "columns"
region = "west_coast"
indicator = "projects_started"
columns = { period = "月份" }
series = { ytd = { measure = "ytd" } }
"""


@dataclass(frozen=True)
class Hostile:
    """One hostile file: how to write it, how to read it, where the refusal must point."""

    name: str
    write: Callable[[Path], Path]
    source: str
    line: int
    field: str


def text_file(data: bytes, suffix: str = ".csv") -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / f"hostile{suffix}"
        path.write_bytes(data)
        return path

    return write


def workbook(rows: list[list[object]], edit: Callable[[Any], None] | None = None) -> Any:
    """A one-sheet workbook named data holding `rows`, changed by `edit`."""
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = "data"
    for row in rows:
        ws.append(row)
    if edit is not None:
        edit(book)
    return book


def xlsx_file(
    rows: list[list[object]],
    edit: Callable[[Any], None] | None = None,
    patch: Callable[[str, bytes], bytes] | None = None,
) -> Callable[[Path], Path]:
    """Write a workbook; `patch` rewrites any part of the saved archive by its name."""

    def write(folder: Path) -> Path:
        path = folder / "hostile.xlsx"
        workbook(rows, edit).save(path)
        if patch is not None:
            with zipfile.ZipFile(path) as src:
                parts = [(i, patch(i.filename, src.read(i))) for i in src.infolist()]
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
                for info, data in parts:
                    dst.writestr(info.filename, data)
        return path

    return write


def claim_dimension(name: str, data: bytes) -> bytes:
    """Make every sheet declare the largest size a sheet can have."""
    if not name.startswith("xl/worksheets/"):
        return data
    return re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', data)


def understate_dimension(name: str, data: bytes) -> bytes:
    """Make every sheet declare itself smaller than it is: the actual size must count."""
    if not name.startswith("xl/worksheets/"):
        return data
    return re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:B2"', data)


def bomb(name: str, data: bytes) -> bytes:
    """Inflate the sheet with 5 MB of whitespace inside its XML (a few KB zipped)."""
    if not name.startswith("xl/worksheets/"):
        return data
    return data.replace(b"<sheetData>", b"<sheetData>" + b" " * 5_000_000, 1)


def _hide_row(book: Any) -> None:
    book["data"].row_dimensions[3].hidden = True


def _hide_column(book: Any) -> None:
    book["data"].column_dimensions["C"].hidden = True


MONTHS = [["月份", "ytd"], ["2026年1-2月", 150], ["2026年3月", 257]]

HOSTILE = [
    Hostile(
        "missing-value-month-13",
        text_file("period,value\n2026-01,1\n2026-13,—\n".encode()),
        LONG_SOURCE,
        3,
        "period",
    ),
    Hostile(
        "missing-value-unknown-region",
        text_file(b"period,region,value\n2026-01,west_coast,1\n2026-02,atlantis,...\n"),
        REGION_SOURCE,
        3,
        "region",
    ),
    Hostile(
        "final-line-over-32MB",
        text_file(b"period,value\n2026-01,1\n2026-02," + b"1" * 33_000_000 + b"\n"),
        LONG_SOURCE,
        3,
        "line",
    ),
    Hostile(
        "line-over-limit-inside",
        text_file(b"period,value\n2026-01," + b"2" * 1_500_000 + b"\n2026-02,1\n"),
        LONG_SOURCE,
        2,
        "line",
    ),
    Hostile(
        "header-line-over-limit",
        text_file(b"period,value," + b"h" * 2_000_000 + b"\n"),
        LONG_SOURCE,
        1,
        "line",
    ),
    Hostile(
        "header-field-200KB",
        text_file(b"period,value," + b"h" * 200_000 + b"\n2026-01,1,\n"),
        LONG_SOURCE,
        1,
        "csv",
    ),
    Hostile(
        "value-under-blank-header",
        text_file(b"period,value,\n2026-01,1,\n2026-02,2,5\n"),
        LONG_SOURCE,
        3,
        "column 3",
    ),
    Hostile(
        "blank-lines-before-a-bad-value",
        text_file(b"period,value\n\n2026-01,1\n\n\n2026-02,x\n"),
        LONG_SOURCE,
        6,
        "value",
    ),
    Hostile(
        "quoted-line-break-before-a-bad-value",
        text_file(b'period,value,note\n2026-01,1,"two\nlines"\n2026-02,x,\n'),
        LONG_SOURCE,
        4,
        "value",
    ),
    Hostile(
        "short-row-long-layout",
        text_file(b"period,value\n2026-01,1\n\n2026-02\n"),
        LONG_SOURCE,
        4,
        "csv",
    ),
    Hostile(
        "short-row-columns-layout",
        text_file("月份,ytd,note\n2026年1-2月,150,a\n2026年3月\n".encode()),
        COLUMNS_SOURCE + 'unmapped = "ignore"\n',
        3,
        "csv",
    ),
    Hostile(
        "quote-never-closed-long-layout",
        text_file(b'period,value\n2026-01,1\n2026-02,"2\n2026-03,3\n'),
        LONG_SOURCE,
        3,
        "csv",
    ),
    Hostile(
        "quote-never-closed-columns-layout",
        text_file('月份,ytd\n2026年1-2月,150\n2026年3月,"257\n2026年4月,300\n'.encode()),
        COLUMNS_SOURCE,
        3,
        "csv",
    ),
    Hostile(
        "invalid-utf8",
        text_file(b"period,value\n2026-01,1\n2026-02,\xff\n"),
        LONG_SOURCE + 'encoding = "utf-8"\n',
        3,
        "encoding",
    ),
    Hostile(
        "invalid-gbk",
        text_file(b"period,value\n2026-01,1\n2026-02,\x81\n"),
        LONG_SOURCE + 'encoding = "gbk"\n',
        3,
        "encoding",
    ),
    Hostile(
        "invalid-utf16",
        text_file("period,value\n2026-01,1\n".encode("utf-16") + b"\x00\xd8"),
        LONG_SOURCE,
        3,
        "encoding",
    ),
    Hostile(
        "mixed-line-endings",
        text_file(b"period,value\r\n2026-01,1\n2026-02,2\r\n"),
        LONG_SOURCE,
        2,
        "line ending",
    ),
    Hostile(
        "xlsx-declaring-A1-XFD1048576",
        xlsx_file(MONTHS, patch=claim_dimension),
        COLUMNS_SOURCE,
        0,
        "size",
    ),
    Hostile(
        "xlsx-zip-bomb",
        xlsx_file(MONTHS, patch=bomb),
        COLUMNS_SOURCE + "[sources.limits]\nworkbook_bytes = 1_000_000\n",
        0,
        "size",
    ),
    Hostile(
        "xlsx-more-rows-than-the-limit",
        xlsx_file(
            [["月份", "ytd"]] + [[f"{y}年{m}月", m] for y in (2024, 2025) for m in range(1, 13)],
            patch=understate_dimension,
        ),
        COLUMNS_SOURCE + "[sources.limits]\nrows = 10\n",
        11,
        "size",
    ),
    Hostile(
        "csv-grid-over-the-cell-limit",
        text_file(("月份,ytd\n" + "2026年3月,1\n" * 50).encode()),
        COLUMNS_SOURCE + "[sources.limits]\ncells = 60\n",
        31,
        "size",
    ),
    Hostile(
        "wide-header-times-rows-over-the-cell-limit",
        xlsx_file(
            [["月份", "ytd", *[f"x{i}" for i in range(300)]], *[["2026年3月", 1]] * 40],
            patch=understate_dimension,
        ),
        COLUMNS_SOURCE + 'unmapped = "ignore"\n[sources.limits]\ncells = 10_000\n',
        1,
        "size",
    ),
    Hostile("not-a-workbook", text_file(b"period,value\n", ".xlsx"), COLUMNS_SOURCE, 0, "workbook"),
    Hostile(
        "xlsx-hidden-row",
        xlsx_file([*MONTHS, ["2026年4月", 300]], _hide_row),
        COLUMNS_SOURCE,
        3,
        "data!A3",
    ),
    Hostile(
        "xlsx-hidden-column",
        xlsx_file([["月份", "ytd", "ytd2"], ["2026年3月", 257, 1]], _hide_column),
        COLUMNS_SOURCE + 'unmapped = "ignore"\n',
        1,
        "data!C1",
    ),
]
