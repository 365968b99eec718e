"""The bulletin's charts drawn over worker processes: the same SVG as drawn in one
process, in order, and a drawing that can be called off (a stopping service)."""

from __future__ import annotations

import threading

import pytest

from exporters.bulletin import DrawingCancelled
from exporters.bulletin_charts import PARALLEL_FROM, ProgressChart, draw_many, render

MONTHS = tuple(range(1, 7))


def _charts(n: int) -> list[ProgressChart]:
    return [
        ProgressChart(
            key=f"c{i}",
            months=MONTHS,
            actual=tuple(float(10 * m + i) for m in MONTHS),
            pace=tuple(float(11 * m) for m in MONTHS),
            target=float(130 + i),
            horizon_month=12,
            forecasts=(),
        )
        for i in range(n)
    ]


def test_charts_drawn_in_workers_are_those_drawn_in_one_process_in_order() -> None:
    charts = _charts(PARALLEL_FROM + 4)
    assert render(charts, workers=2) == draw_many(charts)


def test_a_called_off_drawing_stops_with_drawing_cancelled() -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(DrawingCancelled):
        render(_charts(PARALLEL_FROM + 4), workers=2, cancel=cancel)
