"""Targets of indicators published per 旬 (frequency = "dekad") checked at each 旬's end.

The actual at a 旬's end is what the store holds for that 旬: a flow's year-to-date (its
published `ytd`, else its 旬 values summed from the year's first 旬 when none is
missing), a stock's level (`value`), a growth rate (`ytd_yoy_pct`, else `yoy_pct`). The
pace is the target's curve on the 旬's last day (metrics.project_dekads.pace_at: linear
by days inside a month, through the target's 上旬 and 中旬 values); a growth target's
rate is its month's (or the 旬's own, where given). Every 旬 of a year is checked from
the first to the last one with a figure; a 旬 without one between them is no_data, and a
target whose year has no figure is checked once, at its first 旬, as no_data. A
region without 旬 figures of its own is checked on its children's summed (not rates).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from ingest.grains import Span, spans
from ingest.schema import Indicator, Region, per_dekad, region_children
from metrics.pace import Curve
from metrics.project_dekads import DekadCheck, judged, pace_at
from metrics.schema import Target, Thresholds
from metrics.targets import curve_for, history

# The current figure of each asked series (indicator, region) per 旬 and measure.
_FIGURES = """
SELECT s.indicator, s.region, s.measure, p.period_end,
       arg_max(v.value, (l.known_from, v.load_id)) AS value
FROM vintages v JOIN periods p USING (pkey) JOIN loads l USING (load_id)
JOIN (SELECT s.* FROM series s JOIN _asked USING (indicator, region)) s USING (series_id)
WHERE p.freq = 'D' AND p.period_start <= $today
GROUP BY ALL
"""

Figures = dict[tuple[str, str], dict[str, dict[date, float]]]


def dekad_series_checks(
    con: duckdb.DuckDBPyConnection,
    targets: Sequence[Target],
    indicators: Mapping[str, Indicator],
    thresholds: Callable[[str], Thresholds],
    today: date,
    regions: Sequence[Region] = (),
) -> list[DekadCheck]:
    """Every 旬 check of the targets on 旬 indicators (the temp table actuals gives the
    past years that seasonal pacing and a stock's opening level read)."""
    published = per_dekad(indicators.values())
    if not published:  # nothing to walk 100,000 targets for
        return []
    # a target relative to another region's rate is checked by month only
    chosen = [t for t in targets if t.indicator in published and t.relative_to is None]
    if not chosen:
        return []
    kids = region_children(regions)
    asked = {(t.indicator, t.region) for t in chosen}
    figures = _figures(con, with_descendants(asked, kids), today)
    past = history(con, sorted(asked))
    checks = []
    for t in chosen:
        ind = indicators[t.indicator]
        found = _rolled(figures, t.indicator, t.region, ind.kind, kids)
        curve, _, _ = curve_for(t, ind, past.get((t.indicator, t.region), {}))
        checks += _target_checks(t, ind, curve, found, thresholds(t.indicator))
    return checks


def with_descendants(
    series: set[tuple[str, str]], kids: Mapping[str, list[str]]
) -> set[tuple[str, str]]:
    """The series and those of every region below theirs."""
    out, stack = set(series), list(series)
    while stack:
        ind, reg = stack.pop()
        for child in kids.get(reg, ()):
            if (ind, child) not in out:
                out.add((ind, child))
                stack.append((ind, child))
    return out


def _rolled(
    figures: Figures, ind: str, region: str, kind: str, kids: Mapping[str, list[str]]
) -> Mapping[str, Mapping[date, float]]:
    """A region's 旬 figures; a region without any of its own gets its children's summed
    (flows and stocks, as its months do), for each 旬 all of them report."""
    own = figures.get((ind, region))
    if own or kind == "growth" or not kids.get(region):
        return own or {}
    parts = [_rolled(figures, ind, c, kind, kids) for c in kids[region]]
    out: dict[str, dict[date, float]] = {}
    for measure in set().union(*parts):
        ends = set.intersection(*(set(p.get(measure, {})) for p in parts))
        if ends:
            out[measure] = {e: sum(p[measure][e] for p in parts) for e in sorted(ends)}
    return out


def series_rows(
    con: duckdb.DuckDBPyConnection, sql: str, series: set[tuple[str, str]], today: date
) -> list[tuple[Any, ...]]:
    """The rows of a query that reads the series asked as the relation _asked
    (indicator, region), with $today bound."""
    asked = pd.DataFrame(sorted(series), columns=["indicator", "region"]).astype(str)
    con.register("_asked", asked)
    try:
        return con.execute(sql, {"today": today}).fetchall()
    finally:
        con.unregister("_asked")


def _figures(con: duckdb.DuckDBPyConnection, series: set[tuple[str, str]], today: date) -> Figures:
    out: Figures = {}
    for ind, reg, measure, end, value in series_rows(con, _FIGURES, series, today):
        out.setdefault((ind, reg), {}).setdefault(measure, {})[end] = float(value)
    return out


def _target_checks(
    t: Target,
    ind: Indicator,
    curve: Curve,
    found: Mapping[str, Mapping[date, float]],
    th: Thresholds,
) -> list[DekadCheck]:
    """The target's 旬 from its year's first to the last one with a figure; a year without
    any is checked once, at its first 旬, as no_data (visible, as its months are)."""
    ends = [d for by_end in found.values() for d in by_end if d.year == t.year]
    last = max(ends, default=date(t.year, 1, 10))
    inner, own = t.inner_dekads(), t.dekad_values()
    to_date = _to_date(ind, found, t.year, last) if ends else {}
    checks = []
    for dekad in spans(date(t.year, 1, 1), last, "dekad"):
        if ind.kind == "growth":  # a rate is not prorated: the month's, or the 旬's own
            which = (dekad.end.month, dekad_index(dekad))
            pace = own.get(which, float(curve[dekad.end.month]))
        else:
            pace = pace_at(curve, dekad.end, inner)
        check = judged(t, ind, dekad, to_date.get(dekad.end), pace, th)
        checks.append(replace(check, as_of=dekad.end, target=pace))
    return checks


def dekad_index(dekad: Span) -> int:
    """1, 2 or 3: which 旬 of its month."""
    return min(3, (dekad.start.day - 1) // 10 + 1)


def _to_date(
    ind: Indicator, found: Mapping[str, Mapping[date, float]], year: int, last: date
) -> dict[date, float]:
    """The actual at each 旬 end of the year up to `last`, where it is known."""
    if ind.kind == "growth":
        return {**found.get("yoy_pct", {}), **found.get("ytd_yoy_pct", {})}
    if ind.kind == "stock":
        return dict(found.get("value", {}))
    published = found.get("ytd", {})
    own = found.get("value", {})
    out: dict[date, float] = {}
    total: float | None = 0.0
    for dekad in spans(date(year, 1, 1), last, "dekad"):
        value = own.get(dekad.end)
        total = None if total is None or value is None else total + value
        figure = published.get(dekad.end, total)
        if figure is not None:
            out[dekad.end] = figure
    return out
