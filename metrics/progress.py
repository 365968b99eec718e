"""The checks stage: compute every progress check and store it in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from ingest.schema import Indicator, Region, per_dekad
from ingest.store import transaction
from metrics.actuals import actuals_table, derived_growth
from metrics.checks import CLEAR, CLEAR_SOME, RESTALE, drop_check_tables, prepare_checks
from metrics.dekad_series import dekad_series_checks
from metrics.dekad_stale import dekad_releases, write_dekad_releases
from metrics.project_dekads import dekad_checks, write_dekad_checks
from metrics.schema import Checks, Target, Thresholds
from metrics.scope import Plan, forget_state
from metrics.targets import Paces, target_tables


@dataclass(frozen=True)
class ChecksReport:
    """What one run of the checks produced (rows and mismatches in the whole store)."""

    rows: int
    targets: int
    mismatches: int
    recomputed: int = 0  # targets whose checks this run computed


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
    plan: Plan | None = None,
    paces: Paces | None = None,
) -> ChecksReport:
    """Recompute the checks of the planned targets (all without a plan) atomically.

    With `mismatches`, the caller holds the temp table `actuals` (see actuals_table),
    read for the plan's series; `paces` are the curves of the plan's targets.
    """
    owners = {r.id: r.owner for r in regions}
    job = Job(targets, indicators, thresholds, settings, today or date.today(), owners, regions)
    if mismatches is None:
        derived = derived_growth(indicators.values())
        with actuals_table(con, regions, settings.rollup_tolerance, derived) as found:
            return _run_checks(con, job, found, None, None)
    return _run_checks(con, job, mismatches, plan, paces)


@dataclass(frozen=True)
class Job:
    """The config a run of the checks reads."""

    targets: Sequence[Target]
    indicators: Mapping[str, Indicator]
    thresholds: Callable[[str], Thresholds]
    settings: Checks
    today: date
    owners: Mapping[str, str | None]  # by region
    regions: Sequence[Region] = ()


def _run_checks(
    con: duckdb.DuckDBPyConnection,
    job: Job,
    mismatches: pd.DataFrame,
    plan: Plan | None,
    paces: Paces | None,
) -> ChecksReport:
    ids = None if plan is None else plan.ids
    chosen = job.targets if ids is None else [job.targets[i] for i in ids]
    try:
        store: tuple[str, ...] = ()
        # the 旬 checks of register counts are judged on the day: every refresh, all
        dekads = dekad_checks(con, job.targets, job.indicators, job.thresholds, job.today, None)
        # those of 旬 figures only change with the figures: the recomputed targets' (the
        # actuals hold their series alone), the others' stay as stored
        dekads += dekad_series_checks(
            con, chosen, job.indicators, job.thresholds, job.today, job.regions
        )
        kept = per_dekad(job.indicators.values())
        kept = kept if ids is not None else set()
        replaced = (
            [(t.indicator, t.region, t.year) for t in chosen if t.indicator in kept] if kept else []
        )
        lag = job.settings.release_lag_days_dekad
        releases = dekad_releases(con, job.targets, job.indicators, job.regions, job.today, lag)
        if chosen:
            owners = [t.owner or job.owners.get(t.region) for t in chosen]
            target_tables(con, chosen, job.indicators, job.thresholds, owners, ids=ids, paces=paces)
            s = job.settings
            lags = (s.release_lag_days_monthly, s.release_lag_days_quarterly)
            store = prepare_checks(con, job.today, *lags)
        with transaction(con):
            _replace(con, plan, store, mismatches, job)
            write_dekad_checks(con, dekads, sorted(kept), replaced)
            write_dekad_releases(con, releases, job.today)
        row = con.execute(
            "SELECT count(y_code) + count(q_code) + count(m_code) FROM check_results"
        ).fetchall()[0]
        found = con.execute("SELECT count(*) FROM rollup_mismatches").fetchall()[0]
        return ChecksReport(int(row[0]), len(job.targets), int(found[0]), len(chosen))
    finally:
        drop_check_tables(con)
        for table in ("targets_t", "curves"):
            con.execute(f"DROP TABLE IF EXISTS temp.{table}")


def _replace(
    con: duckdb.DuckDBPyConnection,
    plan: Plan | None,
    store: tuple[str, ...],
    mismatches: pd.DataFrame,
    job: Job,
) -> None:
    """Replace the recomputed checks and what goes with them, in the open transaction."""
    if plan is None or plan.full:
        for sql in CLEAR:
            con.execute(sql)
        con.execute("DELETE FROM rollup_mismatches")
    else:
        for sql in CLEAR_SOME if store else ():
            con.execute(sql)
        read = pd.DataFrame(list(plan.series or ()), columns=["indicator", "region"])
        con.register("_read", read.astype(str))
        con.execute(
            "DELETE FROM rollup_mismatches WHERE (indicator, region) IN "
            "(SELECT (indicator, region) FROM _read)"
        )
        con.unregister("_read")
        if plan.restale:  # before the recomputed targets come back, judged already
            con.execute(RESTALE, {"today": job.today})
    for sql in store:
        con.execute(sql)
    if plan is None:
        forget_state(con)  # no forecasts ran: the next refresh recomputes everything
    if len(mismatches):
        con.register("_mismatches", mismatches)
        con.execute("INSERT INTO rollup_mismatches SELECT * FROM _mismatches")
        con.unregister("_mismatches")
    con.execute("DELETE FROM status_labels")
    con.executemany("INSERT INTO status_labels VALUES (?, ?)", list(job.settings.labels.items()))
