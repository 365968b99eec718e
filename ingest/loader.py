"""Load one file: stage, validate every row, then write new vintages all-or-nothing."""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from ingest.errors import IngestError, RowError, StoreError
from ingest.grids import stage_grid
from ingest.mapping import build_period_map, build_region_map, build_series_map
from ingest.readers import stage_long
from ingest.schema import Indicator, Region, Source
from ingest.store import sync_catalog, transaction
from ingest.validate import (
    KEY_ID,
    PKEY,
    RID,
    check,
    duplicate_keys,
    error_count,
    mark_conflicts,
    row_errors,
)

ERRORS_KEPT = 1000
TEMP_TABLES = (
    "raw_rows",
    "series_map",
    "key_map",
    "region_map",
    "region_ids",
    "period_map",
    "period_labels",
    "checked",
    "incoming",
)


@dataclass(frozen=True)
class SeriesReport:
    """What one file brought for one indicator × region × measure."""

    indicator: str
    region: str
    measure: str
    values: int
    first_period: str
    last_period: str
    new: int
    revised: int
    unchanged: int


@dataclass(frozen=True)
class LoadReport:
    """The outcome of loading one file."""

    file: str
    source: str
    rows_read: int
    load_id: int | None
    series: list[SeriesReport] = field(default_factory=list)

    @property
    def new(self) -> int:
        return sum(s.new for s in self.series)

    @property
    def revised(self) -> int:
        return sum(s.revised for s in self.series)

    @property
    def unchanged(self) -> int:
        return sum(s.unchanged for s in self.series)


def load_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    source: Source,
    indicators: Mapping[str, Indicator],
    regions: Sequence[Region],
    *,
    known_from: datetime | None = None,
    today: date | None = None,
    rejects: Path | None = None,
) -> LoadReport:
    """Load one file whole, or refuse it with every bad row named and write nothing."""
    if not path.is_file():
        raise IngestError(str(path), [RowError(0, "path", str(path), "no such file")])
    # The file's digest is computed beside the checks (hashlib releases the GIL).
    with ThreadPoolExecutor(1) as pool:
        digest = pool.submit(_sha256, path)
        return _load_file(
            con, path, source, indicators, regions, known_from, today, rejects, digest
        )


def _load_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    source: Source,
    indicators: Mapping[str, Indicator],
    regions: Sequence[Region],
    known_from: datetime | None,
    today: date | None,
    rejects: Path | None,
    digest: Future[str],
) -> LoadReport:
    try:
        rows_read = _stage(con, path, source, indicators, regions, today or date.today())
        _validate(con, path, source, regions, rejects)
        _classify(con)
        report = LoadReport(str(path), source.name, rows_read, None, _series_reports(con))
        if report.new + report.revised == 0:
            with transaction(con):
                sync_catalog(con, indicators.values(), regions)
            return report
        load_id = _write(con, digest.result(), source, indicators, regions, known_from, report)
        return LoadReport(report.file, report.source, rows_read, load_id, report.series)
    except duckdb.OutOfMemoryException as exc:
        limit = _setting(con, "memory_limit")
        raise StoreError(
            f"{path}: not loaded, DuckDB ran out of memory under memory_limit = {limit} "
            f"(raise [store] memory_limit): {str(exc).splitlines()[0]}"
        ) from exc
    except duckdb.Error as exc:
        raise StoreError(f"{path}: {exc}") from exc
    finally:
        con.execute("DROP VIEW IF EXISTS temp.staged")
        for table in TEMP_TABLES:
            con.execute(f"DROP TABLE IF EXISTS temp.{table}")


def _stage(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    source: Source,
    indicators: Mapping[str, Indicator],
    regions: Sequence[Region],
    today: date,
) -> int:
    """Stage the file and build its lookup tables; return the number of data rows."""
    if source.layout == "long":
        rows = stage_long(con, path, source)
    else:
        rows = stage_grid(con, path, source)
    build_series_map(con, source, indicators, regions)
    build_region_map(con, regions)
    build_period_map(con, today)
    return rows


def _validate(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    source: Source,
    regions: Sequence[Region],
    rejects: Path | None,
) -> None:
    """Refuse the file if any row is bad; else leave one good row per key in `incoming`."""
    check(con, source, regions)
    dups = duplicate_keys(con)
    if dups:
        mark_conflicts(con)
    total = error_count(con)
    if total:
        if rejects is not None:
            _write_rejects(rejects, list(row_errors(con, source, None)))
        raise IngestError(str(path), list(row_errors(con, source, ERRORS_KEPT)), total)
    # Identical repeats of a key inside a file collapse to the first line.
    source_rows = (
        "SELECT k, arg_min(value, line) AS value, min(line) AS line FROM checked GROUP BY k"
        if dups
        else "SELECT k, value, line FROM checked"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE incoming AS
        SELECT k, {KEY_ID.format("k")} AS key_id, {RID.format("k")} AS rid,
               {PKEY.format("k")} AS pkey, value, line
        FROM ({source_rows})
        """
    )


def _write_rejects(rejects: Path, errors: list[RowError]) -> None:
    tmp = rejects.with_name(rejects.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["line", "field", "value", "reason"])
        writer.writerows((e.line, e.field, e.value, e.reason) for e in errors)
    os.replace(tmp, rejects)


def _classify(con: duckdb.DuckDBPyConnection) -> None:
    """Add `change` to incoming: new, revised or unchanged against the latest vintage."""
    known = _scalar(
        con,
        "SELECT count(*) FROM (SELECT 1 FROM observation_vintages "
        "WHERE indicator IN (SELECT indicator FROM key_map) LIMIT 1)",
    )
    if not known:
        con.execute("ALTER TABLE incoming ADD COLUMN change VARCHAR DEFAULT 'new'")
        return
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE incoming AS
        WITH latest AS (
            SELECT (k.key_id::BIGINT << 40) | (ri.rid::BIGINT << 25) | pl.pkey AS k, v.value
            FROM (
                SELECT o.indicator, o.region, o.period, o.measure, o.value,
                       row_number() OVER (PARTITION BY o.indicator, o.region, o.period, o.measure
                                          ORDER BY l.known_from DESC, o.load_id DESC) AS rn
                FROM observation_vintages o JOIN loads l USING (load_id)
                WHERE o.indicator IN (SELECT indicator FROM key_map)
            ) v
            JOIN key_map k ON k.indicator = v.indicator AND k.measure = v.measure
            JOIN region_ids ri ON ri.region = v.region
            JOIN period_labels pl ON pl.period = v.period
            WHERE v.rn = 1
        )
        SELECT i.*, CASE WHEN l.value IS NULL THEN 'new'
                         WHEN l.value = i.value THEN 'unchanged' ELSE 'revised' END AS change
        FROM incoming i LEFT JOIN latest l USING (k)
        """
    )


def _series_reports(con: duckdb.DuckDBPyConnection) -> list[SeriesReport]:
    rows = con.execute(
        """
        SELECT k.indicator, ri.region, k.measure, count(*),
               arg_min(pl.period, pl.period_end), arg_max(pl.period, pl.period_end),
               count(*) FILTER (change = 'new'), count(*) FILTER (change = 'revised'),
               count(*) FILTER (change = 'unchanged')
        FROM incoming i
        JOIN key_map k USING (key_id) JOIN region_ids ri USING (rid)
        JOIN period_labels pl USING (pkey)
        GROUP BY ALL ORDER BY ALL
        """
    ).fetchall()
    return [SeriesReport(*r) for r in rows]


def _write(
    con: duckdb.DuckDBPyConnection,
    digest: str,
    source: Source,
    indicators: Mapping[str, Indicator],
    regions: Sequence[Region],
    known_from: datetime | None,
    report: LoadReport,
) -> int:
    """Record the load and its new vintages in one transaction."""
    with transaction(con):
        sync_catalog(con, indicators.values(), regions)
        load_id = _scalar(con, "SELECT coalesce(max(load_id), 0) + 1 FROM loads")
        con.execute(
            "INSERT INTO loads VALUES (?, ?, ?, ?, coalesce(?, now()), now(), ?, ?, ?, ?)",
            [
                load_id,
                source.name,
                report.file,
                digest,
                known_from,
                report.rows_read,
                report.new,
                report.revised,
                report.unchanged,
            ],
        )
        con.execute(
            "INSERT INTO periods SELECT period, period_start, period_end, months, freq "
            "FROM period_labels ON CONFLICT DO NOTHING"
        )
        con.execute(
            """
            INSERT INTO observation_vintages
            SELECT k.indicator, ri.region, pl.period, k.measure, i.value, $load_id, i.line
            FROM incoming i
            JOIN key_map k USING (key_id) JOIN region_ids ri USING (rid)
            JOIN period_labels pl USING (pkey)
            WHERE i.change <> 'unchanged'
            """,
            {"load_id": load_id},
        )
    return load_id


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _setting(con: duckdb.DuckDBPyConnection, name: str) -> str:
    return str(con.execute("SELECT current_setting(?)", [name]).fetchall()[0][0])


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchall()[0]
    return int(row[0]) if row and row[0] is not None else 0
