"""The bulletin's charts (挂图作战, 进度图) as SVG text, drawn with matplotlib.

Charts are drawn on `Figure` objects (no pyplot state), so many can be drawn in worker
processes at once. Text stays text in the SVG, in the page's CJK font family: the page
names the same fonts for its own text, and glyphs as paths made a large bulletin tens of
megabytes and most of its drawing time.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.typing import RcKeyType

from exporters.bulletin import DrawingCancelled
from forecasts.pool import process_pool

# Debian's fonts-noto-cjk; DejaVu (matplotlib's own) draws what a CJK font lacks.
FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "DejaVu Sans"]
STYLE: dict[RcKeyType, Any] = {
    "font.family": FONTS,
    "font.size": 8,
    "svg.fonttype": "none",  # <text> in the page's fonts, as the page's own text
    "axes.spines.top": False,
    "axes.spines.right": False,
}
ACTUAL, PACE, TARGET, FORECAST = "#1f4e99", "#7f7f7f", "#c0392b", "#e67e22"
# left, bottom, right, top, as fractions of the figure
WIDE_MARGINS = (0.07, 0.11, 0.99, 0.97)
# Below this many figures, starting worker processes costs more than it saves.
PARALLEL_FROM = 8
# Charts a worker draws at a time: a page of thousands of charts is many chunks, and
# a drawing called off drops those not started.
CHUNK = 64
# Seconds between looks at the cancel flag while chunks are drawn.
POLL = 0.5


@dataclass(frozen=True)
class Forecast:
    """A forecast for the end of a month ahead, with its 80 % and 95 % intervals."""

    month: int
    point: float
    lower80: float
    upper80: float
    lower95: float
    upper95: float


@dataclass(frozen=True)
class ProgressChart:
    """One item's progress this year: actual and pace by month, the target, the forecasts
    the store holds for the months ahead (quarter end, year end), in month order."""

    key: str  # unique within a page: keeps the SVG's ids apart
    months: tuple[int, ...]
    actual: tuple[float | None, ...]
    pace: tuple[float | None, ...]
    target: float | None
    horizon_month: int
    forecasts: tuple[Forecast, ...]
    title: str = ""  # a small multiple's panel title


@dataclass(frozen=True)
class SmallMultiples:
    """One indicator's regions as panels of one figure, in reading order."""

    key: str
    panels: tuple[ProgressChart, ...]


@dataclass(frozen=True)
class ProjectChart:
    """Projects counted per 旬 and per month, against each month's target."""

    key: str
    dekads: tuple[tuple[str, int], ...]
    months: tuple[tuple[int, int], ...]
    targets: tuple[tuple[int, float], ...]


Chart = ProgressChart | SmallMultiples | ProjectChart


def render(
    charts: Sequence[Chart], workers: int = 1, cancel: threading.Event | None = None
) -> list[str]:
    """Each chart as SVG text, in order; drawn in `workers` processes when there are many.
    Setting `cancel` stops the drawing (DrawingCancelled) and its workers at once."""
    if workers <= 1 or len(charts) < PARALLEL_FROM:
        return draw_many(charts)
    size = min(CHUNK, max(1, math.ceil(len(charts) / (4 * workers))))
    chunks = [charts[i : i + size] for i in range(0, len(charts), size)]
    cancel = cancel or threading.Event()
    # leaving the block on DrawingCancelled (or any error) ends the workers mid-chunk
    with process_pool(workers) as pool:
        try:
            # checked once the pool is known to a stopping service: it is stopped either
            # by the service or here, never left drawing
            _check(cancel)
            futures = [pool.submit(draw_many, chunk) for chunk in chunks]
            _wait_all(futures, cancel)
        except DrawingCancelled:
            raise
        except (BrokenProcessPool, CancelledError, RuntimeError):
            _check(cancel)  # the pool was stopped under it: the drawing is called off
            raise
    return [svg for f in futures for svg in f.result()]


def _check(cancel: threading.Event) -> None:
    if cancel.is_set():
        raise DrawingCancelled("the bulletin's drawing was called off")


def _wait_all(futures: list[Future[list[str]]], cancel: threading.Event) -> None:
    pending = set(futures)
    while pending:
        _check(cancel)
        done, pending = wait(pending, timeout=POLL, return_when=FIRST_COMPLETED)
        for f in done:
            f.result()  # a chart that failed fails the page now


def draw_many(charts: Sequence[Chart]) -> list[str]:
    """Charts as SVG text; small multiples of one size share a figure, redrawn with each
    one's data (making a figure and its axes costs as much as drawing it)."""
    grids: dict[int, Grid] = {}
    out = []
    with rc_context(STYLE):
        for chart in charts:
            if isinstance(chart, SmallMultiples):
                n = len(chart.panels)
                grid = grids.get(n) or grids.setdefault(n, Grid(n))
                out.append(grid.draw(chart))
            else:
                out.append(draw(chart))
    return out


def draw(chart: Chart) -> str:
    """One chart as SVG text."""
    with rc_context(STYLE):
        if isinstance(chart, SmallMultiples):
            return Grid(len(chart.panels)).draw(chart)
        if isinstance(chart, ProjectChart):
            fig = Figure(figsize=(7.2, 2.1))
            _projects(fig, chart)
            fig.tight_layout(pad=0.4)
        else:
            # fixed margins: a layout pass costs as much as drawing a small chart again
            fig = Figure(figsize=(7.2, 2.3))
            fig.subplots_adjust(*WIDE_MARGINS)
            _progress(fig.add_subplot(), chart)
        return svg(fig, chart.key)


def svg(fig: Figure, key: str) -> str:
    """The figure as SVG text to inline in HTML, its ids salted by the chart's key."""
    with rc_context({"svg.hashsalt": key}):
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg") :]  # inline in HTML: no XML prolog or doctype


@dataclass(frozen=True)
class Fan:
    """The forecast fan's outline: from the last actual through each stored forecast."""

    months: list[int]
    point: list[float]
    lower80: list[float]
    upper80: list[float]
    lower95: list[float]
    upper95: list[float]

    def band(self, lower: list[float], upper: list[float]) -> list[tuple[float, float]]:
        """A band's outline: along the lower edge, back along the upper one."""
        xs: list[float] = [float(m) for m in self.months]
        return [*zip(xs, lower, strict=True), *reversed(list(zip(xs, upper, strict=True)))]


def fan(c: ProgressChart) -> Fan | None:
    """The fan of a chart: none without a last actual or a forecast beyond it."""
    if not c.months or c.actual[-1] is None:
        return None
    last, start = c.months[-1], c.actual[-1]
    ahead = [f for f in c.forecasts if f.month > last]
    if not ahead:
        return None
    return Fan(
        [last, *(f.month for f in ahead)],
        [start, *(f.point for f in ahead)],
        [start, *(f.lower80 for f in ahead)],
        [start, *(f.upper80 for f in ahead)],
        [start, *(f.lower95 for f in ahead)],
        [start, *(f.upper95 for f in ahead)],
    )


def nan(values: Sequence[float | None]) -> list[float]:
    """Missing points as NaN: matplotlib leaves a gap there."""
    return [math.nan if v is None else v for v in values]


def _progress(ax: Axes, c: ProgressChart) -> None:
    last = c.horizon_month
    for q_end in (3, 6, 9):
        if q_end < last:
            ax.axvline(q_end + 0.5, color="#dddddd", linewidth=0.8, zorder=0)
    ax.plot(c.months, nan(c.pace), color=PACE, linestyle="--", linewidth=1, label="进度 pace")
    if c.target is not None:
        ax.axhline(c.target, color=TARGET, linewidth=0.8, linestyle=":", label="目标 target")
        ax.plot([last], [c.target], marker="D", markersize=3, color=TARGET)
    f = fan(c)
    if f is not None:
        ax.fill(*zip(*f.band(f.lower95, f.upper95), strict=True), color=FORECAST, alpha=0.15)
        ax.fill(*zip(*f.band(f.lower80, f.upper80), strict=True), color=FORECAST, alpha=0.3)
        ax.plot(f.months, f.point, color=FORECAST, linewidth=1, label="预测 forecast 80/95%")
    ax.plot(c.months, nan(c.actual), color=ACTUAL, marker="o", markersize=2.5, label="实际 actual")
    ax.set_xlim(0.5, last + 0.5)
    ax.set_xticks(range(1, last + 1), [f"{m}月" for m in range(1, last + 1)])
    ax.yaxis.set_major_locator(MaxNLocator(6))
    ax.tick_params(length=2, pad=1)
    ax.legend(loc="lower right", frameon=False, fontsize=7, ncols=2)


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


# A grid of small multiples: COLUMNS across the page, at most MAX_PANELS to a figure so
# that a printed figure fits on an A4 page; sizes in inches.
COLUMNS, MAX_PANELS = 3, 15
PANEL_W, PANEL_H, TITLE_H, AXIS_H = 2.5, 1.3, 0.25, 0.2


class Grid:
    """Small multiples: `n` panels in one figure, its artists made once and given each
    figure's data. Each panel is a group whose id is its chart's key."""

    def __init__(self, n: int) -> None:
        rows = math.ceil(n / COLUMNS)
        cols = min(n, COLUMNS)
        height = rows * (PANEL_H + TITLE_H) + AXIS_H
        self.fig = Figure(figsize=(cols * PANEL_W, height))
        axes = list(
            self.fig.subplots(
                rows,
                cols,
                squeeze=False,
                gridspec_kw={
                    "left": 0.4 / (cols * PANEL_W),
                    "right": 1 - 0.05 / (cols * PANEL_W),
                    "bottom": AXIS_H / height,
                    "top": 1 - TITLE_H / height,
                    "wspace": 0.5 / (PANEL_W - 0.45),
                    "hspace": TITLE_H / PANEL_H,
                },
            ).flat
        )
        self.panels = [Panel(ax) for ax in axes[:n]]
        for ax in axes[n:]:
            ax.set_visible(False)

    def draw(self, multiples: SmallMultiples) -> str:
        """The figure of one indicator's panels as SVG text; x labels on the lowest panel of
        each column when every panel spans the same months."""
        shared = len({c.horizon_month for c in multiples.panels}) == 1
        for i, (panel, chart) in enumerate(zip(self.panels, multiples.panels, strict=True)):
            panel.show(chart, labels=not shared or i + COLUMNS >= len(self.panels))
        return svg(self.fig, multiples.key)


class Panel:
    """One small multiple's artists, given a chart's data on each draw."""

    def __init__(self, ax: Axes) -> None:
        self.ax = ax
        self.quarters = [
            ax.axvline(q + 0.5, color="#dddddd", linewidth=0.8, zorder=0) for q in (3, 6, 9)
        ]
        (self.pace,) = ax.plot([], [], color=PACE, linestyle="--", linewidth=1)
        self.target = ax.axhline(0, color=TARGET, linewidth=0.8, linestyle=":")
        (self.mark,) = ax.plot([], [], marker="D", markersize=3, color=TARGET, ls="none")
        self.band95 = ax.fill([0, 1], [0, 0], color=FORECAST, alpha=0.15)[0]
        self.band80 = ax.fill([0, 1], [0, 0], color=FORECAST, alpha=0.3)[0]
        (self.forecast,) = ax.plot([], [], color=FORECAST, linewidth=1)
        (self.actual,) = ax.plot([], [], color=ACTUAL, linewidth=1.2)  # no markers: 15 %
        # A title as plain text and axis labels at fixed places: placing them around the
        # tick labels measured every label again, a third of the drawing time.
        self.title = ax.text(0, 1.04, "", fontsize=7.5, transform=ax.transAxes)
        ax.xaxis.set_label_coords(0.5, 0)
        ax.yaxis.set_label_coords(0, 0.5)
        ax.yaxis.set_major_locator(MaxNLocator(3))
        ax.tick_params(bottom=False, left=False, pad=1, labelsize=7)  # labels, no marks

    def show(self, c: ProgressChart, labels: bool) -> None:
        """Give the panel one chart's data."""
        last = c.horizon_month
        self.ax.set_gid(c.key)
        self.title.set_text(c.title)
        for line, q_end in zip(self.quarters, (3, 6, 9), strict=True):
            line.set_visible(q_end < last)
        self.pace.set_data(c.months, nan(c.pace))
        self.actual.set_data(c.months, nan(c.actual))
        ys = [v for v in (*c.actual, *c.pace) if v is not None and math.isfinite(v)]
        self.target.set_visible(c.target is not None)
        self.mark.set_visible(c.target is not None)
        if c.target is not None:
            self.target.set_ydata([c.target, c.target])
            self.mark.set_data([last], [c.target])
            ys.append(c.target)
        f = fan(c)
        for artist in (self.band95, self.band80, self.forecast):
            artist.set_visible(f is not None)
        if f is not None:
            self.band95.set_xy(f.band(f.lower95, f.upper95))
            self.band80.set_xy(f.band(f.lower80, f.upper80))
            self.forecast.set_data(f.months, f.point)
            ys += [*f.lower95, *f.upper95]
        low, high = (min(ys), max(ys)) if ys else (0.0, 1.0)
        pad = (high - low) * 0.05 or 1.0
        self.ax.set_ylim(low - pad, high + pad)
        self.ax.set_xlim(0.5, last + 0.5)
        self.ax.set_xticks((3, 6, 9, 12)[: last // 3 or 1])
        self.ax.tick_params(labelbottom=labels)
