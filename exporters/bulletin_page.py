"""The bulletin as one self-contained HTML page: Jinja2 template, charts inline as SVG."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jinja2

from exporters.bulletin import HORIZONS, STATUSES, Bulletin, Row
from exporters.bulletin_charts import (
    MAX_PANELS,
    Chart,
    Forecast,
    ProgressChart,
    ProjectChart,
    SmallMultiples,
    render,
)

HORIZON_NAMES = {"month": "月 month", "quarter": "季 quarter", "year": "年 year"}
STATUS_NAMES = {
    "on_track": "on track",
    "at_risk": "at risk",
    "behind": "behind",
    "no_data": "no data",
}
DEFAULT_LABELS = {"on_track": "蓝", "at_risk": "黄", "behind": "红", "no_data": "—"}
# With this many regions or more for one indicator, its charts become small multiples.
SMALL_FROM = 2

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("exporters", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Figure:
    """A drawn chart and what the page says beside it."""

    key: str
    caption: str
    svg: str


def render_html(
    b: Bulletin,
    scope_text: str,
    workers: int = 1,
    generated: str | None = None,
    reload: int | None = None,
    cancel: threading.Event | None = None,
) -> str:
    """The bulletin page; charts drawn in `workers` processes; `reload`: seconds between
    a wall screen's reloads; `cancel` calls the drawing off (DrawingCancelled)."""
    groups, specs = progress_specs(b)
    projects = _project_specs(b)
    charts = [*specs, *(c for _, c in projects if c is not None)]
    drawn = dict(zip((c.key for c in charts), render(charts, workers, cancel), strict=True))
    labels = DEFAULT_LABELS | {r["status"]: r["status_label"] for r in b.items}
    return _env.get_template("bulletin.html.j2").render(
        b=b,
        title=f"{b.scope.year}年{b.scope.month}月 指标运行月通报 Monthly bulletin {b.scope.label}",
        scope_text=scope_text,
        generated=generated,
        reload=reload,
        statuses=STATUSES,
        horizons=HORIZONS,
        labels=labels,
        status_names=STATUS_NAMES,
        horizon_names=HORIZON_NAMES,
        chart_groups=[
            {**g, "charts": [Figure(k, cap, drawn[k]) for k, cap in g["charts"]]} for g in groups
        ],
        project_lines=[info for info, _ in projects],
        project_charts=[{**info, "svg": drawn[c.key]} for info, c in projects if c is not None],
        attainment=attainment,
        gap=gap,
        required=required,
    )


def progress_specs(b: Bulletin) -> tuple[list[dict[str, Any]], list[Chart]]:
    """Chart groups by indicator and their charts: one wide chart for a single region,
    small multiples in figures of up to MAX_PANELS for several."""
    by_indicator: dict[str, list[Row]] = {}
    for row in b.items:
        by_indicator.setdefault(row["indicator"], []).append(row)
    groups: list[dict[str, Any]] = []
    specs: list[Chart] = []
    for indicator, rows in by_indicator.items():
        small = len(rows) >= SMALL_FROM
        ordered = sorted(rows, key=lambda r: str(r["region"]))
        panels = [_progress_chart(b, row) for row in ordered]
        figures: list[Chart] = list(panels)
        if small:
            figures = [
                SmallMultiples(f"g-{indicator}-{n}", tuple(panels[n : n + MAX_PANELS]))
                for n in range(0, len(panels), MAX_PANELS)
            ]
        specs += figures
        first = rows[0]
        groups.append(
            {
                "title": first["indicator_name"] or indicator,
                "unit": first["unit"],
                "small": small,
                "charts": [(f.key, "" if small else panels[0].title) for f in figures],
            }
        )
    return groups, specs


def _progress_chart(b: Bulletin, row: Row) -> ProgressChart:
    key = (row["indicator"], row["region"])
    points = b.history.get(key, [])
    horizon_month = 12 if row["horizon"] == "year" else (row["as_of_end"].month + 2) // 3 * 3
    return ProgressChart(
        key=f"c-{row['indicator']}-{row['region']}",
        months=tuple(int(p["m"]) for p in points),
        actual=tuple(_finite(p["actual"]) for p in points),
        pace=tuple(_finite(p["pace_target"]) for p in points),
        target=_finite(row["horizon_target"]),
        horizon_month=horizon_month,
        forecasts=_ahead(row, points, b.ahead.get(key, []), horizon_month),
        title=f"{row['region_name'] or row['region']} {row['as_of']}",
    )


def _ahead(
    row: Row, points: Sequence[Row], forecasts: Sequence[Row], horizon_month: int
) -> tuple[Forecast, ...]:
    """The stored forecasts up to the chart's horizon, on the chart's axis. A flow's
    quarter is forecast as the quarter's own sum: on a year-to-date chart it stands on
    the year-to-date at the end of the quarter before."""
    ytd = {int(p["m"]): _finite(p["actual"]) for p in points}
    ytd[0] = 0.0
    found: dict[int, Forecast] = {}
    for fc in forecasts:  # by month; at one month the item's own horizon comes last
        month = int(fc["horizon_month"])
        if fc["point"] is None or month > horizon_month:
            continue
        shift: float | None = 0.0
        if row["kind"] == "flow" and fc["horizon"] == "quarter" and row["horizon"] == "year":
            shift = ytd.get(month - 3)
        if shift is None:  # no actual to stand on: the fan goes straight past it
            continue
        bounds = (fc["point"], fc["lower80"], fc["upper80"], fc["lower95"], fc["upper95"])
        found[month] = Forecast(month, *(v + shift for v in bounds))
    return tuple(found[m] for m in sorted(found))


def _project_specs(b: Bulletin) -> list[tuple[dict[str, Any], ProjectChart | None]]:
    """A line per indicator × region for the month; a chart for the top of the tree."""
    if b.projects is None:
        return []
    out: list[tuple[dict[str, Any], ProjectChart | None]] = []
    for e in b.projects.counts:
        info = {
            "title": f"{e['indicator_name']} · {e['region_name']}",
            "dekads": e["this_month_dekads"],
            "month": e["months"].get(b.scope.month, 0),
            "target": e["targets"].get(b.scope.month),
            "key": f"p-{e['indicator']}-{e['region']}",
        }
        chart = None
        if e["chart"]:
            chart = ProjectChart(
                key=info["key"],
                dekads=tuple(sorted(e["dekads"].items())),
                months=tuple(sorted(e["months"].items())),
                targets=tuple(sorted(e["targets"].items())),
            )
        out.append((info, chart))
    return out


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def num(value: float | None, digits: int = 2) -> str:
    """A figure as the table shows it; a missing one is a dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:,.{digits}f}"


def pct(value: float | None) -> str:
    """A probability in percent."""
    return "—" if value is None or not math.isfinite(value) else f"{value:.0%}"


def attainment(row: Row) -> str:
    """Attainment: percentage points for a growth rate, a ratio otherwise."""
    a = row["attainment"]
    if a is None or not math.isfinite(a):
        return "—"
    return f"{a:+.2f} pp" if row["kind"] == "growth" else f"{a:.1%}"


def gap(row: Row) -> str:
    """The gap to pace in the item's own unit (pp for a growth rate)."""
    g = row["gap"]
    if g is None or not math.isfinite(g):
        return "—"
    return f"{g:+,.2f} pp" if row["kind"] == "growth" else f"{g:+,.2f}"


def required(row: Row) -> str:
    """What each remaining period must deliver (倒排); reached or none left is a dash."""
    rate, left = row["required_rate"], row["remaining_periods"]
    if rate is None or not math.isfinite(rate) or not left:
        return "—"
    if rate <= 0:  # nothing more needed for a target; a ceiling used up or passed
        if row["direction"] != "lower":
            return "达标 reached"
        return "超限 exceeded" if rate < 0 else "用尽 used up"
    return f"{rate:,.2f} × {left}"


def region_scope(names: Sequence[str]) -> str:
    """The scope line under the title."""
    return " · ".join(names) if names else "全部地区 all regions"


_env.filters["num"] = num
_env.filters["pct"] = pct
