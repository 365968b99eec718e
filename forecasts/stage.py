"""The forecasts stage: build a job per target, run the changed ones, store the results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass

import duckdb
import numpy as np
import numpy.typing as npt
import pandas as pd

from forecasts.growth import rate_data
from forecasts.jobs import Job, Result, run
from forecasts.pool import one_blas_thread, process_pool
from forecasts.relative import Aim, Key, Labels, Points, labelled, referenced, run_in_waves
from forecasts.schema import ForecastSettings
from ingest.mapping import register
from ingest.schema import Indicator, Region
from ingest.store import transaction
from metrics.actuals import actuals_table, derived_growth
from metrics.schema import Target
from metrics.targets import Q_END, Paces, pace_curves, past_years

# One month of a series' actuals: year, month, to_date, own, own_months.
Row = tuple[int, int, float | None, float | None, int | None]

RESULT_COLUMNS = [
    "indicator",
    "region",
    "year",
    "month",
    "horizon",
    "horizon_month",
    "target",
    "point",
    "lower80",
    "upper80",
    "lower95",
    "upper95",
    "p_meet",
    "expected_shortfall",
    "forecast_status",
    "model",
    "backtest_mase",
    "note",
    "input_hash",
]


@dataclass(frozen=True)
class ForecastReport:
    """What one run of the forecasts stage did."""

    series: int
    computed: int
    reused: int
    fallbacks: int


def run_forecasts(
    con: duckdb.DuckDBPyConnection,
    targets: Sequence[Target],
    indicators: Mapping[str, Indicator],
    regions: Sequence[Region],
    settings: ForecastSettings,
    *,
    shared_actuals: bool = False,
    paces: Paces | None = None,
) -> ForecastReport:
    """Forecast every target's open year and quarter; only changed inputs are recomputed.

    With `shared_actuals`, the caller holds the temp table `actuals` (see actuals_table),
    and `paces` may hold the targets' pace curves the checks computed.
    """
    if shared_actuals:
        jobs, aims = plan_jobs(con, targets, indicators, settings, paces)
    else:
        with actuals_table(con, regions, derived=derived_growth(indicators.values())):
            jobs, aims = plan_jobs(con, targets, indicators, settings)
    known = _known_hashes(con)
    results: list[Result] = []
    computed = 0

    def run_wave(wave: list[Job], labels: Labels) -> Points:
        nonlocal computed
        todo = [j for j in wave if known.get(f"{j.indicator}/{j.region}/{j.year}") != j.input_hash]
        done = labelled([r for batch in fan_out(todo, settings) for r in batch], labels)
        _store(con, done)
        results.extend(done)
        computed += len(todo)
        return stored_points(con, referenced(wave, aims))

    run_in_waves(jobs, aims, run_wave)
    fallbacks = len({(r.indicator, r.region, r.year) for r in results if r.fallback})
    return ForecastReport(len(jobs), computed, len(jobs) - computed, fallbacks)


def stored_points(con: duckdb.DuckDBPyConnection, jobs: Sequence[Job]) -> Points:
    """The stored forecast points of these jobs (computed now or reused)."""
    if not jobs:
        return {}
    rows = con.execute(
        "SELECT indicator, region, year, horizon, horizon_month, point FROM forecast_results "
        "SEMI JOIN (SELECT unnest(?::STRUCT(i VARCHAR, r VARCHAR, y INTEGER, m INTEGER)[], "
        "recursive := true)) k ON (indicator, region, year, month) = (k.i, k.r, k.y, k.m)",
        [[{"i": j.indicator, "r": j.region, "y": j.year, "m": j.month} for j in jobs]],
    ).fetchall()
    return {(i, r, int(y), h): (int(m), p) for i, r, y, h, m, p in rows}


DASK_CHUNK = 16  # jobs per Dask task: fewer round trips to the scheduler


def run_single_threaded(jobs: list[Job]) -> list[list[Result]]:
    """Run jobs with one BLAS thread (a Dask worker's threads are the parallelism)."""
    with one_blas_thread():
        return [run(job) for job in jobs]


def fan_out(jobs: list[Job], settings: ForecastSettings) -> list[list[Result]]:
    """Run jobs on a Dask cluster, a local process pool, or inline when few."""
    if settings.scheduler:
        from dask.distributed import Client

        chunks = [jobs[i : i + DASK_CHUNK] for i in range(0, len(jobs), DASK_CHUNK)]
        with Client(settings.scheduler, timeout=30) as client:  # type: ignore[no-untyped-call]
            done = client.gather(client.map(run_single_threaded, chunks, pure=False))
        return [results for chunk in done for results in chunk]
    if len(jobs) < 8 or settings.workers == 1:
        with one_blas_thread():  # as in a worker: one thread is faster on these fits
            return [run(j) for j in jobs]
    with process_pool(settings.workers) as pool:
        return list(pool.map(run, jobs, chunksize=max(1, len(jobs) // (4 * settings.workers))))


def _store(con: duckdb.DuckDBPyConnection, results: list[Result]) -> None:
    """Replace the forecasts made for the same data month; earlier ones stay as history."""
    if not results:
        return
    frame = pd.DataFrame([astuple(r)[:-1] for r in results], columns=RESULT_COLUMNS)
    register(con, "_results", frame)
    try:
        with transaction(con):
            con.execute(
                "DELETE FROM forecast_results WHERE (indicator, region, year, month) IN "
                "(SELECT (indicator, region, year, month) FROM _results)"
            )
            con.execute("INSERT INTO forecast_results SELECT *, now() FROM _results")
    finally:
        con.execute("DROP TABLE IF EXISTS temp._results")


def _known_hashes(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Each target's latest stored input hash: a job with the same hash is not rerun."""
    return dict(
        con.execute(
            "SELECT indicator || '/' || region || '/' || year, arg_max(input_hash, month) "
            "FROM forecast_results GROUP BY ALL"
        ).fetchall()
    )


def plan_jobs(
    con: duckdb.DuckDBPyConnection,
    targets: Sequence[Target],
    indicators: Mapping[str, Indicator],
    settings: ForecastSettings,
    paces: Paces | None = None,
) -> tuple[list[Job], dict[Key, Aim]]:
    """One job per target whose year is under way (data in it, December not yet), and
    what each relative target's job aims at (its targets are the reference's latest rate
    plus the margin until forecasts.relative aims them)."""
    by_series = _series_rows(con)
    curves, q_targets, _ = paces if paces is not None else _paces(targets, indicators, by_series)
    jobs, aims = [], {}
    for i, t in enumerate(targets):
        rows = by_series.get((t.indicator, t.region))
        if rows is None:
            continue
        upto = [r for r in rows if r[0] <= t.year]
        ref = None if t.relative_to is None else by_series.get((t.indicator, t.relative_to), [])
        job = _job(t, indicators[t.indicator], upto, curves[i], q_targets[i], settings, ref)
        if job is None:
            continue
        jobs.append(job)
        if t.relative_to is not None and ref is not None:
            known = _to_date(ref, t.year)
            latest = max(m for m in known if m <= job.month)  # _job found one
            aims[(t.indicator, t.region, t.year)] = Aim(
                t.relative_to, t.margin_pp, known[latest], latest, tuple(known.items())
            )
    return jobs, aims


def _series_rows(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], list[Row]]:
    """The actuals by series, as plain tuples: pandas frames per series cost ~2 ms a
    target (minutes a refresh at 100k targets), tuples a few microseconds."""
    by_series: dict[tuple[str, str], list[Row]] = {}
    for ind_id, reg, *row in con.execute(
        "SELECT indicator, region, year, month, to_date, own, own_months FROM actuals "
        "ORDER BY indicator, region, year, month"
    ).fetchall():
        by_series.setdefault((ind_id, reg), []).append(tuple(row))
    return by_series


def _paces(
    targets: Sequence[Target],
    indicators: Mapping[str, Indicator],
    by_series: dict[tuple[str, str], list[Row]],
) -> Paces:
    """The targets' pace curves in one batch, as the checks compute them; only seasonal
    pacing and stock openings look at past years."""
    past = {
        (t.indicator, t.region): past_years(
            (y, m, v) for y, m, v, _, _ in by_series.get((t.indicator, t.region), [])
        )
        for t in targets
        if t.pacing == "seasonal" or indicators[t.indicator].kind == "stock"
    }
    return pace_curves(targets, indicators, past)


def _job(
    t: Target,
    ind: Indicator,
    rows: list[Row],
    curve: npt.NDArray[np.float64],
    q_target: npt.NDArray[np.float64],
    settings: ForecastSettings,
    reference: list[Row] | None = None,
) -> Job | None:
    to_date = _to_date(rows, t.year)
    if not to_date or max(to_date) >= 12:
        return None
    month = max(to_date)
    # A relative target's year and quarter end at the other region's latest rate to date
    # (as of this series' month) plus the margin (the curves hold only the margin), until
    # forecasts.relative aims them at that region's forecast.
    offset = 0.0
    if reference is not None:
        known = [v for m, v in _to_date(reference, t.year).items() if m <= month]
        if not known:
            return None
        offset = known[-1]
    annual = t.annual if reference is None else t.margin_pp + offset
    if annual is None:  # a plan's quarter or month targets only: no year to forecast to
        return None
    step = 3 if ind.frequency == "quarterly" else 1
    q_end = int(Q_END[month + 1])  # the quarter of the next month still to come
    q_start = q_end - 3
    quarter_target = {
        "flow": curve[q_end] - curve[q_start],
        "growth": q_target[q_end] + offset,
        "stock": curve[q_end],
    }[ind.kind]
    done = to_date[month] - (to_date.get(q_start, np.nan) if q_start else 0.0)
    rates = rate_data(rows, step) if ind.kind == "growth" else None
    return Job(
        t.indicator,
        t.region,
        t.year,
        month,
        ind.kind,
        ind.direction,
        tuple(_history(rows, ind.kind, step)) if rates is None else (),
        4 if step == 3 else 12,
        step,
        to_date[month],
        0.0 if month == q_start else float(done),
        q_end,
        annual,
        float(quarter_target),
        settings.paths,
        settings.at_risk_below,
        settings.behind_below,
        rates,
    )


def _to_date(rows: list[Row], year: int) -> dict[int, float]:
    """A series' finite values to date in one year, by month (in month order)."""
    return {m: float(v) for y, m, v, _, _ in rows if y == year and v is not None and np.isfinite(v)}


def _history(rows: list[Row], kind: str, step: int) -> list[float]:
    """A regular series for the model: flows by own value, others by level or rate.

    A Jan–Feb release is split evenly over its two months; a single missing period is
    interpolated; before a longer gap the history is cut.
    """
    points: dict[int, float] = {}
    for y, m, to_date, own, span in rows:
        value = own if kind == "flow" or (kind == "growth" and step == 3) else to_date
        if value is None or not np.isfinite(value):
            continue
        if kind == "flow" and step == 1 and span == 2 and m == 2:
            points[int(y) * 12 + 0] = points[int(y) * 12 + 1] = float(value) / 2
        else:
            points[int(y) * 12 + int(m) - 1] = float(value)
    if not points:
        return []
    keys = range(max(points), min(points) - 1, -step)
    series: list[float] = []
    for k in keys:  # walk back from the newest point
        if k in points:
            series.append(points[k])
        elif k - step in points and series:
            series.append((points[k - step] + series[-1]) / 2)
        else:
            break
    return series[::-1]
