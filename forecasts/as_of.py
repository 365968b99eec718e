"""Forecasts as of a past moment: the stage run on the vintages known then, not stored.

The store's current figures (`observations_latest`) are shadowed, for one connection,
by those known at the moment and for periods ended by then; the actuals, the jobs and
the forecasts are then built exactly as a refresh builds them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime

import duckdb

from forecasts.jobs import Job, Result, run
from forecasts.relative import Labels, Points, labelled, result_points, run_in_waves
from forecasts.schema import ForecastSettings
from forecasts.stage import plan_jobs
from ingest.schema import Indicator, Region
from metrics.actuals import actuals_table, derived_growth
from metrics.schema import Target


@contextmanager
def known_then(con: duckdb.DuckDBPyConnection, moment: datetime) -> Iterator[None]:
    """Within the block, the current figures are those known at `moment`."""
    stamp = moment.strftime("%Y-%m-%d %H:%M:%S.%f")  # formatted here: views take no parameters
    con.execute(
        "CREATE OR REPLACE TEMP VIEW observations_latest AS "
        f"SELECT * FROM observations_as_of(TIMESTAMP '{stamp}') "
        f"WHERE period_end <= CAST(TIMESTAMP '{stamp}' AS DATE)"
    )
    try:
        yield
    finally:
        con.execute("DROP VIEW IF EXISTS temp.observations_latest")


def forecast_as_of(
    con: duckdb.DuckDBPyConnection,
    moment: datetime,
    targets: Sequence[Target],
    indicators: Mapping[str, Indicator],
    regions: Sequence[Region],
    settings: ForecastSettings,
) -> list[Result]:
    """The forecasts a refresh at `moment` would have made for these targets."""
    with (
        known_then(con, moment),
        actuals_table(con, regions, derived=derived_growth(indicators.values())),
    ):
        jobs, aims = plan_jobs(con, targets, indicators, settings)
    results: list[Result] = []

    def run_wave(wave: list[Job], labels: Labels) -> Points:
        done = labelled([r for job in wave for r in run(job)], labels)
        results.extend(done)
        return result_points(done)

    run_in_waves(jobs, aims, run_wave)
    return results
