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
        return draw_many(charts)
    size = max(1, len(charts) // (8 * workers))
    chunks = [charts[i : i + size] for i in range(0, len(charts), size)]
    with process_pool(workers) as pool:
        return [svg for done in pool.map(draw_many, chunks) for svg in done]


def draw_many(charts: Sequence[Chart]) -> list[str]:
    """Charts as SVG text; the small multiples share one figure, redrawn with each one's data."""
    small: SmallMultiple | None = None
    out = []
    for chart in charts:
        if isinstance(chart, ProgressChart) and chart.small:
            small = small or SmallMultiple()
            out.append(small.draw(chart))
        else:
            out.append(draw(chart))
    return out


def draw(chart: Chart) -> str:
    """One chart as SVG text."""
    if isinstance(chart, ProgressChart) and chart.small:
        return SmallMultiple().draw(chart)
    with rc_context(STYLE):
        if isinstance(chart, ProjectChart):
            fig = Figure(figsize=(7.2, 2.1))
            _projects(fig, chart)
            fig.tight_layout(pad=0.4)
        else:
            # fixed margins: a layout pass costs as much as drawing a small chart again
            fig = Figure(figsize=(7.2, 2.3))
            fig.subplots_adjust(*WIDE_MARGINS)
            _progress(fig.add_subplot(), chart)
        return _svg(fig, chart.key)


def _svg(fig: Figure, key: str) -> str:
    with rc_context(STYLE), rc_context({"svg.hashsalt": key}):
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg") :]  # inline in HTML: no XML prolog or doctype


class SmallMultiple:
    """A small progress chart whose artists are made once and given each series' data:
    making a figure, its axes and ticks costs about as much as drawing it, and a bulletin
    may hold thousands of small multiples."""

    def __init__(self) -> None:
        with rc_context(STYLE):
            self.fig = Figure(figsize=(2.5, 1.7))
            self.fig.subplots_adjust(*SMALL_MARGINS)
            ax = self.ax = self.fig.add_subplot()
            self.quarters = [
                ax.axvline(q + 0.5, color="#dddddd", linewidth=0.8, zorder=0) for q in (3, 6, 9)
            ]
            (self.pace,) = ax.plot([], [], color=PACE, linestyle="--", linewidth=1)
            self.target = ax.axhline(0, color=TARGET, linewidth=0.8, linestyle=":")
            (self.mark,) = ax.plot([], [], marker="D", markersize=3, color=TARGET, ls="none")
            self.band95 = ax.fill_between([0, 1], [0, 0], [0, 0], color=FORECAST, alpha=0.15)
            self.band80 = ax.fill_between([0, 1], [0, 0], [0, 0], color=FORECAST, alpha=0.3)
            (self.forecast,) = ax.plot([], [], color=FORECAST, linewidth=1)
            (self.actual,) = ax.plot([], [], color=ACTUAL, marker="o", markersize=2.5)
            ax.yaxis.set_major_locator(MaxNLocator(4))
            ax.tick_params(length=2, pad=1)

    def draw(self, c: ProgressChart) -> str:
        """The chart of one series as SVG text."""
        last = c.horizon_month
        for line, q_end in zip(self.quarters, (3, 6, 9), strict=True):
            line.set_visible(q_end < last)
        self.pace.set_data(c.months, _nan(c.pace))
        self.actual.set_data(c.months, _nan(c.actual))
        ys = [v for v in (*c.actual, *c.pace) if v is not None and math.isfinite(v)]
        self.target.set_visible(c.target is not None)
        self.mark.set_visible(c.target is not None)
        if c.target is not None:
            self.target.set_ydata([c.target, c.target])
            self.mark.set_data([last], [c.target])
            ys.append(c.target)
        fan = _fan_points(c)
        for artist in (self.band95, self.band80, self.forecast):
            artist.set_visible(fan is not None)
        if fan is not None:
            xs, start, f = fan
            self.band95.set_verts([_band(xs, (start, f.lower95), (start, f.upper95))])
            self.band80.set_verts([_band(xs, (start, f.lower80), (start, f.upper80))])
            self.forecast.set_data(xs, [start, f.point])
            ys += [f.lower95, f.upper95, f.point]
        low, high = (min(ys), max(ys)) if ys else (0.0, 1.0)
        pad = (high - low) * 0.05 or 1.0
        self.ax.set_ylim(low - pad, high + pad)
        self.ax.set_xlim(0.5, last + 0.5)
        self.ax.set_xticks((3, 6, 9, 12)[: last // 3 or 1])
        return _svg(self.fig, c.key)


def _fan_points(c: ProgressChart) -> tuple[list[int], float, Forecast] | None:
    """Where the forecast fan starts (the last actual) and ends (the horizon's end)."""
    if c.forecast is None or not c.months or c.actual[-1] is None:
        return None
    if c.forecast.month <= c.months[-1]:
        return None
    return [c.months[-1], c.forecast.month], c.actual[-1], c.forecast


def _band(
    xs: list[int], lower: tuple[float, float], upper: tuple[float, float]
) -> list[tuple[float, float]]:
    """A band's outline: along the lower edge, back along the upper one."""
    return [(xs[0], lower[0]), (xs[1], lower[1]), (xs[1], upper[1]), (xs[0], upper[0])]


def _progress(ax: Axes, c: ProgressChart) -> None:
    last = c.horizon_month
    for q_end in (3, 6, 9):
        if q_end < last:
            ax.axvline(q_end + 0.5, color="#dddddd", linewidth=0.8, zorder=0)
    ax.plot(c.months, _nan(c.pace), color=PACE, linestyle="--", linewidth=1, label="进度 pace")
    if c.target is not None:
        ax.axhline(c.target, color=TARGET, linewidth=0.8, linestyle=":", label="目标 target")
        ax.plot([last], [c.target], marker="D", markersize=3, color=TARGET)
    fan = _fan_points(c)
    if fan is not None:
        _fan(ax, *fan)
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


def _fan(ax: Axes, xs: list[int], actual: float, f: Forecast) -> None:
    """The forecast from the last actual to the horizon's end, its bands widening."""
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
