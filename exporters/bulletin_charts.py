"""The bulletin's charts (挂图作战, 进度图) as SVG text, drawn with matplotlib.

Charts are drawn on `Figure` objects (no pyplot state), so many can be drawn in worker
processes at once; each returns a self-contained SVG with its glyphs as paths.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.typing import RcKeyType

from forecasts.pool import process_pool

# Debian's fonts-noto-cjk; DejaVu (matplotlib's own) draws what a CJK font lacks.
FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "DejaVu Sans"]
STYLE: dict[RcKeyType, Any] = {
    "font.family": FONTS,
    "font.size": 8,
    "svg.fonttype": "path",  # glyphs travel with the chart: no font needed to view it
    "axes.spines.top": False,
    "axes.spines.right": False,
}
ACTUAL, PACE, TARGET, FORECAST = "#1f4e99", "#7f7f7f", "#c0392b", "#e67e22"
# left, bottom, right, top, as fractions of the figure
SMALL_MARGINS = (0.17, 0.13, 0.97, 0.95)
WIDE_MARGINS = (0.07, 0.11, 0.99, 0.97)
# Below this many charts, starting worker processes costs more than it saves.
PARALLEL_FROM = 24


@dataclass(frozen=True)
class Forecast:
    """A forecast at the horizon's end, with its 80 % and 95 % intervals."""

    month: int
    point: float
    lower80: float
    upper80: float
    lower95: float
    upper95: float


@dataclass(frozen=True)
class ProgressChart:
    """One item's progress this year: actual and pace by month, the target, a forecast."""

    key: str  # unique within a page: keeps the SVG's ids apart
    months: tuple[int, ...]
    actual: tuple[float | None, ...]
    pace: tuple[float | None, ...]
    target: float | None
    horizon_month: int
    forecast: Forecast | None
    small: bool


@dataclass(frozen=True)
class ProjectChart:
    """Projects counted per 旬 and per month, against each month's target."""

    key: str
    dekads: tuple[tuple[str, int], ...]
    months: tuple[tuple[int, int], ...]
    targets: tuple[tuple[int, float], ...]


Chart = ProgressChart | ProjectChart


def render(charts: Sequence[Chart], workers: int = 1) -> list[str]:
    """Each chart as SVG text, in order; drawn in `workers` processes when there are many."""
    if workers <= 1 or len(charts) < PARALLEL_FROM:
        return [draw(c) for c in charts]
    with process_pool(workers) as pool:
        return list(pool.map(draw, charts, chunksize=max(1, len(charts) // (8 * workers))))


def draw(chart: Chart) -> str:
    """One chart as SVG text."""
    with rc_context(STYLE), rc_context({"svg.hashsalt": chart.key}):
        if isinstance(chart, ProjectChart):
            fig = Figure(figsize=(7.2, 2.1))
            _projects(fig, chart)
            fig.tight_layout(pad=0.4)
        else:
            # fixed margins: a layout pass costs as much as drawing a small chart again
            fig = Figure(figsize=(2.5, 1.7) if chart.small else (7.2, 2.3))
            fig.subplots_adjust(*(SMALL_MARGINS if chart.small else WIDE_MARGINS))
            _progress(fig.add_subplot(), chart)
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg") :]  # inline in HTML: no XML prolog or doctype


def _progress(ax: Axes, c: ProgressChart) -> None:
    last = c.horizon_month
    for q_end in (3, 6, 9):
        if q_end < last:
            ax.axvline(q_end + 0.5, color="#dddddd", linewidth=0.8, zorder=0)
    ax.plot(c.months, _nan(c.pace), color=PACE, linestyle="--", linewidth=1, label="进度 pace")
    if c.target is not None:
        ax.axhline(c.target, color=TARGET, linewidth=0.8, linestyle=":", label="目标 target")
        ax.plot([last], [c.target], marker="D", markersize=3, color=TARGET)
    if c.forecast is not None and c.months:
        _fan(ax, c.months[-1], c.actual[-1], c.forecast)
    ax.plot(c.months, _nan(c.actual), color=ACTUAL, marker="o", markersize=2.5, label="实际 actual")
    ax.set_xlim(0.5, last + 0.5)
    ax.set_xticks(range(1, last + 1) if not c.small else (3, 6, 9, 12)[: last // 3 or 1])
    ax.yaxis.set_major_locator(MaxNLocator(4 if c.small else 6))
    ax.tick_params(length=2, pad=1)
    if not c.small:
        ax.set_xticklabels([f"{m}月" for m in range(1, last + 1)])
        ax.legend(loc="lower right", frameon=False, fontsize=7, ncols=2)


def _nan(values: Sequence[float | None]) -> list[float]:
    """Missing points as NaN: matplotlib leaves a gap there."""
    return [math.nan if v is None else v for v in values]


def _fan(ax: Axes, month: int, actual: float | None, f: Forecast) -> None:
    """The forecast from the last actual to the horizon's end, its bands widening."""
    if actual is None or f.month <= month:
        return
    xs = [month, f.month]
    ax.fill_between(xs, [actual, f.lower95], [actual, f.upper95], color=FORECAST, alpha=0.15)
    ax.fill_between(xs, [actual, f.lower80], [actual, f.upper80], color=FORECAST, alpha=0.3)
    ax.plot(xs, [actual, f.point], color=FORECAST, linewidth=1, label="预测 forecast 80/95%")


def _projects(fig: Figure, c: ProjectChart) -> None:
    by_dekad, by_month = fig.subplots(1, 2, width_ratios=(3, 2))
    by_dekad.bar(range(len(c.dekads)), [n for _, n in c.dekads], color=ACTUAL, width=0.7)
    ticks = [i for i, (p, _) in enumerate(c.dekads) if p.endswith("D1")]
    by_dekad.set_xticks(ticks, [f"{int(c.dekads[i][0][5:7])}月" for i in ticks])
    by_dekad.set_title("每旬 per 旬", fontsize=8)
    by_month.bar([m for m, _ in c.months], [n for _, n in c.months], color=ACTUAL, width=0.7)
    if c.targets:
        by_month.plot(
            [m for m, _ in c.targets],
            [t for _, t in c.targets],
            color=TARGET,
            marker="_",
            markersize=9,
            linestyle="none",
            label="月目标 target",
        )
        by_month.legend(frameon=False, fontsize=7)
    by_month.set_xticks([m for m, _ in c.months])
    by_month.set_title("每月 per month", fontsize=8)
    for ax in (by_dekad, by_month):
        ax.tick_params(length=2, pad=1)
