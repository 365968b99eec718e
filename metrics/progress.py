"""The checks stage: compute every progress check and store it in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from ingest.schema import Indicator, Region
from ingest.store import transaction
from metrics.actuals import actuals_table, derived_growth
from metrics.checks import CLEAR, drop_check_tables, prepare_checks
from metrics.project_dekads import dekad_checks, write_dekad_checks
from metrics.schema import Checks, Target, Thresholds
from metrics.targets import target_tables


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
    *,
    mismatches: pd.DataFrame | None = None,
) -> ChecksReport:
    """Recompute all checks from the store and replace progress_checks atomically.

    With `mismatches`, the caller holds the temp table `actuals` (see actuals_table).
    """
    by_region = {r.id: r.owner for r in regions}
    owners = [t.owner or by_region.get(t.region) for t in targets]
    if mismatches is None:
        derived = derived_growth(indicators.values())
        with actuals_table(con, regions, settings.rollup_tolerance, derived) as found:
            return _run_checks(con, targets, indicators, thresholds, settings, today, found, owners)
    return _run_checks(con, targets, indicators, thresholds, settings, today, mismatches, owners)


def _run_checks(
    con: duckdb.DuckDBPyConnection,
    targets: Sequence[Target],
    indicators: Mapping[str, Indicator],
    thresholds: Callable[[str], Thresholds],
    settings: Checks,
    today: date | None,
    mismatches: pd.DataFrame,
    owners: Sequence[str | None],
) -> ChecksReport:
    try:
        store: tuple[str, ...] = ()
        day = today or date.today()
        dekads = dekad_checks(con, targets, indicators, thresholds, day, last=None)
        if targets:
            target_tables(con, targets, indicators, thresholds, owners)
            store = prepare_checks(
                con,
                day,
                settings.release_lag_days_monthly,
                settings.release_lag_days_quarterly,
            )
        with transaction(con):
            for sql in CLEAR + store:
                con.execute(sql)
            write_dekad_checks(con, dekads)
            con.execute("DELETE FROM rollup_mismatches")
            if len(mismatches):
                con.register("_mismatches", mismatches)
                con.execute("INSERT INTO rollup_mismatches SELECT * FROM _mismatches")
                con.unregister("_mismatches")
            con.execute("DELETE FROM status_labels")
            con.executemany(
                "INSERT INTO status_labels VALUES (?, ?)", list(settings.labels.items())
            )
        row = con.execute("SELECT count(*) FROM progress_checks").fetchall()[0]
        return ChecksReport(int(row[0]) if row else 0, len(targets), len(mismatches))
    finally:
        drop_check_tables(con)
        for table in ("targets_t", "curves"):
            con.execute(f"DROP TABLE IF EXISTS temp.{table}")
