"""Lookup tables that turn a file's texts into ids: series, regions, periods, flags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import get_args

import duckdb
import pandas as pd

from ingest.periods import PeriodError, parse_period
from ingest.schema import Indicator, Measure, Region, Source

MEASURES = frozenset(get_args(Measure))

_TRUE = {"true", "1", "yes", "y", "是", "t"}
_FALSE = {"false", "0", "no", "n", "否", "f", ""}


def register(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    """Materialise a small DataFrame as a temp table (so the frame can be dropped)."""
    con.register("_frame", frame)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _frame")
    finally:
        con.unregister("_frame")


def build_series_map(
    con: duckdb.DuckDBPyConnection, source: Source, indicators: Mapping[str, Indicator]
) -> None:
    """series_map: indicator, measure, region, scale and status of each staged series."""
    rows: list[tuple[object, ...]] = []
    pairs = con.execute("SELECT DISTINCT series, measure FROM staged").fetchall()
    for series, measure_text in pairs:
        entry = source.series.get(series) if source.series else None
        if source.series and entry is None:
            status = "ignore" if source.unmapped == "ignore" else "unmapped"
            rows.append((series, measure_text, None, None, None, 1.0, status, False))
            continue
        indicator = (entry.indicator if entry else None) or source.indicator or series or None
        measure = (entry.measure if entry else None) or measure_text or source.measure or "value"
        scale = entry.scale if entry and entry.scale is not None else source.scale
        region = entry.region if entry else None
        status = "ok"
        if indicator not in indicators:
            status = "unknown_indicator"
        elif measure not in MEASURES:
            status = "unknown_measure"
        refuses = indicator in indicators and indicators[str(indicator)].refuses_negative
        rows.append((series, measure_text, indicator, measure, region, scale, status, refuses))
    columns = [
        "series",
        "measure_text",
        "indicator",
        "measure",
        "region",
        "scale",
        "status",
        "non_negative",
    ]
    frame = pd.DataFrame(rows, columns=columns).astype(
        {"series": str, "measure_text": str, "indicator": object, "scale": float}
    )
    register(con, "series_map", frame)


def build_region_map(con: duckdb.DuckDBPyConnection, regions: Sequence[Region]) -> None:
    """region_map(text, region_id): a region is named by its id, its name or an alias."""
    names: dict[str, str] = {}
    for r in regions:
        for text in (r.id, r.name, *r.aliases):
            names.setdefault(text.strip(), r.id)
    texts = [t for (t,) in con.execute("SELECT DISTINCT region FROM staged").fetchall()]
    frame = pd.DataFrame(
        {"text": texts, "region_id": [names.get(t.strip()) for t in texts]},
        columns=["text", "region_id"],
    ).astype(object)
    register(con, "region_map", frame)


def build_period_map(con: duckdb.DuckDBPyConnection, today: date) -> None:
    """period_map: each distinct (period, freq, jan_feb) text parsed once."""
    rows = []
    for text, freq, flag in con.execute(
        "SELECT DISTINCT period, freq, jan_feb FROM staged"
    ).fetchall():
        rows.append((text, freq, flag, *_parse(text or "", freq or "M", flag or "", today)))
    cols = ["period", "freq", "jan_feb", "error"]
    for prefix in ("p_", "c_"):
        cols += [prefix + c for c in ("label", "start", "end", "months", "freq")]
    register(con, "period_map", pd.DataFrame(rows, columns=cols).astype(object))


def _parse(text: str, freq: str, flag: str, today: date) -> tuple[object, ...]:
    empty = (None,) * 10
    lowered = flag.strip().lower()
    if lowered not in _TRUE | _FALSE:
        return (f"jan_feb flag {flag!r} is not true/false", *empty)
    try:
        period = parse_period(text, freq, jan_feb=lowered in _TRUE)
    except PeriodError as exc:
        return (str(exc), *empty)
    if period.start > today:
        return (f"{text!r} is in the future", *empty)
    cum = period.cumulative()
    return (
        None,
        *(period.label, period.start, period.end, period.months, period.freq),
        *(cum.label, cum.start, cum.end, cum.months, cum.freq),
    )
