"""Load one file: stage, validate every row, then write new vintages all-or-nothing."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from ingest.errors import IngestError, RowError, StoreError
from ingest.grids import stage_grid
from ingest.mapping import build_period_map, build_region_map, build_series_map
from ingest.readers import stage_long
from ingest.schema import Indicator, Region, Source
from ingest.store import sync_catalog

MISSING = ("", "nan", "NaN", "NA", "N/A", "--", "—", "…", "...")
ERRORS_KEPT = 1000


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
    try:
        return _load(con, path, source, indicators, regions, known_from, today, rejects)
    except duckdb.Error as exc:
        raise StoreError(f"{path}: {exc}") from exc
    finally:
        for table in ("staged", "series_map", "region_map", "period_map", "checked", "incoming"):
            con.execute(f"DROP TABLE IF EXISTS temp.{table}")


def _load(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    source: Source,
    indicators: Mapping[str, Indicator],
    regions: Sequence[Region],
    known_from: datetime | None,
    today: date | None,
    rejects: Path | None,
) -> LoadReport:
    if source.layout == "long":
        stage_long(con, path, source)
    else:
        stage_grid(con, path, source)
    build_series_map(con, source, indicators)
    build_region_map(con, regions)
    build_period_map(con, today or date.today())
    _check(con, source)
    errors, total = _errors(con, source, rejects)
    if errors:
        raise IngestError(str(path), errors, total)
    rows_read = _scalar(con, "SELECT count(DISTINCT line) FROM staged")
    _dedupe(con)
    _classify(con)
    report = LoadReport(str(path), source.name, rows_read, None, _series_reports(con))
    if report.new + report.revised == 0:
        _commit_catalog(con, indicators, regions)
        return report
    load_id = _write(con, path, source, indicators, regions, known_from, report)
    return LoadReport(report.file, report.source, rows_read, load_id, report.series)


def _check(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """checked: every staged value cell with its ids resolved (NULL where unresolved)."""
    missing = ", ".join("'" + m.replace("'", "''") + "'" for m in MISSING)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE checked AS
        SELECT s.line, s.field, s.series, s.region AS region_text, s.period AS period_text,
               s.value AS value_text, m.status, m.indicator, m.measure, m.non_negative,
               coalesce(m.region, r.region_id, CASE WHEN s.region = '' THEN ? END) AS region,
               p.error AS period_error,
               CASE WHEN cum THEN p.c_label ELSE p.p_label END AS period,
               CAST(CASE WHEN cum THEN p.c_start ELSE p.p_start END AS DATE) AS period_start,
               CAST(CASE WHEN cum THEN p.c_end ELSE p.p_end END AS DATE) AS period_end,
               CAST(CASE WHEN cum THEN p.c_months ELSE p.p_months END AS TINYINT) AS months,
               CASE WHEN cum THEN p.c_freq ELSE p.p_freq END AS freq,
               TRY_CAST(replace(trim(s.value), ',', '') AS DOUBLE) * m.scale AS value
        FROM (SELECT *, trim(value) NOT IN ({missing}) AS present FROM staged) s
        JOIN series_map m ON m.series = s.series AND m.measure_text = s.measure
        LEFT JOIN region_map r ON r.text = s.region
        LEFT JOIN period_map p
          ON p.period IS NOT DISTINCT FROM s.period AND p.freq IS NOT DISTINCT FROM s.freq
         AND p.jan_feb IS NOT DISTINCT FROM s.jan_feb,
        LATERAL (SELECT m.measure IN ('ytd', 'ytd_yoy_pct') AS cum)
        WHERE s.present AND m.status <> 'ignore'
        """,
        [source.region],
    )


def _errors(
    con: duckdb.DuckDBPyConnection, source: Source, rejects: Path | None
) -> tuple[list[RowError], int]:
    """Every reason to refuse the file, first lines first; optionally written to a file."""
    cols = source.columns
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE problems AS
        SELECT line, coalesce(?, field) AS field, series AS value,
               CASE status WHEN 'unmapped' THEN 'series is not mapped in [sources.series]'
                           ELSE 'unknown indicator (not in [[indicators]])' END AS reason
        FROM checked WHERE status IN ('unmapped', 'unknown_indicator')
        UNION ALL
        SELECT line, coalesce(?, 'measure'), measure,
               'unknown measure (one of value, ytd, yoy_pct, ytd_yoy_pct)'
        FROM checked WHERE status = 'unknown_measure'
        UNION ALL
        SELECT line, coalesce(?, 'region'), region_text, 'unknown region (not in [[regions]])'
        FROM checked WHERE status = 'ok' AND region IS NULL
        UNION ALL
        SELECT line, coalesce(?, field), period_text, period_error
        FROM checked WHERE status = 'ok' AND period_error IS NOT NULL
        UNION ALL
        SELECT line, field, value_text, 'not a number'
        FROM checked WHERE status = 'ok' AND (value IS NULL OR NOT isfinite(value))
        UNION ALL
        SELECT line, field, value_text, 'negative value for ' || indicator || ' (a count or amount)'
        FROM checked WHERE status = 'ok' AND non_negative AND value < 0
          AND measure IN ('value', 'ytd')
        """,
        [cols.series, cols.measure, cols.region, cols.period],
    )
    con.execute(
        """
        INSERT INTO problems
        SELECT c.line, c.field, c.value_text,
               'duplicate key (' || c.indicator || ', ' || c.region || ', ' || c.period || ', '
               || c.measure || ') with a different value than line ' || d.first_line
        FROM checked c JOIN (
            SELECT indicator, region, period, measure, arg_min(value, line) AS first_value,
                   min(line) AS first_line
            FROM checked WHERE status = 'ok' AND value IS NOT NULL AND period IS NOT NULL
            GROUP BY ALL HAVING min(value) <> max(value)
        ) d USING (indicator, region, period, measure)
        WHERE c.value <> d.first_value
        """
    )
    total = _scalar(con, "SELECT count(*) FROM problems")
    if total and rejects is not None:
        _write_rejects(con, rejects)
    rows = con.execute(
        "SELECT line, field, coalesce(value, ''), reason FROM problems "
        "ORDER BY line, field LIMIT ?",
        [ERRORS_KEPT],
    ).fetchall()
    con.execute("DROP TABLE problems")
    return [RowError(int(a), str(b), str(c), str(d)) for a, b, c, d in rows], total


def _write_rejects(con: duckdb.DuckDBPyConnection, rejects: Path) -> None:
    tmp = rejects.with_name(rejects.name + ".tmp")
    con.execute(
        "COPY (SELECT * FROM problems ORDER BY line, field) TO '"
        + str(tmp).replace("'", "''")
        + "' (HEADER, DELIMITER ',')"
    )
    os.replace(tmp, rejects)


def _dedupe(con: duckdb.DuckDBPyConnection) -> None:
    """incoming: one row per key (identical repeats inside a file collapse)."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE incoming AS
        SELECT indicator, region, period, measure, any_value(value) AS value,
               any_value(period_start) AS period_start, any_value(period_end) AS period_end,
               any_value(months) AS months, any_value(freq) AS freq, min(line) AS line
        FROM checked GROUP BY indicator, region, period, measure
        """
    )


def _classify(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE incoming AS
        SELECT i.*, CASE WHEN l.value IS NULL THEN 'new'
                         WHEN l.value = i.value THEN 'unchanged' ELSE 'revised' END AS change
        FROM incoming i LEFT JOIN (
            SELECT indicator, region, period, measure, value FROM observations_latest
            WHERE indicator IN (SELECT DISTINCT indicator FROM incoming)
        ) l USING (indicator, region, period, measure)
        """
    )


def _series_reports(con: duckdb.DuckDBPyConnection) -> list[SeriesReport]:
    rows = con.execute(
        """
        SELECT indicator, region, measure, count(*), arg_min(period, period_end),
               arg_max(period, period_end), count(*) FILTER (change = 'new'),
               count(*) FILTER (change = 'revised'), count(*) FILTER (change = 'unchanged')
        FROM incoming GROUP BY ALL ORDER BY ALL
        """
    ).fetchall()
    return [SeriesReport(*r) for r in rows]


def _commit_catalog(
    con: duckdb.DuckDBPyConnection, indicators: Mapping[str, Indicator], regions: Sequence[Region]
) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        sync_catalog(con, indicators.values(), regions)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _write(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    source: Source,
    indicators: Mapping[str, Indicator],
    regions: Sequence[Region],
    known_from: datetime | None,
    report: LoadReport,
) -> int:
    """Record the load and its new vintages in one transaction."""
    digest = _sha256(path)
    con.execute("BEGIN TRANSACTION")
    try:
        sync_catalog(con, indicators.values(), regions)
        load_id = _scalar(con, "SELECT coalesce(max(load_id), 0) + 1 FROM loads")
        con.execute(
            "INSERT INTO loads VALUES (?, ?, ?, ?, coalesce(?, now()), now(), ?, ?, ?, ?)",
            [
                load_id,
                source.name,
                str(path),
                digest,
                known_from,
                report.rows_read,
                report.new,
                report.revised,
                report.unchanged,
            ],
        )
        con.execute(
            """
            INSERT INTO observation_vintages
            SELECT indicator, region, period, measure, value, period_start, period_end,
                   months, freq, ?, (SELECT known_from FROM loads WHERE load_id = ?), line
            FROM incoming WHERE change <> 'unchanged'
            """,
            [load_id, load_id],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return load_id


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0
