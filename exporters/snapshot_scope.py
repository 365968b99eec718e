"""A snapshot's data after a refresh that touched a few targets: the rows the last read
gave every other target, and the rows read again of those it touched.

A full read gives each target's rows together, targets in order (indicator, region);
so does a merge. A scoped read is only as true as the last read it is merged into: the
caller keeps a stamp of what the store held then (stamp) and reads everything again when
anything else wrote the checks or the forecasts since (a refresh run by hand).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

import duckdb

from exporters.collector import CheckRow, ForecastRow, SnapshotData
from exporters.snapshot import Key

Row = TypeVar("Row", CheckRow, ForecastRow, tuple[str, str, float])
# What the checks and forecasts hold: the last refresh's record, and each table's rows
STAMP_SQL = """
SELECT (SELECT list(row(load_id, inputs, targets, today)) FROM check_state),
       (SELECT row(count(*), max(computed_at)) FROM check_targets),
       (SELECT count(*) FROM check_results),
       (SELECT row(count(*), max(computed_at)) FROM forecast_results)
"""


def stamp(con: duckdb.DuckDBPyConnection) -> object:
    """What the store's checks and forecasts are now (equal stamps: nothing written)."""
    return con.execute(STAMP_SQL).fetchall()[0]


def merged(last: SnapshotData, fresh: SnapshotData, read: frozenset[Key]) -> SnapshotData:
    """`fresh` (a scoped read of the targets `read`), with the other targets' rows of
    `last`."""
    return replace(
        fresh,
        checks=_merge(last.checks, fresh.checks, read, _pair),
        data_end=_merge(last.data_end, fresh.data_end, read, lambda e: (e[0], e[1])),
        forecasts=_merge(last.forecasts, fresh.forecasts, read, _pair),
    )


def _pair(row: CheckRow | ForecastRow) -> Key:
    return row.indicator, row.region


def _merge(
    last: Sequence[Row], fresh: Sequence[Row], read: frozenset[Key], key: Callable[[Row], Key]
) -> list[Row]:
    """Both in order of their targets: `last`'s rows of the targets read are found by
    bisection and replaced by `fresh`'s (a release touches few of many targets)."""
    groups: dict[Key, list[Row]] = {}
    for row in fresh:
        groups.setdefault(key(row), []).append(row)
    out: list[Row] = []
    kept = 0  # where `last`'s rows not yet copied start
    for pair in sorted(read):
        start = bisect_left(last, pair, kept, key=key)
        out += last[kept:start]
        out += groups.get(pair, ())
        kept = bisect_right(last, pair, start, key=key)
    out += last[kept:]
    return out
