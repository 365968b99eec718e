"""Immutable snapshots: the store read once per refresh and pre-rendered for scrapes.

Rendering 100,000 series takes longer than a scrape may; it happens once per refresh,
in both exposition formats, and is compressed whenever the service's own metrics
change (rarely: at refreshes and failures). Scrapes only pick the bytes.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import duckdb
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector

from exporters.collector import (
    CheckRow,
    ForecastRow,
    IndicatorInfo,
    KpiCollector,
    SnapshotData,
    check_samples,
    forecast_samples,
)
from exporters.escalation_metrics import (
    EscalationCollector,
    EscalationData,
    history_once,
    read_escalation_data,
)
from exporters.nowcast_metrics import NowcastCollector, NowcastData, read_nowcast_data
from exporters.project_collector import ProjectCollector, ProjectData, read_project_data
from exporters.unit_metrics import UnitCollector, UnitData, read_unit_data

log = logging.getLogger(__name__)
OM_EOF = b"# EOF\n"
Key = tuple[str, str]  # indicator, region

# Each series' latest check, with the end of the day its next figure is due. A year
# without any figure (checked once as no_data) stands for the series only when no year
# has one: then the latest whose first figure (month, quarter or 旬) is late, else the
# earliest. Next year's target configured early never hides this year's checks, nor the
# new year's empty start the late figure of the last, and a series that never reported
# is late.
# A 旬 figure is a figure of its year: the year checks then show the year of the 旬
# check, whose late figure (KpiDataStale) joins on the year's end and owner.
CHECKS_SQL = """
WITH dekad_years AS (
    SELECT DISTINCT indicator, region, year FROM progress_dekads WHERE actual IS NOT NULL
),
dekad_late AS ({dekad_late}),
years AS (
    SELECT p.indicator, p.region, p.year, max(p.as_of_end) AS as_of_end,
           bool_or(p.actual IS NOT NULL) OR bool_or(d.year IS NOT NULL) AS has_data,
           coalesce(bool_or(p.stale), false) OR bool_or(l.year IS NOT NULL) AS late
    FROM {progress} p LEFT JOIN dekad_years d USING (indicator, region, year)
    LEFT JOIN dekad_late l USING (indicator, region, year)
    GROUP BY p.indicator, p.region, p.year
),
latest AS (
    SELECT indicator, region,
           arg_max(as_of_end, (has_data, late, CASE WHEN has_data OR late THEN year
                                                    ELSE -year END)) AS as_of_end
    FROM years GROUP BY ALL
)
SELECT p.indicator, p.region, p.horizon, coalesce(p.kind, ''), p.actual, p.pace_target,
       p.horizon_target, p.attainment, p.gap, p.required_rate, p.status, coalesce(p.stale, false),
       p.year, CAST(epoch(p.horizon_end + INTERVAL 1 DAY) AS DOUBLE), coalesce(c.status, 'no_data'),
       coalesce(p.owner, ''), CAST(epoch(p.release_due + INTERVAL 1 DAY) AS DOUBLE)
FROM {progress} p JOIN latest l USING (indicator, region, as_of_end)
LEFT JOIN progress_checks c
  ON c.indicator = p.indicator AND c.region = p.region AND c.year = p.year
 AND c.month = month(p.as_of_end) AND c.horizon = p.horizon
ORDER BY p.indicator, p.region, p.horizon
"""
INFO_SQL = """
SELECT id, coalesce(name, ''), coalesce(unit, ''), coalesce(kind, ''), coalesce(owner, ''),
       coalesce(illustrative, false)
FROM indicators ORDER BY id
"""
DATA_END_SQL = """
SELECT indicator, region, max(period_end) FROM observations_latest GROUP BY ALL ORDER BY ALL
"""
# The same of the scope's series: every (series, period) with a vintage has one latest
# (observations_latest's window is not narrowed by a filter on the series' names)
SCOPED_DATA_END_SQL = """
SELECT s.indicator, s.region, max(p.period_end)
FROM vintages v JOIN series s USING (series_id) JOIN periods p USING (pkey)
JOIN loads l USING (load_id)
SEMI JOIN ({pairs}) c ON c.indicator = s.indicator AND c.region = s.region
WHERE list_contains($indicators, s.indicator)
GROUP BY ALL ORDER BY ALL
"""
# A table's rows of the scope's targets (the list's test narrows the scan of a view)
SCOPED = """(SELECT x.* FROM {table} x
SEMI JOIN ({pairs}) c ON c.indicator = x.indicator AND c.region = x.region
WHERE list_contains($indicators, x.indicator))"""
PAIRS = (
    "SELECT unnest(CAST($si AS VARCHAR[])) AS indicator, unnest(CAST($sr AS VARCHAR[])) AS region"
)
WHOLE = {"progress": "progress", "forecasts": "forecast_results", "data_end": DATA_END_SQL}
SCOPE = {
    "progress": SCOPED.format(table="progress", pairs=PAIRS),
    "forecasts": SCOPED.format(table="forecast_results", pairs=PAIRS),
    "data_end": SCOPED_DATA_END_SQL.format(pairs=PAIRS),
}
# The targets judged per 旬: their releases are judged on every refresh's day
DEKAD_PAIRS_SQL = "SELECT DISTINCT indicator, region FROM progress_dekads"
RELEASE_PAIRS_SQL = " UNION SELECT indicator, region FROM dekad_releases"


@dataclass(frozen=True)
class Snapshot:
    """One refresh's KPI metrics, pre-rendered (OpenMetrics without its closing # EOF)."""

    text: bytes
    openmetrics: bytes
    series: int
    built_at: float
    dropped: int = 0
    data: SnapshotData = field(default_factory=lambda: SnapshotData((), (), ()))


@dataclass(frozen=True)
class Exposition:
    """Exactly the bytes a scrape returns, in both formats, plain and gzip-compressed."""

    text: bytes
    openmetrics: bytes
    text_gz: bytes
    openmetrics_gz: bytes


def expose(own_text: bytes, own_openmetrics: bytes, snapshot: Snapshot | None) -> Exposition:
    """Join the service's own metrics and the snapshot, and compress them once."""
    own_om = own_openmetrics.removesuffix(OM_EOF)
    text = own_text + (snapshot.text if snapshot else b"")
    om = own_om + (snapshot.openmetrics if snapshot else b"") + OM_EOF
    return Exposition(text, om, gzip.compress(text, 1), gzip.compress(om, 1))


# The latest 旬 check of each series checked per 旬 (register counts, 旬 indicators),
# as horizon "dekad"; a 旬 indicator's with whether its next 旬 figure is late and the
# end of the day it was due (metrics.dekad_stale), once the checks have judged it. A
# year without any figure (checked once as no_data) stands for the series only when no
# year has one: then the year its release row judges (metrics.dekad_stale), else the latest.
DEKADS_SQL = """
SELECT d.indicator, d.region, 'dekad', coalesce(i.kind, ''), d.actual, d.pace_target,
       d.dekad_target, d.attainment, d.gap, NULL, d.status, {stale}, d.year,
       CAST(epoch(d.period_end + INTERVAL 1 DAY) AS DOUBLE), d.status, '', {due}
FROM (SELECT *, bool_or(actual IS NOT NULL) OVER (PARTITION BY indicator, region, year)
          AS has_data FROM progress_dekads) d
LEFT JOIN indicators i ON i.id = d.indicator {join}
QUALIFY row_number() OVER (PARTITION BY d.indicator, d.region
                           ORDER BY d.has_data DESC, {judged} DESC, d.period_end DESC) = 1
"""
RELEASES = {
    "stale": "coalesce(r.stale, false)",
    "due": "CAST(epoch(r.due + INTERVAL 1 DAY) AS DOUBLE)",
    "join": "LEFT JOIN dekad_releases r "
    "ON r.indicator = d.indicator AND r.region = d.region AND r.year = d.year",
    "judged": "r.year IS NOT NULL",
    # a 旬 series late in a year without figures makes that year its months' year too
    "dekad_late": "SELECT indicator, region, year FROM dekad_releases WHERE stale",
}
NO_RELEASES = {
    "stale": "false",
    "due": "NULL",
    "join": "",
    "judged": "false",
    "dekad_late": "SELECT '' AS indicator, '' AS region, 0 AS year WHERE false",
}


def read_snapshot_data(con: duckdb.DuckDBPyConnection, today: date | None = None) -> SnapshotData:
    """Read what the metrics show from the store (checks, info, data ends); the registers
    and the units' lists judged on `today` as known by its end (default: the machine's
    date)."""
    return _read(con, today, None)[0]


def read_scoped_data(
    con: duckdb.DuckDBPyConnection, today: date | None, scope: Collection[Key]
) -> tuple[SnapshotData, frozenset[Key]]:
    """What read_snapshot_data reads, with the targets' rows (checks, forecasts, data
    ends) of only the `scope`'s targets and of those checked per 旬 (their releases are
    judged on every refresh's day); and the targets whose rows it read."""
    data, read = _read(con, today, frozenset(scope))
    return data, frozenset(read or ())


def _read(
    con: duckdb.DuckDBPyConnection, today: date | None, scope: frozenset[Key] | None
) -> tuple[SnapshotData, frozenset[Key] | None]:
    # the units', registers', ladder's and nowcasts' reads run on a second connection
    # while the checks become rows: DuckDB works without the GIL, seconds on a big store
    cursor = con.cursor()
    try:
        where = con.execute("SELECT current_database(), current_schema()").fetchall()[0]
        cursor.execute("USE " + ".".join(_quoted(str(name)) for name in where))
        with ThreadPoolExecutor(1, thread_name_prefix="snapshot-read") as pool:
            others = pool.submit(_read_others, cursor, today)
            (checks, info, ends, forecasts), read = _read_kpis(con, scope)
        return SnapshotData(checks, info, ends, forecasts, *others.result()), read
    finally:
        cursor.close()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


Kpis = tuple[list[CheckRow], list[IndicatorInfo], list[tuple[str, str, float]], list[ForecastRow]]


def _read_kpis(
    con: duckdb.DuckDBPyConnection, scope: frozenset[Key] | None
) -> tuple[Kpis, frozenset[Key] | None]:
    judged = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'dekad_releases'"
    ).fetchall()[0][0]
    releases = RELEASES if judged else NO_RELEASES
    if scope is None:
        return _kpis(con, releases, WHOLE, None), None
    sql = DEKAD_PAIRS_SQL + (RELEASE_PAIRS_SQL if judged else "")
    read = scope | {(str(i), str(r)) for i, r in con.execute(sql).fetchall()}
    pairs = sorted(read)
    params = {
        "indicators": sorted({i for i, _ in pairs}),
        "si": [i for i, _ in pairs],
        "sr": [r for _, r in pairs],
    }
    return _kpis(con, releases, SCOPE, params), frozenset(read)


def _kpis(
    con: duckdb.DuckDBPyConnection,
    releases: Mapping[str, str],
    tables: Mapping[str, str],
    params: dict[str, list[str]] | None,
) -> Kpis:
    sql = CHECKS_SQL.format(progress=tables["progress"], **releases)
    checks = [CheckRow(*r) for r in con.execute(sql, params).fetchall()]
    checks += [CheckRow(*r) for r in con.execute(DEKADS_SQL.format(**releases)).fetchall()]
    checks.sort(key=lambda c: (c.indicator, c.region, c.horizon))
    info = [IndicatorInfo(*r) for r in con.execute(INFO_SQL).fetchall()]
    rows = con.execute(tables["data_end"], params).fetchall()
    ends = [(i, r, _end_of_day(d)) for i, r, d in rows]
    ends.sort(key=lambda e: (e[0], e[1]))  # the order a scoped read is merged in
    return checks, info, ends, _forecasts(con, tables["forecasts"], params)


def _read_others(
    con: duckdb.DuckDBPyConnection, today: date | None
) -> tuple[UnitData, ProjectData, EscalationData, NowcastData]:
    with history_once(con, today):  # the ladder's history is read by three of these
        units, projects = read_unit_data(con, today), read_project_data(con, today)
        ladder = read_escalation_data(con, today)
    return units, projects, ladder, read_nowcast_data(con)


def _forecasts(
    con: duckdb.DuckDBPyConnection, table: str, params: dict[str, list[str]] | None
) -> list[ForecastRow]:
    rows = con.execute(
        "SELECT f.indicator, f.region, f.horizon, f.point, f.lower80, f.upper80, f.lower95, "
        "f.upper95, f.p_meet, f.year, coalesce(i.kind, ''), f.expected_shortfall "
        f"FROM {table} f LEFT JOIN indicators i ON i.id = f.indicator "
        "JOIN (SELECT indicator, region, max(year * 100 + month) AS ym "
        f"      FROM {table} GROUP BY ALL) l ON l.indicator = f.indicator "
        "     AND l.region = f.region AND l.ym = f.year * 100 + f.month "
        "WHERE f.point IS NOT NULL ORDER BY ALL",
        params,
    ).fetchall()
    out = [ForecastRow(*r) for r in rows]
    out.sort(key=lambda f: (f.indicator, f.region))  # the order a scoped read is merged in
    return out


def _end_of_day(d: date) -> float:
    return datetime.combine(d + timedelta(days=1), time(), tzinfo=UTC).timestamp()


def render(data: SnapshotData, built_at: float, max_series: int) -> Snapshot:
    """Render both exposition formats once, with at most max_series series."""
    data, dropped = within_limit(data, max_series)
    registry = CollectorRegistry(auto_describe=False)
    for collector in [KpiCollector(data), *other_collectors(data)]:
        registry.register(collector)
    text = generate_latest(registry)
    om = generate_openmetrics(registry).removesuffix(OM_EOF)
    series = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
    return Snapshot(text, om, series, built_at, dropped, data)


def _target_sizes(data: SnapshotData) -> dict[tuple[str, str], int]:
    """Series per target (indicator × region), targets in the checks' order."""
    size: dict[tuple[str, str], int] = {}
    for row in data.checks:
        key = (row.indicator, row.region)
        size[key] = size.get(key, 0) + sum(1 for _ in check_samples(row))
    for f in data.forecasts:
        key = (f.indicator, f.region)
        size[key] = size.get(key, 0) + sum(1 for _ in forecast_samples(f))
    for indicator, region, _ in data.data_end:
        size[(indicator, region)] = size.get((indicator, region), 0) + 1
    return size


def other_collectors(data: SnapshotData) -> list[Collector]:
    """The families beside the targets' (units, projects, escalations, nowcasts), in the
    order /metrics shows them: a full render and a spliced one draw the same list."""
    return [
        UnitCollector(data.units),
        ProjectCollector(data.projects),
        EscalationCollector(data.escalations),
        NowcastCollector(data.nowcasts),
    ]


def others_series(data: SnapshotData) -> int:
    """Series of the units', projects', escalations' and nowcasts' families."""
    return sum(len(m.samples) for c in other_collectors(data) for m in c.collect())


def within_limit(
    data: SnapshotData,
    max_series: int,
    sizes: Mapping[tuple[str, str], int] | None = None,
    others: int | None = None,
) -> tuple[SnapshotData, int]:
    """Keep whole targets (indicator × region), in order, while all their series fit.

    Every series counts: checks, forecasts, data ends, indicator info, and the units'
    and projects' series (bounded by config, so counted but never left out). Returns the
    data kept and the number of checks left out. `sizes` (the series of each target, in
    the order of _target_sizes) and `others` (others_series) when the caller knows them.
    """
    fixed = len(data.info) + (others_series(data) if others is None else others)
    most = 18 * len(data.checks) + 7 * len(data.forecasts) + len(data.data_end)
    if most + fixed <= max_series:  # the cheap bound: no need to count
        return data, 0
    size = _target_sizes(data) if sizes is None else sizes
    info = data.info[:max_series]
    budget, keep = max_series - fixed, set()
    for key, n in size.items():
        if n > budget:
            break
        keep.add(key)
        budget -= n
    checks = [c for c in data.checks if (c.indicator, c.region) in keep]
    dropped = len(data.checks) - len(checks)
    if dropped:
        log.warning(
            "exporting %d of %d checks: the series limit max_series=%d is reached",
            len(checks),
            len(data.checks),
            max_series,
        )
    kept = SnapshotData(
        checks,
        info,
        [e for e in data.data_end if (e[0], e[1]) in keep],
        [f for f in data.forecasts if (f.indicator, f.region) in keep],
        data.units,
        data.projects,
        data.escalations,
        data.nowcasts,
    )
    return kept, dropped
