"""Checks across the rows of one series, inside the file and against the store.

A series (indicator × region × measure) holds one figure per month it covers, or one
per 旬 of it. Periods that share a month (or a 旬) contradict each other: a Jan–Feb
`value` beside a January one, a quarter beside one of its months, a 旬 beside its month,
a year-to-date keyed by a quarter beside the same month's. And a year-to-date of a count
cannot fall within a year. Each is refused, naming both rows.
"""

from __future__ import annotations

import duckdb

from ingest.errors import RowError
from ingest.schema import Source
from ingest.validate import KEY_ID, PERIOD_BITS

LIMIT = 1000


def tenth(day: str) -> str:
    """SQL: the 旬 of the year (1..36) a day falls in."""
    return f"(3 * (month({day}) - 1) + least(3, (day({day}) - 1) // 10 + 1))"


# incoming with what the checks need: series (kr), period, its year and the 旬 of the
# year it covers (m1..m2: a month is three); a year-to-date covers only its last month
# (1-2月 and 2月 are one key), or its 旬.
FILE_ROWS = f"""
CREATE OR REPLACE TEMP VIEW file_rows AS
SELECT i.k >> 25 AS kr, CAST(i.k & {PERIOD_BITS} AS INTEGER) AS pkey, i.value, i.line, i.cell,
       km.indicator, km.measure, km.cumulative, km.non_negative, pl.period,
       year(pl.period_end) AS y,
       CASE WHEN km.cumulative AND pl.freq <> 'D' THEN 3 * month(pl.period_end) - 2
            ELSE {tenth("pl.period_start")} END AS m1,
       {tenth("pl.period_end")} AS m2
FROM incoming i
JOIN period_labels pl ON pl.pkey = CAST(i.k & {PERIOD_BITS} AS INTEGER)
JOIN key_map km ON km.key_id = {KEY_ID.format("i.k")}
"""
# Pairs of distinct period keys sharing a month: what makes an overlap possible at all.
# Both tables are small, so the costly row-level checks run only where it is.
PAIRS = """
SELECT DISTINCT a.pkey AS a_key, b.pkey AS b_key
FROM period_labels a JOIN {other} b
  ON year(a.period_end) = year(b.period_end) AND a.pkey <> b.pkey
 AND a.period_start <= b.period_end AND b.period_start <= a.period_end
"""


def series_errors(
    con: duckdb.DuckDBPyConnection, source: Source, known: bool
) -> tuple[list[RowError], list[RowError]]:
    """Rows contradicting another row of their series, in the file or in the store.

    Returns the errors that refuse the file and the flags it loads with (a falling
    year-to-date where the source declares that it revises its figures).
    """
    con.execute(FILE_ROWS)
    errors = _overlaps_in_file(con, source)
    if known:
        errors += _overlaps_with_store(con, source)
    falls = _falling_ytd(con, source, known)
    if not source.revises_ytd:
        errors += falls
    flags = falls if source.revises_ytd else []
    return sorted(errors, key=lambda e: e.line)[:LIMIT], flags


def _row_error(source: Source, row: tuple[object, ...], reason: str) -> RowError:
    """RowError for (line, field, period text, ...) selected from file_rows × staged."""
    line, field, text = row[:3]
    return RowError(int(str(line)), source.columns.period or str(field), str(text), reason)


def _overlaps_in_file(con: duckdb.DuckDBPyConnection, source: Source) -> list[RowError]:
    if not _scalar(con, f"SELECT count(*) FROM ({PAIRS.format(other='period_labels')})"):
        return []  # no two of the file's periods share a month: nothing to scan
    rows = con.execute(
        f"""
        WITH keys AS (SELECT a_key AS pkey FROM ({PAIRS.format(other="period_labels")})),
        r AS (SELECT * FROM file_rows WHERE pkey IN (SELECT pkey FROM keys))
        SELECT b.line, s.field, s.period, b.period, a.line, a.period, b.indicator, b.measure
        FROM r a JOIN r b
          ON a.kr = b.kr AND a.y = b.y AND a.pkey <> b.pkey
         AND a.m1 <= b.m2 AND b.m1 <= a.m2
         AND (a.line < b.line OR (a.line = b.line AND a.pkey < b.pkey))
        JOIN staged s ON s.cell = b.cell
        QUALIFY row_number() OVER (PARTITION BY b.cell ORDER BY a.line, a.pkey) = 1
        ORDER BY b.line LIMIT {LIMIT}
        """
    ).fetchall()
    return [
        _row_error(
            source,
            r,
            f"{r[3]} overlaps {r[5]} on line {r[4]} ({r[6]}, {r[7]}): "
            "one series holds one figure per month",
        )
        for r in rows
    ]


def _overlaps_with_store(con: duckdb.DuckDBPyConnection, source: Source) -> list[RowError]:
    if not _scalar(con, f"SELECT count(*) FROM ({PAIRS.format(other='periods')})"):
        return []
    rows = con.execute(
        f"""
        WITH pairs AS ({PAIRS.format(other="periods")}),
        r AS (SELECT * FROM file_rows WHERE pkey IN (SELECT a_key FROM pairs)),
        st AS (
            SELECT f.kr, p.pkey, p.period, year(p.period_end) AS y,
                   {tenth("p.period_start")} AS s1, {tenth("p.period_end")} AS m2,
                   CASE WHEN p.freq = 'D' THEN {tenth("p.period_start")}
                        ELSE 3 * month(p.period_end) - 2 END AS c1,
                   arg_max(l.file, (l.known_from, v.load_id)) AS file,
                   arg_max(v.line, (l.known_from, v.load_id)) AS line
            FROM vintages v JOIN file_series f ON f.known_id = v.series_id
            JOIN periods p ON p.pkey = v.pkey JOIN loads l ON l.load_id = v.load_id
            WHERE v.pkey IN (SELECT b_key FROM pairs)
            GROUP BY ALL
        )
        SELECT r.line, s.field, s.period, r.period, st.period, st.file, st.line,
               r.indicator, r.measure
        FROM r JOIN st
          ON r.kr = st.kr AND r.y = st.y AND r.pkey <> st.pkey AND r.m1 <= st.m2
         AND CASE WHEN r.cumulative THEN st.c1 ELSE st.s1 END <= r.m2
        JOIN staged s ON s.cell = r.cell
        QUALIFY row_number() OVER (PARTITION BY r.cell ORDER BY st.m2) = 1
        ORDER BY r.line LIMIT {LIMIT}
        """
    ).fetchall()
    return [
        _row_error(
            source,
            r,
            f"{r[3]} overlaps {r[4]} already stored from {r[5]} line {r[6]} ({r[7]}, {r[8]}): "
            "one series holds one figure per month",
        )
        for r in rows
    ]


def _falling_ytd(con: duckdb.DuckDBPyConnection, source: Source, known: bool) -> list[RowError]:
    """A year-to-date of a count or amount lower than the one before it in its year."""
    if not _scalar(con, "SELECT count(*) FROM key_map WHERE measure = 'ytd' AND non_negative"):
        return []
    stored = f"""
        UNION ALL
        SELECT p.k >> 25, pl.period, year(pl.period_end), {tenth("pl.period_end")}, p.value,
               NULL, NULL, NULL
        FROM prior p JOIN periods pl ON pl.pkey = CAST(p.k & {PERIOD_BITS} AS INTEGER)
        WHERE p.k >> 25 IN (SELECT kr FROM f) AND p.k NOT IN (SELECT k FROM incoming)
    """
    rows = con.execute(
        f"""
        WITH f AS (SELECT * FROM file_rows WHERE measure = 'ytd' AND non_negative),
        ytd AS (
            SELECT kr, period, y, m2, value, line, cell, indicator FROM f
            {stored if known else ""}
        ),
        seq AS (
            SELECT *, lag(value) OVER w AS pv, lag(period) OVER w AS pp, lag(line) OVER w AS pl,
                   lead(value) OVER w AS nv, lead(period) OVER w AS np,
                   lead(line) OVER w AS nl
            FROM ytd WINDOW w AS (PARTITION BY kr, y ORDER BY m2)
        )
        SELECT q.line, s.field, s.period, q.period, q.value, q.pp, q.pv, q.pl, q.np, q.nv,
               q.indicator
        FROM seq q JOIN staged s ON s.cell = q.cell
        WHERE q.value < q.pv OR (q.nl IS NULL AND q.nv < q.value)
        ORDER BY q.line LIMIT {LIMIT}
        """
    ).fetchall()
    return [_fall(source, r) for r in rows]


def _fall(source: Source, row: tuple[object, ...]) -> RowError:
    period, value, before_period, before, before_line, after_period, after = row[3:10]
    if before is not None and value < before:  # type: ignore[operator]
        where = f"line {before_line}" if before_line is not None else "already stored"
        fall = f"falls from {before} ({before_period}, {where}) to {value} ({period})"
        month = period
    else:
        fall = f"falls from {value} ({period}) to {after} ({after_period}, already stored)"
        month = after_period
    if source.revises_ytd:
        reason = f"flagged, loaded (the source revises its year-to-date): the year-to-date {fall}"
    else:
        reason = (
            f"refused: the year-to-date {fall}, so {month} alone would be negative for "
            f"{row[10]}, which cannot be negative (set revises_ytd = true on a source that "
            "revises its figures, or non_negative = false on the indicator)"
        )
    return _row_error(source, row, reason)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchall()[0]
    return int(row[0]) if row and row[0] is not None else 0
