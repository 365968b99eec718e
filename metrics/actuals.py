"""Actual progress to date per indicator, region, year and month, from the store.

Flows: the year-to-date sum (published YTD, else the months summed when none is
missing) and the period's own value. Growth: the cumulative rate (ytd_yoy_pct, else the
period rate) and the period rate, or, for an indicator with `levels`, both derived from
the levels. Stocks: the level. Parents without data of their own
get the sum of their children for flows and stocks (marked rolled_up).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import duckdb
import pandas as pd

from ingest.schema import Indicator, Region
from ingest.store_views import FROM_DEKADS, MONTH_ROWS, MONTHLY

ACTUALS_SQL = """
CREATE OR REPLACE TEMP TABLE actuals AS
WITH o AS (
    SELECT o.indicator, o.region, o.measure, o.value, o.months,
           year(o.period_end) AS y, month(o.period_end) AS m, i.kind
    FROM {latest} o JOIN indicators i ON i.id = o.indicator
),
own AS (
    SELECT indicator, region, year(period_end) AS y, month(period_end) AS m,
           months, value
    FROM {monthly} WHERE value IS NOT NULL
    UNION ALL  -- quarterly flows and growth rates have no monthly row
    SELECT indicator, region, y, m, months, value FROM o
    WHERE months = 3 AND measure = CASE kind WHEN 'growth' THEN 'yoy_pct' ELSE 'value' END
),
summed AS (
    SELECT indicator, region, y, m, months, value,
           sum(value) OVER w AS cum, sum(months) OVER w AS covered
    FROM own
    WINDOW w AS (PARTITION BY indicator, region, y ORDER BY m)
),
published AS (
    SELECT indicator, region, y, m, value FROM o
    WHERE measure = CASE kind WHEN 'flow' THEN 'ytd' WHEN 'growth' THEN 'ytd_yoy_pct'
                              ELSE 'value' END
),
joined AS (  -- every key with a published figure, an own value, or both
    SELECT indicator, region, y, m, p.value AS published, s.value AS own, s.cum, s.covered,
           s.months
    FROM published p FULL OUTER JOIN summed s USING (indicator, region, y, m)
)
SELECT j.indicator, j.region, j.y AS year, j.m AS month, i.kind,
       CASE WHEN i.kind = 'flow'
            THEN coalesce(j.published, CASE WHEN j.covered = j.m THEN j.cum END)
            ELSE coalesce(j.published, j.own) END AS to_date,
       j.own, j.months AS own_months, false AS rolled_up
FROM joined j JOIN indicators i ON i.id = j.indicator
"""


# Growth from levels: this year's to date (and own period) against the same month of
# the year before. A key with levels wins over a reported rate, which stays where
# levels are missing; a rolled-up parent's growth comes from its rolled-up levels.
DERIVED_SQL = """
CREATE OR REPLACE TEMP TABLE derived AS
SELECT d.growth AS indicator, c.region, c.year, c.month,
       CASE WHEN p.to_date > 0 THEN (c.to_date / p.to_date - 1) * 100 END AS to_date,
       CASE WHEN p.own > 0 AND c.own_months = p.own_months
            THEN (c.own / p.own - 1) * 100 END AS own,
       c.own_months, c.rolled_up
FROM actuals c JOIN _derived d ON d.levels = c.indicator
JOIN actuals p ON p.indicator = c.indicator AND p.region = c.region
 AND p.year = c.year - 1 AND p.month = c.month;
DELETE FROM actuals a USING derived d
WHERE a.indicator = d.indicator AND a.region = d.region AND a.year = d.year
  AND a.month = d.month AND d.to_date IS NOT NULL;
INSERT INTO actuals
SELECT indicator, region, year, month, 'growth', to_date, own, own_months, rolled_up
FROM derived WHERE to_date IS NOT NULL;
DROP TABLE derived;
"""


# The current value of each key of the given series (_read: indicator, region), shaped
# like observations_latest: a refresh after a release reads the series it touched alone.
SCOPED_LATEST = """
CREATE OR REPLACE TEMP TABLE scoped_latest AS
SELECT s.indicator, s.region, p.period, s.measure,
       arg_max(v.value, (l.known_from, v.load_id)) AS value,
       p.period_start, p.period_end, p.months, p.freq
FROM vintages v
JOIN (SELECT s.* FROM series s JOIN _read USING (indicator, region)) s USING (series_id)
JOIN periods p USING (pkey) JOIN loads l USING (load_id)
GROUP BY s.indicator, s.region, p.period, s.measure, p.period_start, p.period_end,
         p.months, p.freq
"""


def build_actuals(
    con: duckdb.DuckDBPyConnection,
    regions: Sequence[Region],
    tolerance: float = 0.01,
    derived: Mapping[str, str] | None = None,
    series: Sequence[tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """Fill the temp table `actuals` (rolled up) and return child/parent mismatches.

    `derived` maps a growth indicator to the indicator whose levels give its rate.
    With `series` (indicator, region), only those are read: they must hold every
    sub-region a parent among them sums, and the levels a growth rate derives from.
    """
    latest = "observations_latest"
    if series is not None:
        read = pd.DataFrame(list(series), columns=["indicator", "region"]).astype(str)
        con.register("_read", read)
        try:
            con.execute(SCOPED_LATEST)
        finally:
            con.unregister("_read")
        latest = "scoped_latest"
    made = [] if series is None else [latest]
    basis = "'published'"
    if _has_dekads(con):  # 旬 figures count in their months (once, for both reads below)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE month_rows AS "
            + MONTH_ROWS.format(latest=latest, dekads=latest)
        )
        latest, basis = "month_rows", FROM_DEKADS
        made.append(latest)
    monthly = f"({MONTHLY.format(latest=latest, basis=basis)})"
    con.execute(ACTUALS_SQL.format(latest=latest, monthly=monthly))
    for table in made:
        con.execute(f"DROP TABLE {table}")
    mismatches = roll_up(con, regions, tolerance)
    if derived:
        pairs = pd.DataFrame(list(derived.items()), columns=["growth", "levels"]).astype(str)
        con.register("_derived", pairs)
        try:
            con.execute(DERIVED_SQL)
        finally:
            con.unregister("_derived")
    return mismatches


@contextmanager
def actuals_table(
    con: duckdb.DuckDBPyConnection,
    regions: Sequence[Region],
    tolerance: float = 0.01,
    derived: Mapping[str, str] | None = None,
    series: Sequence[tuple[str, str]] | None = None,
) -> Iterator[pd.DataFrame]:
    """Hold the temp table `actuals` for a block, so checks and forecasts share one
    computation of it; yields the roll-up mismatches (see build_actuals for series)."""
    try:
        yield build_actuals(con, regions, tolerance, derived, series)
    finally:
        con.execute("DROP TABLE IF EXISTS temp.actuals")


def _has_dekads(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store holds any 旬 figure (periods is small: one row per label)."""
    return bool(con.execute("SELECT count(*) FROM periods WHERE freq = 'D'").fetchall()[0][0])


def derived_growth(indicators: Iterable[Indicator]) -> dict[str, str]:
    """Growth indicators computed from another indicator's levels: {growth: levels}."""
    return {i.id: i.levels for i in indicators if i.levels is not None}


def roll_up(
    con: duckdb.DuckDBPyConnection, regions: Sequence[Region], tolerance: float = 0.01
) -> pd.DataFrame:
    """Sum children into parents without own data, deepest level first.

    A parent is summed only for the months all its children report.

    A parent with its own figure keeps it; where its children's sum differs by more
    than `tolerance` (relative), the pair is reported.
    """
    depth = {r.id: _depth(r.id, {x.id: x for x in regions}) for r in regions}
    tree = pd.DataFrame(
        [(r.id, r.parent, depth[r.id]) for r in regions if r.parent],
        columns=["child", "parent", "depth"],
    ).astype({"child": str, "parent": str, "depth": "int32"})
    con.register("_tree", tree)
    mismatches = []
    try:
        for level in sorted(set(tree["depth"]), reverse=True):
            mismatches.append(_roll_level(con, level, tolerance))
    finally:
        con.unregister("_tree")
    return pd.concat(mismatches) if mismatches else _empty_mismatches()


def _roll_level(con: duckdb.DuckDBPyConnection, level: int, tolerance: float) -> pd.DataFrame:
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE rolled AS
        WITH kids AS (
            SELECT t.parent, a.* FROM actuals a JOIN _tree t ON t.child = a.region
            WHERE t.depth = $level AND a.kind <> 'growth'
        ),
        children AS (SELECT parent, count(*) AS n FROM _tree GROUP BY parent)
        SELECT k.indicator, k.parent AS region, k.year, k.month, any_value(k.kind) AS kind,
               sum(k.to_date) AS to_date, sum(k.own) AS own, max(k.own_months) AS own_months
        FROM kids k JOIN children c USING (parent)
        GROUP BY k.indicator, k.parent, k.year, k.month, c.n
        HAVING count(k.to_date) = c.n  -- every child has the month: else it stays missing
        """,
        {"level": level},
    )
    found = con.execute(
        """
        SELECT r.indicator, r.region, r.year, r.month, a.to_date AS reported,
               r.to_date AS children_sum
        FROM rolled r JOIN actuals a USING (indicator, region, year, month)
        WHERE abs(a.to_date - r.to_date) > $tol * greatest(abs(a.to_date), 1e-9)
        """,
        {"tol": tolerance},
    ).df()
    con.execute(
        """
        INSERT INTO actuals
        SELECT indicator, region, year, month, kind, to_date, own, own_months, true
        FROM rolled r
        WHERE NOT EXISTS (
            SELECT 1 FROM actuals a
            WHERE a.indicator = r.indicator AND a.region = r.region AND a.year = r.year
        )
        """
    )
    con.execute("DROP TABLE rolled")
    return found


def _depth(region: str, by_id: dict[str, Region]) -> int:
    depth, node = 0, by_id[region].parent
    while node is not None and node in by_id:
        depth, node = depth + 1, by_id[node].parent
    return depth


def _empty_mismatches() -> pd.DataFrame:
    return pd.DataFrame(
        columns=["indicator", "region", "year", "month", "reported", "children_sum"]
    )
