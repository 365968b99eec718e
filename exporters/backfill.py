"""History for Prometheus: every monthly check and forecast as OpenMetrics with timestamps.

The file feeds `promtool tsdb create-blocks-from openmetrics`, which wants each metric
family in one block of lines and each series' samples in time order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb

from exporters.collector import HELP, STATUSES
from ingest.files import write_atomic

CHECKS = """
SELECT p.indicator, p.region, p.horizon, coalesce(i.kind, '') AS kind, p.actual,
       p.pace_target, p.horizon_target, p.attainment, p.gap, p.required_rate, p.status,
       epoch(last_day(make_date(p.year, p.month, 1)) + INTERVAL 1 DAY) AS ts
FROM progress_checks p LEFT JOIN indicators i ON i.id = p.indicator
"""
FORECASTS = """
SELECT indicator, region, horizon, point, lower80, upper80, lower95, upper95, p_meet,
       epoch(last_day(make_date(year, month, 1)) + INTERVAL 1 DAY) AS ts
FROM forecast_results WHERE point IS NOT NULL
"""


def _labels(pairs: list[tuple[str, str]]) -> str:
    body = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in pairs
    )
    return "{" + body + "}"


def samples(con: duckdb.DuckDBPyConnection) -> Iterator[tuple[str, str, float, float]]:
    """(metric, labels, timestamp, value) for every stored check and forecast."""
    for ind, reg, hor, kind, *vals, status, ts in con.execute(CHECKS).fetchall():
        base = [("horizon", hor), ("indicator", ind), ("region", reg)]
        names = (
            "kpi_actual",
            "kpi_pace_target",
            "kpi_target",
            "kpi_attainment_ratio",
            "kpi_gap",
            "kpi_required_rate",
        )
        for name, v in zip(names, vals, strict=True):
            if v is not None and not (name == "kpi_attainment_ratio" and kind == "growth"):
                yield name, _labels(base), float(ts), float(v)
        for s in STATUSES:
            yield (
                "kpi_status",
                _labels([*base[:2], ("region", reg), ("status", s)]),
                float(ts),
                1.0 if status == s else 0.0,
            )
    for ind, reg, hor, point, lo80, hi80, lo95, hi95, p, ts in con.execute(FORECASTS).fetchall():
        base = [("horizon", hor), ("indicator", ind)]
        yield "kpi_forecast", _labels([*base, ("region", reg)]), float(ts), float(point)
        for level, lo, hi in (("80", lo80, hi80), ("95", lo95, hi95)):
            lab = _labels([*base, ("interval", level), ("region", reg)])
            yield "kpi_forecast_lower", lab, float(ts), float(lo)
            yield "kpi_forecast_upper", lab, float(ts), float(hi)
        if p is not None:
            yield "kpi_target_met_probability", _labels([*base, ("region", reg)]), float(ts), p


def openmetrics(con: duckdb.DuckDBPyConnection) -> str:
    """The whole history, grouped by family, each series in time order, ending in # EOF."""
    ordered = sorted(samples(con))
    lines: list[str] = []
    family = None
    for name, labels, ts, value in ordered:
        if name != family:
            family = name
            lines += [f"# HELP {name} {HELP[name]}", f"# TYPE {name} gauge"]
        lines.append(f"{name}{labels} {value!r} {ts:.0f}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def write_backfill(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Write the history file atomically; return the number of samples."""
    text = openmetrics(con)
    write_atomic(path, text)
    return sum(1 for line in text.splitlines() if not line.startswith("#"))
