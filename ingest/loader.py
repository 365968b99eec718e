"""Load one file: stage, validate every row, then write new vintages all-or-nothing."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from ingest.errors import IngestError, RowError, StoreError
from ingest.files import write_atomic
from ingest.grids import stage_grid
from ingest.mapping import build_period_map, build_region_map, build_series_map
from ingest.readers import stage_long
from ingest.revisions import prior_values, with_status
from ingest.schema import Indicator, Region, Source
from ingest.series_checks import series_errors
from ingest.store import sync_catalog, transaction
from ingest.textfiles import check_readable
from ingest.validate import (
    KEY_ID,
    PERIOD_BITS,
    RID,
    check,
    duplicate_keys,
    error_count,
    mark_conflicts,
    row_errors,
)

ERRORS_KEPT = 1000
TEMP_VIEWS = ("staged", "incoming", "file_rows")
TEMP_TABLES = (
    "raw_rows",
    "series_map",
    "key_map",
    "region_map",
    "region_ids",
    "period_map",
    "period_labels",
    "checked",
    "deduped",
    "file_series",
    "prior",
    "line_runs",
)
# In the packed key k (see ingest.validate.check) k >> 25 names the series and
# k & PERIOD_BITS is the period key yyyy·10⁴ + first month·100 + last month.
# A period key's position in time by its end: yyyymm0n for the n-th 旬 of a month (key
# yyyymm2n), yyyymm99 for periods ending with month mm.
_P = f"(k & {PERIOD_BITS})"
END_ORDER = (
    f"CASE WHEN {_P} % 100 > 20 THEN {_P} // 100 * 100 + {_P} % 100 - 20 "
    f"ELSE ({_P} // 10000 * 100 + {_P} % 100) * 100 + 99 END"
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
    # values older than a stored vintage of their key: kept as history, current unchanged
    older: int


@dataclass(frozen=True)
class LoadReport:
    """The outcome of loading one file."""

    file: str
    source: str
    rows_read: int
    load_id: int | None
    series: list[SeriesReport] = field(default_factory=list)
    # The load that already brought this exact content for this source (then skipped).
    already_loaded: int | None = None
    # Rows loaded with a warning (a falling year-to-date where the source revises).
    flagged: list[RowError] = field(default_factory=list)

    @property
    def new(self) -> int:
        return sum(s.new for s in self.series)

    @property
    def revised(self) -> int:
        return sum(s.revised for s in self.series)

    @property
    def unchanged(self) -> int:
        return sum(s.unchanged for s in self.series)

    @property
    def older(self) -> int:
        return sum(s.older for s in self.series)


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
    check_readable(path)
    # The file's digest is computed beside the checks (hashlib releases the GIL).
    with ThreadPoolExecutor(1) as pool:
        digest = pool.submit(_sha256, path)
        # Content this source already loaded is skipped: loading it again would undo the
        # revisions later files brought (a glob of monthly releases would flip-flop).
        if _scalar(con, _SOURCE_LOADED, [source.name]):
            earlier = _scalar(con, _SAME_CONTENT, [source.name, digest.result()])
            if earlier:
                return LoadReport(str(path), source.name, 0, None, already_loaded=earlier)
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
        rows_read = _stage(con, path, source, indicators, regions, today or date.today(), rejects)
        _validate(con, path, source, regions, rejects)
        known = _file_series(con)
        if known:
            prior_values(con, known_from)
        flags = _refuse_contradictions(con, path, source, known, rejects)
        series = _series_reports(con, known)
        report = LoadReport(str(path), source.name, rows_read, None, series, flagged=flags)
        if report.new + report.revised + report.older == 0:
            with transaction(con):
                sync_catalog(con, indicators.values(), regions)
            return report
        load_id = _write(
            con, digest.result(), source, indicators, regions, known_from, report, known
        )
        return LoadReport(report.file, report.source, rows_read, load_id, series, flagged=flags)
    except duckdb.OutOfMemoryException as exc:
        limit = _setting(con, "memory_limit")
        raise StoreError(
            f"{path}: not loaded, DuckDB ran out of memory under memory_limit = {limit} "
            f"(raise [store] memory_limit): {str(exc).splitlines()[0]}"
        ) from exc
    except duckdb.Error as exc:
        raise StoreError(f"{path}: {exc}") from exc
    finally:
        for view in TEMP_VIEWS:
            con.execute(f"DROP VIEW IF EXISTS temp.{view}")
        for table in TEMP_TABLES:
            con.execute(f"DROP TABLE IF EXISTS temp.{table}")


def _stage(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    source: Source,
    indicators: Mapping[str, Indicator],
    regions: Sequence[Region],
    today: date,
    rejects: Path | None,
) -> int:
    """Stage the file and build its lookup tables; return the number of data rows."""
    try:
        rows = (stage_long if source.layout == "long" else stage_grid)(con, path, source)
    except IngestError as exc:  # a file refused as a whole has its rejects file too
        extra = rejects_written(rejects, exc.errors)
        if not extra:
            raise
        raise IngestError(exc.file, extra + exc.errors, exc.total + len(extra)) from exc
    build_series_map(con, source, indicators, regions)
    build_region_map(con, regions)
    build_period_map(con, today, source.freq)
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
    dups = duplicate_keys(con, len(regions))
    if dups:
        mark_conflicts(con)
    total = error_count(con)
    if total:
        extra = rejects_written(rejects, list(row_errors(con, source, None))) if rejects else []
        kept = list(row_errors(con, source, ERRORS_KEPT))
        raise IngestError(str(path), extra + kept, total + len(extra))
    # Identical repeats of a key inside a file collapse to the first line.
    if dups:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE deduped AS "
            "SELECT k, arg_min(value, line) AS value, min(line) AS line, "
            "arg_min(cell, line) AS cell FROM checked GROUP BY k"
        )
    rows = "deduped" if dups else "checked"
    con.execute(f"CREATE OR REPLACE TEMP VIEW incoming AS SELECT k, value, line, cell FROM {rows}")


def _refuse_contradictions(
    con: duckdb.DuckDBPyConnection, path: Path, source: Source, known: bool, rejects: Path | None
) -> list[RowError]:
    """Refuse rows that contradict others of their series; return the rows flagged."""
    errors, flags = series_errors(con, source, known)
    if errors:
        extra = rejects_written(rejects, errors)
        raise IngestError(str(path), extra + errors)
    return flags


def rejects_written(rejects: Path | None, errors: list[RowError]) -> list[RowError]:
    """Write the rejects file; failing to write it is one more problem to report."""
    if rejects is None:
        return []
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "field", "value", "reason"])
    writer.writerows((e.line, e.field, e.value, e.reason) for e in errors)
    try:
        write_atomic(rejects, out.getvalue())
    except OSError as exc:
        reason = f"the rejects file could not be written: {exc.strerror or exc}"
        return [RowError(0, "rejects", str(rejects), reason)]
    return []


def _file_series(con: duckdb.DuckDBPyConnection) -> bool:
    """file_series: the file's series (kr = k >> 25) with their stored or new series_id.

    Returns whether any of them is already stored (else every value is new).
    """
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE file_series AS
        WITH named AS (
            SELECT kr, km.indicator, ri.region, km.measure
            FROM (SELECT DISTINCT k >> 25 AS kr FROM incoming) f
            JOIN key_map km ON km.key_id = {KEY_ID.format("kr << 25")}
            JOIN region_ids ri ON ri.rid = {RID.format("kr << 25")}
        )
        SELECT n.*, s.series_id AS known_id,
               coalesce(s.series_id,
                        (SELECT coalesce(max(series_id), -1) FROM series)
                        + row_number() OVER (PARTITION BY s.series_id ORDER BY n.kr))
                 AS series_id
        FROM named n LEFT JOIN series s USING (indicator, region, measure)
        """
    )
    return bool(_scalar(con, "SELECT count(known_id) FROM file_series"))


def _series_reports(con: duckdb.DuckDBPyConnection, known: bool) -> list[SeriesReport]:
    rows = con.execute(
        f"""
        WITH g AS (
            SELECT k >> 25 AS kr, count(*) AS n,
                   arg_min(k & {PERIOD_BITS}, {END_ORDER}) AS first_p,
                   arg_max(k & {PERIOD_BITS}, {END_ORDER}) AS last_p,
                   count(*) FILTER (i.status = 'new') AS new,
                   count(*) FILTER (i.status = 'revised') AS revised,
                   count(*) FILTER (i.status = 'unchanged') AS unchanged,
                   count(*) FILTER (i.status = 'older') AS older
            FROM {with_status(known)}
            GROUP BY 1
        )
        SELECT f.indicator, f.region, f.measure, g.n, fp.period, lp.period,
               g.new, g.revised, g.unchanged, g.older
        FROM g JOIN file_series f USING (kr)
        JOIN period_labels fp ON fp.pkey = g.first_p
        JOIN period_labels lp ON lp.pkey = g.last_p
        ORDER BY ALL
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
    known: bool,
) -> int:
    """Record the load, its new series and periods and its new vintages in one transaction."""
    with transaction(con):
        sync_catalog(con, indicators.values(), regions)
        load_id = _scalar(con, "SELECT coalesce(max(load_id), 0) + 1 FROM loads")
        con.execute(
            "INSERT INTO loads VALUES (?, ?, ?, ?, coalesce(?, now()), now(), ?, ?, ?, ?, ?)",
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
                report.older,
            ],
        )
        con.execute(
            "INSERT INTO series SELECT series_id, indicator, region, measure "
            "FROM file_series WHERE known_id IS NULL"
        )
        con.execute(
            "INSERT INTO periods (period, period_start, period_end, months, freq, pkey) "
            "SELECT period, period_start, period_end, months, freq, pkey "
            "FROM period_labels ON CONFLICT DO NOTHING"
        )
        con.execute(
            f"""
            INSERT INTO vintages
            SELECT f.series_id, CAST(i.k & {PERIOD_BITS} AS INTEGER), i.value, $load_id, i.line
            FROM {with_status(known)} JOIN file_series f ON f.kr = i.k >> 25
            WHERE i.status <> 'unchanged'
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


_SOURCE_LOADED = "SELECT count(*) FROM (SELECT 1 FROM loads WHERE source = ? LIMIT 1)"
_SAME_CONTENT = "SELECT min(load_id) FROM loads WHERE source = ? AND sha256 = ?"


def _setting(con: duckdb.DuckDBPyConnection, name: str) -> str:
    return str(con.execute("SELECT current_setting(?)", [name]).fetchall()[0][0])


def _scalar(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] | None = None
) -> int:
    row = con.execute(sql, params).fetchall()[0]
    return int(row[0]) if row and row[0] is not None else 0
