"""Operations behind the CLI verbs, free of any terminal output."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from forecasts.as_of import forecast_as_of
from forecasts.jobs import METHOD
from forecasts.nowcast_stage import run_nowcasts
from forecasts.stage import ForecastReport, run_forecasts
from ingest import talk_files
from ingest.errors import IngestError, KpiwatchError, RowError
from ingest.loader import LoadReport, load_file
from ingest.register_store import RegisterReport
from ingest.schema import Source
from ingest.store import open_store, sync_catalog, transaction
from ingest.textfiles import resolved
from kpiwatch import projects, worklists
from kpiwatch.board import read_store
from kpiwatch.config import Config, known_units, splits_of
from metrics import ladder, ladder_state
from metrics.actuals import actuals_table, derived_growth
from metrics.progress import ChecksReport, run_checks
from metrics.schema import Target
from metrics.scope import Plan, plan_refresh, save_state
from metrics.targets import Paces, target_paces


@dataclass(frozen=True)
class FileOutcome:
    """One file's result: a report when loaded, an error when refused."""

    path: Path
    report: LoadReport | RegisterReport | None = None
    error: KpiwatchError | None = None


def source_files(config: Config, source: Source) -> list[Path]:
    """The files a source's path or glob names, sorted."""
    pattern = config.resolve(source.path)
    if any(ch in source.path for ch in "*?["):
        # Anything but a folder is the loader's to refuse by name (a symlink loop, say).
        return sorted(p for p in pattern.parent.glob(pattern.name) if not p.is_dir())
    return [pattern]


def match_source(config: Config, path: Path) -> Source | None:
    """The first source whose path or glob matches a file named on the command line."""
    target = resolved(path)
    for source in config.sources:
        pattern = config.resolve(source.path).resolve()
        if fnmatch.fnmatch(str(target), str(pattern)):
            return source
    return None


def plan(
    config: Config, files: Sequence[Path], source_name: str | None
) -> Iterator[tuple[Path, Source | None]]:
    """Pair each file to load with its source (all configured files when none given)."""
    by_name = {s.name: s for s in config.sources}
    if not files:
        for source in config.sources:
            if source_name is None or source.name == source_name:
                for path in source_files(config, source):
                    yield path, source
        return
    for path in files:
        yield path, by_name.get(source_name) if source_name else match_source(config, path)


def ingest(
    config: Config,
    files: Sequence[Path] = (),
    *,
    source_name: str | None = None,
    known_from: datetime | None = None,
    rejects_dir: Path | None = None,
) -> list[FileOutcome]:
    """Load files (or every configured source); each file is loaded whole or refused."""
    con = open_store(config.store_path, False, config.store.memory_limit)
    try:
        return ingest_with(
            con,
            config,
            files,
            source_name=source_name,
            known_from=known_from,
            rejects_dir=rejects_dir,
        )
    finally:
        con.close()


def ingest_with(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    files: Sequence[Path] = (),
    *,
    source_name: str | None = None,
    known_from: datetime | None = None,
    rejects_dir: Path | None = None,
) -> list[FileOutcome]:
    """Load files into an open store: statistics, project registers, then units' task
    files (kpiwatch.worklists: their problems name the registers' projects)."""
    indicators = config.indicator_map()
    outcomes: list[FileOutcome] = []
    named = files and source_name is None
    lists, rest = worklists.split_files(config, files) if named else (None, files)
    if named and not rest:
        return outcomes + _lists(con, config, lists, known_from, rejects_dir)
    files = rest
    registers = projects.register_plan(config, files, source_name)
    rest = [f for f in files if f not in {p for p, _ in registers}]
    only_registers = bool(files and not rest) or projects.is_register(config, source_name)
    for path, source in [] if only_registers else plan(config, rest, source_name):
        if source is None:
            reason = "no [[sources]] entry matches this file (or use --source)"
            err = IngestError(str(path), [RowError(0, "path", str(path), reason)])
            outcomes.append(FileOutcome(path, error=err))
            continue
        rejects = rejects_dir / f"{path.name}.rejects.csv" if rejects_dir else None
        try:
            report = load_file(
                con,
                path,
                source,
                indicators,
                config.regions,
                known_from=known_from,
                rejects=rejects,
            )
        except KpiwatchError as exc:
            outcomes.append(FileOutcome(path, error=exc))
        else:
            outcomes.append(FileOutcome(path, report=report))
    for path, done, error in projects.ingest_registers(con, config, registers, known_from):
        outcomes.append(FileOutcome(path, done, error))
    if source_name is None:
        outcomes += _lists(con, config, lists, known_from, rejects_dir)
    return outcomes


def _lists(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    files: Sequence[Path] | None,
    known_from: datetime | None,
    rejects_dir: Path | None,
) -> list[FileOutcome]:
    """The units' lists synced and their task files loaded (all of them for None)."""
    loaded = worklists.ingest_records(con, config, files, known_from, rejects_dir)
    return [FileOutcome(path, report, error) for path, report, error in loaded]


def store_summary(config: Config) -> list[tuple[str, str, str, int, str, str]]:
    """Per indicator, region and measure: values stored and periods covered."""
    con = open_store(config.store_path, False, config.store.memory_limit)
    try:
        rows = con.execute(
            """
            SELECT indicator, region, measure, count(*), arg_min(period, period_end),
                   arg_max(period, period_end)
            FROM observations_latest GROUP BY ALL ORDER BY ALL
            """
        ).fetchall()
    finally:
        con.close()
    return [(str(a), str(b), str(c), int(d), str(e), str(f)) for a, b, c, d, e, f in rows]


def refresh_checks(config: Config, today: date | None = None) -> ChecksReport:
    """Recompute every progress check into the store."""
    con = open_store(config.store_path, False, config.store.memory_limit)
    try:
        report = checks_with(con, config, today)
        escalations_with(con, config)
        return report
    finally:
        con.close()


def checks_with(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    today: date | None = None,
    *,
    mismatches: pd.DataFrame | None = None,
    plan: Plan | None = None,
    paces: Paces | None = None,
) -> ChecksReport:
    """Recompute the progress checks in an open store (see run_checks)."""
    if mismatches is None:  # else shared_actuals synced the catalog
        with_catalog(con, config)
    return run_checks(
        con,
        config.targets,
        config.indicator_map(),
        config.regions,
        config.thresholds_for,
        config.checks,
        today,
        mismatches=mismatches,
        plan=plan,
        paces=paces,
    )


def escalations_with(
    con: duckdb.DuckDBPyConnection, config: Config, *, force: bool = False
) -> None:
    """(Re)build the escalation ladder over the checks, forecasts, tasks and nodes, unless
    the store holds the one this config and code install (`force`: build it anyway)."""
    # the talk files are read before anything is written: a refused one changes nothing
    esc = escalation_settings(config)
    inputs = config.check_inputs()  # the targets, regions and indicators, digested once
    digest = inputs.shared + inputs.targets
    rules = config.every_period
    scoring = config.task_scoring
    ladder_state.install(con, esc, scoring, rules, lambda: splits_of(config), digest, force=force)


def escalation_settings(config: Config) -> ladder.Escalation:
    """[escalation] with the talks of its talk files added (IngestError if one is bad)."""
    esc = config.escalation
    if not esc.talk_files:
        return esc
    paths = [config.resolve(p) for p in esc.talk_files]
    talks = talk_files.read_all(paths, known_units(config))
    return esc.model_copy(update={"talks": (*esc.talks, *talks)})


def forecasts_with(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    *,
    shared_actuals: bool = False,
    targets: Sequence[Target] | None = None,
    paces: Paces | None = None,
) -> ForecastReport:
    """Recompute the forecasts whose inputs changed (of `targets`: all), in an open store."""
    if not config.forecasts.enabled:
        return ForecastReport(0, 0, 0, 0)
    return run_forecasts(
        con,
        config.targets if targets is None else targets,
        config.indicator_map(),
        config.regions,
        config.forecasts,
        shared_actuals=shared_actuals,
        paces=paces,
    )


def nowcasts_with(
    con: duckdb.DuckDBPyConnection, config: Config, today: date | None, report: ForecastReport
) -> ForecastReport:
    """Nowcast the configured targets; their fallbacks and failures count as the forecasts'."""
    done = run_nowcasts(
        con, config.nowcasts, config.targets, config.forecasts, today or date.today()
    )
    return replace(report, fallbacks=report.fallbacks + done.fallbacks + done.failures)


@contextmanager
def shared_actuals(
    con: duckdb.DuckDBPyConnection, config: Config, plan: Plan | None = None
) -> Iterator[pd.DataFrame]:
    """The actuals, computed once for the checks and the forecasts of one refresh (of the
    plan's series only), from the configured catalog (synced first: the actuals read it)."""
    with_catalog(con, config)
    derived = derived_growth(config.indicators)
    tolerance = config.checks.rollup_tolerance
    series = None if plan is None else plan.series
    with actuals_table(con, config.regions, tolerance, derived, series) as mismatches:
        yield mismatches


def refresh_with(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    today: date | None = None,
    on_stage: Callable[[str], None] = lambda _: None,
    *,
    full: bool = False,
    on_plan: Callable[[Plan], None] = lambda _: None,
) -> tuple[ChecksReport, ForecastReport]:
    """Checks, then forecasts, in an open store, on one computation of the actuals and
    of the pace curves, for the targets whose inputs changed (all with `full`); `on_plan`
    hears which they are.

    `on_stage` hears "checks" (building the actuals counts as the checks), then
    "forecasts", then "escalation" (the ladder reads the checks with their forecasts),
    so that a caller can say which stage a failure belongs to.
    """
    on_stage("checks")
    day = today or date.today()
    # a new forecasting method recomputes every target once, as a new checks' code does
    inputs = config.check_inputs().with_code(METHOD)
    levels = derived_growth(config.indicators)
    plan = plan_refresh(con, inputs, config.targets, config.regions, levels, day)
    if full:
        plan = Plan(None, None, plan.load_id, True)
    on_plan(plan)
    chosen = config.targets if plan.ids is None else [config.targets[i] for i in plan.ids]
    with shared_actuals(con, config, plan) as mismatches:
        paces = target_paces(con, chosen, config.indicator_map())
        checks = checks_with(con, config, day, mismatches=mismatches, plan=plan, paces=paces)
        on_stage("forecasts")
        forecasts = forecasts_with(con, config, shared_actuals=True, targets=chosen, paces=paces)
    save_state(con, inputs, plan, day)
    if config.nowcasts and config.forecasts.enabled:
        on_stage("nowcasts")
        forecasts = nowcasts_with(con, config, today, forecasts)
    on_stage("escalation")
    escalations_with(con, config, force=full)
    return checks, forecasts


def refresh(config: Config, today: date | None = None) -> tuple[ChecksReport, ForecastReport]:
    """Recompute the checks and the forecasts whose inputs changed."""
    con = open_store(config.store_path, False, config.store.memory_limit)
    try:
        return refresh_with(con, config, today)
    finally:
        con.close()


def refresh_forecasts(config: Config) -> ForecastReport:
    """Recompute the forecasts whose inputs changed."""
    con = open_store(config.store_path, False, config.store.memory_limit)
    try:
        return forecasts_with(con, config)
    finally:
        con.close()


def with_catalog(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """Make the store's indicator and region tables match the config."""
    with transaction(con):
        sync_catalog(con, config.indicators, config.regions)


def forecast_rows(config: Config, indicator: str, region: str) -> list[dict[str, object]]:
    """The stored forecasts of one series, latest data month, year first."""
    with read_store(config) as con:
        cur = con.execute(
            """
            SELECT *, printf('%d-%02d', year, month) AS as_of,
                   printf('%d-%02d', year, horizon_month) AS horizon_label
            FROM forecast_results
            WHERE indicator = ? AND region = ?
              AND year * 100 + month = (SELECT max(year * 100 + month) FROM forecast_results
                                        WHERE indicator = ? AND region = ?)
            ORDER BY horizon DESC
            """,
            [indicator, region, indicator, region],
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def forecast_rows_as_of(
    config: Config, indicator: str, region: str, moment: datetime
) -> list[dict[str, object]]:
    """One series' forecasts made from the figures known at `moment`, year first."""
    # a relative target's references are forecast too: it aims at their forecasts
    series = [t for t in config.targets if t.indicator == indicator]
    wanted, more = set(), {region}
    while more:
        wanted |= more
        more = {t.relative_to for t in series if t.region in more and t.relative_to} - wanted
    targets = [t for t in series if t.region in wanted]
    with read_store(config) as con:
        found = forecast_as_of(
            con, moment, targets, config.indicator_map(), config.regions, config.forecasts
        )
    results = [r for r in found if r.region == region]
    rows = []
    for r in sorted(results, key=lambda r: (r.year, r.horizon != "year")):
        row: dict[str, object] = dict(vars(r))
        row["as_of"] = f"{r.year}-{r.month:02d}"
        row["horizon_label"] = f"{r.year}-{r.horizon_month:02d}"
        rows.append(row)
    return rows
