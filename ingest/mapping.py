"""Lookup tables that turn a file's texts into small integer ids, each text parsed once.

Checking millions of rows joins them against these tables; grouping and joining on
integers instead of strings is what keeps ingest close to DuckDB's own CSV speed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import get_args

import duckdb
import pandas as pd

from ingest.periods import Period, PeriodError, freq_code, parse_published
from ingest.schema import Indicator, Measure, Region, Source
from ingest.text import clean_text, name_key

MEASURES: tuple[str, ...] = get_args(Measure)
CUMULATIVE = ("ytd", "ytd_yoy_pct")

_TRUE = {"true", "1", "yes", "y", "是", "t"}
_FALSE = {"false", "0", "no", "n", "否", "f", ""}

# Reasons a row is bad, as codes in the checked table.
UNMAPPED, UNKNOWN_INDICATOR, UNKNOWN_MEASURE = 1, 2, 3


def register(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    """Materialise a small DataFrame as a temp table (so the frame can be dropped)."""
    con.register("_frame", frame)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _frame")
    finally:
        con.unregister("_frame")


def period_key(p: Period) -> int:
    """An integer naming a period: yyyy·10⁴ + first month·100 + last month, or for a 旬
    yyyy·10⁴ + month·100 + 20 + its number (21..23, past any month)."""
    return p.year * 10000 + p.first_month * 100 + (20 + p.dekad if p.dekad else p.last_month)


SERIES_COLUMNS = ["series", "measure_text", "key_id", "rid", "scale", "digits", "status"]
SERIES_COLUMNS += ["non_negative", "cumulative", "dekads"]


def build_series_map(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    indicators: Mapping[str, Indicator],
    regions: Sequence[Region],
) -> None:
    """series_map: for each staged (series, measure) text its key id, scale and status.

    key_id numbers the (indicator, measure) pairs, listed in key_map.
    """
    rids = {r.id: n for n, r in enumerate(regions)}
    keys: dict[tuple[str, str], int] = {}
    pairs = con.execute("SELECT DISTINCT series, measure FROM staged").fetchall()
    rows = [_series_row(s, m, source, indicators, rids, keys) for s, m in pairs]
    frame = pd.DataFrame(rows, columns=SERIES_COLUMNS).astype(
        {"series": str, "measure_text": str, "scale": float, "key_id": "Int32", "rid": "Int32"}
    )
    frame["status"] = frame["status"].astype("Int8")
    register(con, "series_map", frame)
    key_frame = pd.DataFrame(
        [(k, i, m, m in CUMULATIVE, indicators[i].refuses_negative) for (i, m), k in keys.items()],
        columns=["key_id", "indicator", "measure", "cumulative", "non_negative"],
    )
    key_frame = key_frame.astype(
        {"key_id": "int32", "indicator": str, "measure": str, "cumulative": bool}
    )
    register(con, "key_map", key_frame.astype({"non_negative": bool}))


def _series_row(
    series: str,
    measure_text: str,
    source: Source,
    indicators: Mapping[str, Indicator],
    rids: dict[str, int],
    keys: dict[tuple[str, str], int],
) -> tuple[object, ...]:
    """One series_map row (SERIES_COLUMNS); status NULL = ignored, 0 = fine, else why not."""
    entry = source.series_entry(series) if source.series else None
    if source.series and entry is None:
        status = None if source.unmapped == "ignore" else UNMAPPED
        return (series, measure_text, None, None, 1.0, 0, status, False, False, False)
    indicator = (entry.indicator if entry else None) or source.indicator or name_key(series)
    measure = (entry.measure if entry else None) or name_key(measure_text)
    measure = measure or source.measure or "value"
    scale = entry.scale if entry and entry.scale is not None else source.scale
    rid = rids.get(entry.region) if entry and entry.region else None
    status = 0
    if indicator not in indicators:
        status = UNKNOWN_INDICATOR
    elif measure not in MEASURES:
        status = UNKNOWN_MEASURE
    key_id = keys.setdefault((indicator, measure), len(keys)) if status == 0 else None
    refuses = status == 0 and indicators[indicator].refuses_negative and measure in ("value", "ytd")
    row = (series, measure_text, key_id, rid, scale, _digits(scale), status, refuses)
    dekads = status == 0 and indicators[indicator].frequency == "dekad"
    return (*row, measure in CUMULATIVE, dekads)


def _digits(scale: float) -> int:
    """Decimal places of a scale as written (0.0001 → 4): what scaling adds to a figure."""
    exponent = Decimal(repr(scale)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def build_region_map(con: duckdb.DuckDBPyConnection, regions: Sequence[Region]) -> None:
    """region_map(text, rid) and region_ids(rid, region): by id, name or alias."""
    names: dict[str, int] = {}
    for n, r in enumerate(regions):
        for text in (r.id, r.name, *r.aliases):
            names.setdefault(name_key(text), n)
    texts = [t for (t,) in con.execute("SELECT DISTINCT region FROM staged").fetchall()]
    frame = pd.DataFrame(
        {"text": texts, "rid": [names.get(name_key(t)) for t in texts]}, columns=["text", "rid"]
    ).astype({"text": str, "rid": "Int32"})
    register(con, "region_map", frame)
    ids = pd.DataFrame({"rid": range(len(regions)), "region": [r.id for r in regions]}).astype(
        {"rid": "int32", "region": str}
    )
    register(con, "region_ids", ids)


def build_period_map(con: duckdb.DuckDBPyConnection, today: date, freq: str) -> None:
    """period_map (each distinct period text parsed once) and period_labels (by key).

    p_key and error serve a period's own figures, c_key and c_error year-to-date ones.
    """
    rows: list[tuple[object, ...]] = []
    labels: dict[int, tuple[object, ...]] = {}
    for text, row_freq, flag in con.execute(
        "SELECT DISTINCT period, freq, jan_feb FROM staged"
    ).fetchall():
        errors, periods = _parse(text or "", row_freq or "", freq, flag or "", today)
        for p in periods:
            if p is not None:
                labels[period_key(p)] = (period_key(p), p.label, p.start, p.end, p.months, p.freq)
        keys = [None if p is None else period_key(p) for p in periods]
        rows.append((text, row_freq, flag, errors[0], errors[1], keys[0], keys[1]))
    frame = pd.DataFrame(
        rows, columns=["period", "freq", "jan_feb", "error", "c_error", "p_key", "c_key"]
    ).astype({"period": str, "freq": str, "jan_feb": str, "p_key": "Int32", "c_key": "Int32"})
    register(con, "period_map", frame)
    label_frame = pd.DataFrame(
        list(labels.values()),
        columns=["pkey", "period", "period_start", "period_end", "months", "freq"],
    ).astype({"pkey": "int32", "period": str, "months": "int8", "freq": str})
    label_frame["period_start"] = pd.to_datetime(label_frame["period_start"])
    label_frame["period_end"] = pd.to_datetime(label_frame["period_end"])
    label_frame["idx"] = pd.Series(range(len(label_frame)), dtype="int32")  # dense, from 0
    register(con, "period_labels", label_frame)


Parsed = tuple[tuple[str | None, str | None], tuple[Period | None, Period | None]]


def _parse(text: str, freq: str, default: str, flag: str, today: date) -> Parsed:
    """(own error, year-to-date error), (own period, year-to-date key) of a period text."""
    lowered = clean_text(flag).lower()
    if lowered not in _TRUE | _FALSE:
        error = f"jan_feb flag {flag!r} is not true/false"
        return (error, error), (None, None)
    try:
        published = parse_published(text, freq_code(freq, default), jan_feb=lowered in _TRUE)
    except PeriodError as exc:
        return (str(exc), str(exc)), (None, None)
    own, cum = published.own, published.cumulative
    for p in (own, cum):
        if p is not None and p.start > today:
            error = f"{text!r} is in the future"
            return (error, error), (None, None)
    own_error = None if own else published.own_error or f"{text!r} is not a period"
    cum_error = None if cum else published.cumulative_error or f"{text!r} is not a period"
    return (own_error, cum_error), (own, cum)
