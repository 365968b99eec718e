"""The three-colour board, and reading the store for the CLI's read-only verbs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import duckdb

from ingest.errors import StoreError, UsageError
from ingest.grains import SpanError, parse_span
from ingest.periods import Period, PeriodError, parse_period
from ingest.store import MIGRATIONS, open_store, schema_version
from kpiwatch.config import Config
from metrics.ladder import progress_with_levels
from metrics.project_dekads import dekad_board


@contextmanager
def read_store(config: Config) -> Iterator[duckdb.DuckDBPyConnection]:
    """The store opened read-only; an older schema or a failing query is a StoreError."""
    path = config.store_path
    con = open_store(path, True, config.store.memory_limit)
    try:
        if schema_version(con) < MIGRATIONS[-1][0]:
            # read-only opens never migrate: the views this kpiwatch reads are not there
            raise StoreError(f"{path}: made by an older kpiwatch; run kpiwatch refresh first")
        yield con
    except duckdb.Error as exc:
        raise StoreError(f"{path}: {exc}") from exc
    finally:
        con.close()


# The latest check of each target (at or before the as-of month when one is given: a
# quarterly series is read at the quarter containing it). Without an as-of, every year
# still open is shown (its final period not yet checked) and the latest year always.
# A target without a year target appears on the year's board by its quarter.
BOARD_SQL = """
WITH years AS (SELECT DISTINCT indicator, region, year FROM progress WHERE horizon = 'year'),
p AS (
    SELECT pr.*, month(as_of_end) AS m FROM {source} pr
    LEFT JOIN years y USING (indicator, region, year)
    -- a target the plan gives only quarters for shows its quarter on the year's board
    WHERE (horizon = $horizon OR $horizon = 'year' AND horizon = 'quarter' AND y.year IS NULL)
      AND ($region IS NULL OR region = $region)
      AND ($year IS NULL OR year = $year AND month(as_of_end)
           <= CASE WHEN as_of LIKE '%Q%' THEN ($month + 2) // 3 * 3 ELSE $month END)
),
latest AS (
    SELECT indicator, region, year, max(as_of_end) AS as_of_end FROM p GROUP BY ALL
)
SELECT p.status, p.status_label, p.indicator_name, p.region_name, p.as_of, p.horizon,
       p.attainment, p.reason, p.owner, p.kind, p.illustrative,
       CASE WHEN p.escalation_level > 0 THEN p.escalation ELSE '' END
FROM p JOIN latest USING (indicator, region, year, as_of_end)
WHERE $year IS NOT NULL OR p.m < 12 OR p.year = (SELECT max(year) FROM latest)
ORDER BY CASE p.status WHEN 'behind' THEN 0 WHEN 'at_risk' THEN 1 WHEN 'no_data' THEN 2
         ELSE 3 END,
         CASE WHEN p.kind = 'growth' THEN p.attainment ELSE p.attainment - 1 END NULLS FIRST,
         p.indicator, p.region, p.year
"""


def as_of_period(text: str) -> Period:
    """The period `--as-of` names, in any form a release uses (2026-03, 2026Q1, 2026年3月)."""
    try:
        return parse_period(text)
    except PeriodError as exc:
        raise UsageError(f"--as-of {text!r}: {exc}") from exc


def board(
    config: Config, region: str | None, as_of: Period | None, horizon: str
) -> list[tuple[object, ...]]:
    """The three-colour board: latest check per target, worst first."""
    with read_store(config) as con:
        return con.execute(
            BOARD_SQL.format(source=progress_with_levels(con)),
            {
                "year": as_of.year if as_of else None,
                "month": as_of.last_month if as_of else None,
                "region": region,
                "horizon": horizon,
            },
        ).fetchall()


def as_of_day(text: str) -> date:
    """The last day of the period `--as-of` names for the 旬 board (2026-03-D2, 2026-03)."""
    try:
        return parse_span(text).end
    except SpanError as exc:
        raise UsageError(f"--as-of {text!r}: {exc}") from exc


def dekad_rows(config: Config, region: str | None, as_of: str | None) -> list[tuple[object, ...]]:
    """The board's 旬 horizon: each register-count target at its latest 旬 by as_of."""
    with read_store(config) as con:
        return dekad_board(con, region, as_of_day(as_of) if as_of else None)
