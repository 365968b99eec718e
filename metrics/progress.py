"""The checks stage: compute every progress check and store it in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import duckdb

from ingest.schema import Indicator, Region
from metrics.actuals import build_actuals
from metrics.checks import compute_checks
from metrics.schema import Checks, Target, Thresholds
from metrics.targets import target_tables

REASON = """
CASE WHEN status = 'no_data' THEN 'no data for ' || as_of
ELSE concat_ws('; ',
    CASE WHEN kind = 'growth'
         THEN printf('%.2f%% against %.2f%% (%+.2f pp)', actual, pace, gap)
         WHEN attainment IS NULL THEN printf('%.2f done, nothing due yet', actual)
         ELSE printf('%.2f done of %.2f due by %s (%.1f%% of pace)',
                     actual, pace, as_of, attainment * 100) END,
    CASE WHEN required_rate IS NOT NULL AND (direction = 'higher') = (required_rate > 0)
         THEN printf('%.2f a %s needed to reach %.2f by %s', abs(required_rate),
                     CASE step WHEN 3 THEN 'quarter' ELSE 'month' END, horizon_target, h_label)
         WHEN required_rate IS NOT NULL AND horizon <> 'month'
         THEN printf('%s target of %.2f already reached', horizon, horizon_target) END,
    cascade_note,
    CASE WHEN stale THEN 'the next release is late' END,
    CASE WHEN rolled_up THEN 'summed from sub-regions' END)
END
"""

STORE = f"""
INSERT INTO progress_checks
SELECT indicator, region, year, as_of, last_day(make_date(year, m, 1)), horizon,
       last_day(make_date(year, h_end, 1)), actual, pace, horizon_target, attainment, gap,
       required_rate, remaining, raw_status, status, {REASON}, pacing, rolled_up,
       coalesce(stale, false), rank_in_parent, now()
FROM (
    SELECT *,
           CASE step WHEN 3 THEN printf('%dQ%d', year, m // 3)
                ELSE printf('%d-%02d', year, m) END AS as_of,
           CASE step WHEN 3 THEN printf('%dQ%d', year, h_end // 3)
                ELSE printf('%d-%02d', year, h_end) END AS h_label
    FROM checks_out
)
"""


@dataclass(frozen=True)
class ChecksReport:
    """What one run of the checks produced."""

    rows: int
    targets: int
    mismatches: int


def run_checks(
    con: duckdb.DuckDBPyConnection,
    targets: Sequence[Target],
    indicators: Mapping[str, Indicator],
    regions: Sequence[Region],
    thresholds: Callable[[str], Thresholds],
    settings: Checks,
    today: date | None = None,
) -> ChecksReport:
    """Recompute all checks from the store and replace progress_checks atomically."""
    mismatches = build_actuals(con, regions, settings.rollup_tolerance)
    try:
        if targets:
            target_tables(con, targets, indicators, thresholds)
            compute_checks(
                con,
                today or date.today(),
                settings.release_lag_days_monthly,
                settings.release_lag_days_quarterly,
            )
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM progress_checks")
            if targets:
                con.execute(STORE)
            con.execute("DELETE FROM rollup_mismatches")
            if len(mismatches):
                con.register("_mismatches", mismatches)
                con.execute("INSERT INTO rollup_mismatches SELECT * FROM _mismatches")
                con.unregister("_mismatches")
            con.execute("DELETE FROM status_labels")
            con.executemany(
                "INSERT INTO status_labels VALUES (?, ?)", list(settings.labels.items())
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        row = con.execute("SELECT count(*) FROM progress_checks").fetchone()
        return ChecksReport(int(row[0]) if row else 0, len(targets), len(mismatches))
    finally:
        for table in ("actuals", "targets_t", "pace_t", "checks_out"):
            con.execute(f"DROP TABLE IF EXISTS temp.{table}")
