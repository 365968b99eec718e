"""`kpiwatch forecast`: one series' forecast to quarter and year end, now or from the
figures known at a past moment."""

from __future__ import annotations

import calendar
import sys
from datetime import date, datetime, time

import click

from kpiwatch import app, board
from kpiwatch.config import find_indicator, find_region
from kpiwatch.console import add_row, err, fail, out, table
from kpiwatch.report import HasConfig


def end_of(text: str) -> datetime:
    """The last moment of the day (2023-10-20) or period (2023-09, 2023Q3) named."""
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        p = board.as_of_period(text)
        day = date(p.year, p.last_month, calendar.monthrange(p.year, p.last_month)[1])
    return datetime.combine(day, time.max)


@click.command()
@click.option("--indicator", required=True)
@click.option("--region", required=True)
@click.option("--as-of", "as_of", help="Forecast from the figures known then (2023-09, a day).")
@click.pass_obj
def forecast(obj: HasConfig, indicator: str, region: str, as_of: str | None) -> None:
    """Print one series' forecast to quarter and year end, and why that model."""
    config = obj.config()
    indicator = find_indicator(config, indicator).id
    region = find_region(config, region).id
    if as_of:
        moment = end_of(as_of)
        rows = app.forecast_rows_as_of(config, indicator, region, moment)
        if not rows:
            fail(
                f"no forecast for {indicator} in {region} as of {moment:%Y-%m-%d}: no target "
                "year under way in the figures known then (a file loaded without --vintage "
                "is known from its load)"
            )
    else:
        rows = app.forecast_rows(config, indicator, region)
    if not rows:
        err.print(f"no forecast for {indicator} in {region} (run kpiwatch refresh)", markup=False)
        sys.exit(1)
    shown = table(
        "horizon",
        "ends",
        "target",
        "forecast",
        "80 %",
        "95 %",
        "P(meet)",
        "shortfall",
        title=f"{indicator} · {region}",
    )
    for r in rows:
        if r["point"] is None:
            add_row(shown, (r["horizon"], r["horizon_label"], f"{r['target']:.2f}", "—"))
            continue
        add_row(
            shown,
            (
                r["horizon"],
                r["horizon_label"],
                f"{r['target']:.2f}",
                f"{r['point']:.2f}",
                f"{r['lower80']:.2f} … {r['upper80']:.2f}",
                f"{r['lower95']:.2f} … {r['upper95']:.2f}",
                f"{r['p_meet']:.1%}",
                f"{r['expected_shortfall']:.2f}",
            ),
        )
    out.print(shown)
    first = rows[0]
    mase = first["backtest_mase"]
    out.print(
        f"model: {first['model']}"
        + (f" (backtest MASE {mase:.2f})" if mase is not None else "")
        + f"; {first['note']}; data to {first['as_of']}",
        markup=False,
    )
