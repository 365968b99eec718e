"""History for Prometheus: every monthly check and forecast as OpenMetrics with timestamps.

The file feeds `promtool tsdb create-blocks-from openmetrics`, which wants each metric
family in one block of lines and each series' samples in time order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb

from exporters.collector import (
    HELP,
    CheckRow,
    ForecastRow,
    check_samples,
    forecast_samples,
    label_names,
)
from ingest.files import write_atomic

# The same rows the live snapshot reads, for every month instead of the latest.
CHECKS = """
SELECT p.indicator, p.region, p.horizon, coalesce(p.kind, ''), p.actual, p.pace_target,
       p.horizon_target, p.attainment, p.gap, p.required_rate, p.status, false,
       p.year, CAST(epoch(p.horizon_end + INTERVAL 1 DAY) AS DOUBLE),
       coalesce(c.status, 'no_data'), coalesce(p.owner, ''),
       epoch(p.as_of_end + INTERVAL 1 DAY) AS ts
FROM progress p
LEFT JOIN progress_checks c
  ON c.indicator = p.indicator AND c.region = p.region AND c.year = p.year
 AND c.month = month(p.as_of_end) AND c.horizon = p.horizon
"""
FORECASTS = """
SELECT f.indicator, f.region, f.horizon, f.point, f.lower80, f.upper80, f.lower95, f.upper95,
       f.p_meet, f.year, coalesce(i.kind, ''), f.expected_shortfall,
       epoch(last_day(make_date(f.year, f.month, 1)) + INTERVAL 1 DAY) AS ts
FROM forecast_results f LEFT JOIN indicators i ON i.id = f.indicator
WHERE f.point IS NOT NULL
"""
# whether a release is late now and when it is due, not then
NOT_HISTORY = {"kpiwatch_kpi_stale", "kpiwatch_kpi_next_release_due_timestamp_seconds"}


def _labels(pairs: list[tuple[str, str]]) -> str:
    body = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in sorted(pairs)
    )
    return "{" + body + "}"


def samples(con: duckdb.DuckDBPyConnection) -> Iterator[tuple[str, str, float, float]]:
    """(metric, labels, timestamp, value) for every stored check and forecast."""
    rows: list[tuple[CheckRow | ForecastRow, float]] = [
        (CheckRow(*r[:-1]), float(r[-1])) for r in con.execute(CHECKS).fetchall()
    ]
    rows += [(ForecastRow(*r[:-1]), float(r[-1])) for r in con.execute(FORECASTS).fetchall()]
    for row, ts in rows:
        found = check_samples(row) if isinstance(row, CheckRow) else forecast_samples(row)
        for name, values, value in found:
            if name not in NOT_HISTORY:
                pairs = list(zip(label_names(name), values, strict=True))
                yield name, _labels(pairs), ts, float(value)


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
