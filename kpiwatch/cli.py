"""The `kpiwatch` command line: thin verbs over kpiwatch.app."""

from __future__ import annotations

import logging
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from exporters.listen import parse_listen
from ingest.errors import ConfigError, IngestError, KpiwatchError
from ingest.register_store import RegisterReport
from kpiwatch import (
    app,
    board,
    generated,
    nowcast_board,
    project_board,
    projects,
    unit_render,
    worklists,
)
from kpiwatch.config import Config, find_region, load_config, split_gaps
from kpiwatch.console import add_row, err, fail, out, table, wrote
from kpiwatch.forecast_verb import forecast as forecast_verb
from kpiwatch.report import report as report_verb


class Verbs(click.Group):
    """The verbs, with our errors and the operating system's turned into one message."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KpiwatchError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(_os_message(exc))


def _os_message(exc: OSError) -> str:
    where = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
    what = exc.strerror or str(exc)
    return f"{where}: {what}" if where else what


class Context:
    """What every verb needs: where config.toml is."""

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path

    def config(self) -> Config:
        try:
            return load_config(self.config_path)
        except ConfigError as exc:
            err.print(str(exc), markup=False)
            sys.exit(1)


@click.group(cls=Verbs)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=Path("config.toml"),
    show_default=True,
    help="The config file.",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path) -> None:
    """kpiwatch: monitor KPIs against their targets, forecast and export to Prometheus."""
    ctx.obj = Context(config_path)


@cli.command("check-config")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.pass_obj
def check_config(obj: Context, path: Path | None) -> None:
    """Validate config.toml and print every problem with its TOML path."""
    target = path or obj.config_path
    try:
        config = load_config(target)
        app.escalation_settings(config)  # the talk files, read whole or refused
    except (ConfigError, IngestError) as exc:
        err.print(str(exc), markup=False)
        sys.exit(1)
    out.print(
        f"{target}: ok ({len(config.indicators)} indicators, {len(config.regions)} regions, "
        f"{len(config.sources)} sources, {len(config.targets)} targets)",
        markup=False,
    )
    for gap in split_gaps(config):  # reported; refused above under split_mismatch = "error"
        out.print(f"split: {gap}", markup=False)


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--source", "source_name", help="Read FILES with this [[sources]] entry.")
@click.option(
    "--vintage", type=click.DateTime(), help="When these figures became known (default: now)."
)
@click.option(
    "--rejects",
    "rejects_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the bad rows of each refused file to DIR/<file>.rejects.csv.",
)
@click.pass_obj
def ingest(
    obj: Context,
    files: tuple[Path, ...],
    source_name: str | None,
    vintage: datetime | None,
    rejects_dir: Path | None,
) -> None:
    """Load statistics files (default: every configured source), each whole or not at all."""
    config = obj.config()
    if rejects_dir:
        rejects_dir.mkdir(parents=True, exist_ok=True)
    try:
        outcomes = app.ingest(
            config, files, source_name=source_name, known_from=vintage, rejects_dir=rejects_dir
        )
    except KpiwatchError as exc:
        err.print(str(exc), markup=False)
        sys.exit(1)
    loaded = table(
        "indicator",
        "region",
        "measure",
        "values",
        "periods",
        "new",
        "revised",
        "unchanged",
        "older (kept as history)",
        title="loaded",
    )
    for outcome in outcomes:
        if outcome.error is not None:
            err.print(str(outcome.error), markup=False)
            continue
        assert outcome.report is not None
        if isinstance(outcome.report, RegisterReport):
            out.print(outcome.report.summary(), markup=False)
        elif outcome.report.already_loaded:
            out.print(
                f"{outcome.path}: already loaded (load {outcome.report.already_loaded}), skipped",
                markup=False,
            )
        flagged = [] if isinstance(outcome.report, RegisterReport) else outcome.report.flagged
        for flag in flagged[:3]:
            out.print(f"{outcome.path}: {flag}", markup=False)
        if len(flagged) > 3:
            out.print(f"{outcome.path}: … and {len(flagged) - 3} more flagged", markup=False)
        for s in outcome.report.series:
            add_row(
                loaded,
                (
                    s.indicator,
                    s.region,
                    s.measure,
                    s.values,
                    f"{s.first_period} … {s.last_period}",
                    s.new,
                    s.revised,
                    s.unchanged,
                    s.older,
                ),
            )
    if loaded.row_count:
        out.print(loaded)
    n_loaded, skipped, refused = _tally(outcomes)
    out.print(f"{n_loaded} file(s) loaded, {skipped} skipped, {refused} refused", markup=False)
    if refused:
        sys.exit(1)


def _tally(outcomes: list[app.FileOutcome]) -> tuple[int, int, int]:
    """Files loaded, skipped as already loaded, and refused."""
    refused = sum(1 for o in outcomes if o.error is not None)
    skipped = sum(1 for o in outcomes if o.report is not None and o.report.already_loaded)
    return len(outcomes) - refused - skipped, skipped, refused


@cli.command()
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), help="Judge staleness as of this day.")
@click.pass_obj
def refresh(obj: Context, today: datetime | None) -> None:
    """Load every configured source, then recompute all progress checks."""
    config = obj.config()
    try:
        outcomes = app.ingest(config)
        report, forecast = app.refresh(config, today.date() if today else None)
    except KpiwatchError as exc:
        err.print(str(exc), markup=False)
        sys.exit(1)
    for o in outcomes:
        if o.error is not None:
            err.print(str(o.error), markup=False)
    loaded, skipped, refused = _tally(outcomes)
    new = sum(o.report.new + o.report.revised for o in outcomes if o.report)
    out.print(
        f"{loaded} file(s) loaded ({new} new or revised values), {skipped} skipped, "
        f"{refused} refused; {report.rows} checks for {report.targets} targets"
        + (f"; {report.mismatches} roll-up mismatches" if report.mismatches else "")
        + f"; forecasts: {forecast.computed} computed, {forecast.reused} unchanged, "
        f"{forecast.fallbacks} fell back",
        markup=False,
    )
    if refused:
        sys.exit(1)


STYLE = {"behind": "bold red", "at_risk": "bold yellow", "on_track": "bold blue", "no_data": "dim"}


@cli.command()
@click.option("--region", help="Only this region: its id, name or an alias.")
@click.option(
    "--as-of",
    "as_of",
    help="The as-of period, e.g. 2026-03, or a 旬 (2026-03-D2) with --horizon dekad "
    "(default: latest).",
)
@click.option(
    "--horizon",
    type=click.Choice(["year", "quarter", "month", "dekad"]),
    default="year",
    show_default=True,
)
@click.pass_obj
def status(obj: Context, region: str | None, as_of: str | None, horizon: str) -> None:
    """Print the three-colour board (蓝/黄/红), worst first, with each responsible unit."""
    config = obj.config()
    region_id = find_region(config, region).id if region else None
    if horizon == "dekad":  # the register counts' 旬 checks (2026-03-D2 as --as-of too)
        rows = board.dekad_rows(config, region_id, as_of)
    else:
        rows = board.board(config, region_id, board.as_of_period(as_of) if as_of else None, horizon)
    if not rows:
        where = f" for {region_id}" if region_id else ""
        fail(f"no checks{where}{f' as of {as_of}' if as_of else ''} (run kpiwatch refresh)")
    checks = table(
        "",
        "indicator",
        "region",
        "as of",
        "attainment",
        "why",
        "owner",
        "ladder",
        title=f"progress, {horizon} horizon",
    )
    for st, label, name, region_name, period, _h, att, reason, owner, kind, example, lv in rows:
        shown = "" if att is None else (f"{att:+.2f} pp" if kind == "growth" else f"{att:.1%}")
        cell = Text(str(label), style=STYLE.get(str(st), ""))
        # figures made up for a demo must never pass for published ones
        named = Text.assemble(str(name), (" (illustrative)", "italic") if example else "")
        add_row(checks, (cell, named, region_name, period, shown, reason, owner, lv))
    out.print(checks)
    print_nowcasts(config, region_id)


def print_nowcasts(config: Config, region: str | None) -> None:
    """The open quarters' nowcasts and the releases that moved them most."""
    rows, news = nowcast_board.nowcast_rows(config, region)
    if not rows:
        return
    cols = ("region", "indicator", "quarter", "nowcast", "80 %", "target", "P(meet)", "model")
    shown = table(*cols, title="nowcasts from the monthly releases")
    for row in rows:
        add_row(shown, row)
    out.print(shown)
    for line in news:
        out.print(f"  news: {line}", markup=False)


@cli.command("projects")
@click.option("--region", help="Only projects in this region or below it.")
@click.option("--unit", help="Only this responsible unit.")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), help="Default: today.")
@click.pass_obj
def projects_board(
    obj: Context, region: str | None, unit: str | None, as_of: datetime | None
) -> None:
    """Print the project register board (按图督办): overdue nodes by unit, worst first."""
    config = obj.config()
    for shown in project_board.tables(
        projects.board(config, as_of.date() if as_of else None, region, unit)
    ):
        out.print(shown)


@cli.command()
@click.option("--listen", help="HOST:PORT to serve on (default: [server] listen).")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), help="Judge staleness as of this day.")
@click.option("--log-level", default="INFO", show_default=True)
@click.pass_obj
def serve(obj: Context, listen: str | None, today: datetime | None, log_level: str) -> None:
    """Serve /metrics; refresh on schedule, on new inbox files and on POST /-/refresh;
    reload config.toml and the web config on SIGHUP and POST /-/reload."""
    config = obj.config()
    try:
        parse_listen(listen or config.server.listen)
    except ValueError as exc:
        err.print(f"--listen {listen}: {exc}", markup=False)
        sys.exit(1)
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        # Imported here: the service draws bulletins (matplotlib), which no other verb needs
        # to start.
        from kpiwatch import service

        service.serve(config, listen, today.date() if today else None, obj.config_path)
    except KpiwatchError as exc:
        err.print(str(exc), markup=False)
        sys.exit(1)
    except OSError as exc:
        err.print(f"cannot serve on {listen or config.server.listen}: {exc}", markup=False)
        sys.exit(1)


@cli.command()
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path), required=True)
@click.pass_obj
def rules(obj: Context, out_dir: Path) -> None:
    """Write Prometheus alert rules, their promtool tests and an Alertmanager example."""
    wrote(generated.write_rules(obj.config(), out_dir))


@cli.command()
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path), required=True)
@click.pass_obj
def dashboards(obj: Context, out_dir: Path) -> None:
    """Write Grafana dashboards and the provisioning files a stock Grafana loads."""
    wrote(generated.write_dashboards(obj.config(), out_dir))


@cli.command()
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path), required=True)
@click.pass_obj
def mixin(obj: Context, out_dir: Path) -> None:
    """Write the alert rules and dashboards as a monitoring mixin (no jsonnet needed)."""
    wrote(generated.write_mixin(obj.config(), out_dir))


@cli.command()
@click.option("-o", "--output", "out_file", type=click.Path(path_type=Path), required=True)
@click.pass_obj
def backfill(obj: Context, out_file: Path) -> None:
    """Write the monthly history as OpenMetrics for promtool tsdb create-blocks-from."""
    config = obj.config()
    n = generated.write_backfill(config, out_file)
    out.print(f"wrote {n} samples to {out_file}", markup=False)


@cli.command()
@click.option("--unit", help="One unit's list (default: the ranking of units).")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), help="Default: today.")
@click.pass_obj
def units(obj: Context, unit: str | None, as_of: datetime | None) -> None:
    """Print a unit's list (一单位一清单) worst first, or without --unit the ranking."""
    config = obj.config()
    day = as_of.date() if as_of else date.today()
    if unit is None:
        ranked = worklists.ranking(config, day)
        out.print(unit_render.ranking_table(ranked, day, config.escalation.labels))
        return
    found = worklists.one_unit(config, unit, day)
    if found is None:
        fail(f"unknown unit {unit!r}: `kpiwatch units` lists them")
    for part in unit_render.unit_tables(found, day):
        out.print(part)


@cli.command()
@click.pass_obj
def summary(obj: Context) -> None:
    """Print what the store holds: values and periods per indicator and region."""
    config = obj.config()
    held = table(
        "indicator", "region", "measure", "values", "first", "last", title=str(config.store_path)
    )
    for row in app.store_summary(config):
        add_row(held, row)
    out.print(held)


cli.add_command(report_verb)
cli.add_command(forecast_verb)


def main() -> None:
    """Entry point of the `kpiwatch` script."""
    cli()
