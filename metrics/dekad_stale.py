"""Late 旬 figures: when the next 旬's figure of a series published per 旬 is due.

A series' newest 旬 figure ends on day E; the next 旬 ends on day N (the 10th, the 20th
or the month's last day), and its figure is due on N + `[checks] release_lag_days_dekad`
days. From the day after, the series is stale. A region without 旬 figures of its own
(flows and stocks, summed from its children) has a 旬 once all its children have it: its
newest is the oldest of its children's newest. A series without any 旬 figure awaits the
first 旬 of its targets' year, due on 10 January + the lag: the latest year whose first
旬 is overdue, else the earliest (as the months, metrics.checks). Judged on every run of
the checks, so a new day re-judges it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from ingest.grains import span_of
from ingest.schema import Indicator, Region, per_dekad, region_children
from metrics.dekad_series import series_rows, with_descendants
from metrics.schema import Target

TABLE = "dekad_releases"
# The newest 旬 figure of each asked series, any measure, any year.
_NEWEST = """
SELECT s.indicator, s.region, max(p.period_end)
FROM vintages v JOIN periods p USING (pkey)
JOIN (SELECT s.* FROM series s JOIN _asked USING (indicator, region)) s USING (series_id)
WHERE p.freq = 'D' AND p.period_start <= $today
GROUP BY ALL
"""
_CREATE = f"""
CREATE OR REPLACE TABLE {TABLE} (
    indicator VARCHAR NOT NULL, region VARCHAR NOT NULL, year INTEGER NOT NULL,
    latest_end DATE, next_period VARCHAR NOT NULL, due DATE NOT NULL,
    stale BOOLEAN NOT NULL, judged_on DATE NOT NULL
)
"""


@dataclass(frozen=True)
class DekadRelease:
    """A series' newest 旬 figure and when the next one is due, judged on a day."""

    indicator: str
    region: str
    latest_end: date | None  # last day of the newest 旬 with a figure (None: none yet)
    next_period: str  # the 旬 whose figure is awaited, 2026-03-D1
    due: date  # the last day its figure may arrive on
    stale: bool

    @property
    def year(self) -> int:
        """The year the series is judged in: its newest figure's, else the awaited 旬's."""
        return self.latest_end.year if self.latest_end else int(self.next_period[:4])


def next_due(latest_end: date, lag_days: int) -> tuple[str, date]:
    """The 旬 after the one ending on `latest_end`, and the day its figure is due."""
    nxt = span_of(latest_end + timedelta(days=1), "dekad")
    return nxt.label, nxt.end + timedelta(days=lag_days)


def dekad_releases(
    con: duckdb.DuckDBPyConnection,
    targets: Sequence[Target],
    indicators: Mapping[str, Indicator],
    regions: Sequence[Region],
    today: date,
    lag_days: int,
) -> list[DekadRelease]:
    """The release state of every series a target on a 旬 indicator watches."""
    published = per_dekad(indicators.values())
    asked: dict[tuple[str, str], set[int]] = {}
    for t in targets:
        if t.indicator in published:
            asked.setdefault((t.indicator, t.region), set()).add(t.year)
    if not asked:
        return []
    kids = region_children(regions)
    newest = _newest(con, with_descendants(set(asked), kids), today)
    out = []
    for (ind, region), years in sorted(asked.items()):
        latest = _rolled(newest, ind, region, indicators[ind].kind, kids)
        if latest is None:
            label, due = first_due(sorted(years), lag_days, today)
        else:
            label, due = next_due(latest, lag_days)
        out.append(DekadRelease(ind, region, latest, label, due, today > due))
    return out


def first_due(years: Sequence[int], lag_days: int, today: date) -> tuple[str, date]:
    """A series without figures: the first 旬 of the latest year it is overdue for, else of
    the earliest year, and the day its figure is due."""
    dues = [next_due(date(y - 1, 12, 31), lag_days) for y in years]
    overdue = [d for d in dues if today > d[1]]
    return overdue[-1] if overdue else dues[0]


def _newest(
    con: duckdb.DuckDBPyConnection, series: set[tuple[str, str]], today: date
) -> dict[tuple[str, str], date]:
    rows = series_rows(con, _NEWEST, series, today)
    return {(ind, reg): end for ind, reg, end in rows}


def _rolled(
    newest: Mapping[tuple[str, str], date],
    ind: str,
    region: str,
    kind: str,
    kids: Mapping[str, list[str]],
) -> date | None:
    """A region's newest 旬; without figures of its own, the oldest of its children's
    (rates are not summed: a growth series has only its own)."""
    own = newest.get((ind, region))
    if own is not None or kind == "growth" or not kids.get(region):
        return own
    parts = [_rolled(newest, ind, c, kind, kids) for c in kids[region]]
    known = [p for p in parts if p is not None]
    return min(known) if len(known) == len(parts) else None


def write_dekad_releases(
    con: duckdb.DuckDBPyConnection, releases: Sequence[DekadRelease], today: date
) -> None:
    """Replace the table dekad_releases (inside the caller's transaction)."""
    con.execute(_CREATE)
    if releases:
        con.executemany(
            f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [_row(r, today) for r in releases],
        )


def _row(r: DekadRelease, today: date) -> tuple[object, ...]:
    return (
        r.indicator,
        r.region,
        r.year,
        r.latest_end,
        r.next_period,
        r.due,
        r.stale,
        today,
    )
