"""The `kpiwatch` command line: thin verbs over kpiwatch.app."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ingest.errors import ConfigError, KpiwatchError
from kpiwatch import app
from kpiwatch.config import Config, load_config

# Wide enough for the tables when output goes to a file or a pipe.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 140)


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


@click.group()
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
    except ConfigError as exc:
        err.print(str(exc), markup=False)
        sys.exit(1)
    out.print(
        f"{target}: ok ({len(config.indicators)} indicators, {len(config.regions)} regions, "
        f"{len(config.sources)} sources, {len(config.targets)} targets)",
        markup=False,
    )


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
    table = Table(
        "indicator",
        "region",
        "measure",
        "values",
        "periods",
        "new",
        "revised",
        "unchanged",
        title="loaded",
    )
    refused = 0
    for outcome in outcomes:
        if outcome.error is not None:
            refused += 1
            err.print(str(outcome.error), markup=False)
            continue
        assert outcome.report is not None
        for s in outcome.report.series:
            table.add_row(
                s.indicator,
                s.region,
                s.measure,
                str(s.values),
                f"{s.first_period} … {s.last_period}",
                str(s.new),
                str(s.revised),
                str(s.unchanged),
            )
    if table.row_count:
        out.print(table)
    loaded = len(outcomes) - refused
    out.print(f"{loaded} file(s) loaded, {refused} refused", markup=False)
    if refused:
        sys.exit(1)


@cli.command()
@click.pass_obj
def summary(obj: Context) -> None:
    """Print what the store holds: values and periods per indicator and region."""
    config = obj.config()
    table = Table(
        "indicator", "region", "measure", "values", "first", "last", title=str(config.store_path)
    )
    for row in app.store_summary(config):
        table.add_row(*(str(c) for c in row))
    out.print(table)


def main() -> None:
    """Entry point of the `kpiwatch` script."""
    cli()
