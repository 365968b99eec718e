"""Row checks of a staged file: one pass resolves ids and finds the first fault of each row."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import duckdb

from ingest.errors import RowError
from ingest.mapping import UNKNOWN_INDICATOR, UNKNOWN_MEASURE, UNMAPPED
from ingest.schema import Region, Source

MISSING = ("", "nan", "NaN", "NA", "N/A", "--", "—", "…", "...")
UNKNOWN_REGION, BAD_PERIOD, NOT_A_NUMBER, NEGATIVE, DUPLICATE, NOT_DEKADS = 4, 5, 6, 7, 8, 9
# SQL templates unpacking the packed key k (see check).
KEY_ID = "CAST({0} >> 40 AS INTEGER)"
RID = "CAST(({0} >> 25) & 32767 AS INTEGER)"
PERIOD_BITS = (1 << 25) - 1  # the period key's part of k
PKEY = "CAST({0} & " + str(PERIOD_BITS) + " AS INTEGER)"
BITMAP_LIMIT = 1 << 27  # bits (16 MB) for the duplicate check's bitmap


def check(con: duckdb.DuckDBPyConnection, source: Source, regions: Sequence[Region]) -> None:
    """checked(cell, line, k, value, reason): reason NULL when the row is good.

    k packs key_id, rid and pkey into one BIGINT: grouping on it is several times
    cheaper than on three columns. Unpack with KEY_ID, RID and PKEY.
    Most values are plain numbers: a bare cast settles them, and only the rest pay
    for trimming, thousands separators and the missing-value markers.
    """
    fixed = next((n for n, r in enumerate(regions) if r.id == source.region), None)
    # Without freq and jan_feb columns both are constants: the period text alone joins.
    period_join = (
        "p.period = s.period"
        if source.columns.freq is None and source.columns.jan_feb is None
        else "p.period = s.period AND p.freq = s.freq AND p.jan_feb = s.jan_feb"
    )
    missing = ", ".join("'" + m.replace("'", "''") + "'" for m in MISSING)
    fast = "isfinite(s.fast) AND strpos(s.value, '_') = 0"
    number = f"CASE WHEN {fast} THEN s.fast ELSE {_number('s.value')} END"
    value = _scaled(number)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE checked AS
        WITH resolved AS (
            SELECT s.cell, s.line, m.key_id, m.status, m.non_negative, m.dekads,
                   CASE WHEN m.cumulative THEN p.c_error ELSE p.error END AS error,
                   coalesce(m.rid, r.rid, CASE WHEN s.region = '' THEN $fixed END) AS rid,
                   CASE WHEN m.cumulative THEN p.c_key ELSE p.p_key END AS pkey,
                   {value} AS value,
                   -- a missing value is no value, but the rest of its row must still be right
                   NOT coalesce(isfinite(s.fast), false)
                     AND trim(s.value, '{_BLANKS}') IN ({missing}) AS absent
            FROM (SELECT *, TRY_CAST(value AS DOUBLE) AS fast FROM staged) s
            JOIN series_map m ON m.series = s.series AND m.measure_text = s.measure
            LEFT JOIN region_map r ON r.text = s.region
            LEFT JOIN period_map p ON {period_join}
            WHERE m.status IS NOT NULL
        )
        SELECT * EXCLUDE (absent) FROM (
        SELECT cell, line, (key_id::BIGINT << 40) | (rid::BIGINT << 25) | pkey AS k, value,
               CAST(CASE WHEN status > 0 THEN status
                         WHEN rid IS NULL THEN {UNKNOWN_REGION}
                         WHEN error IS NOT NULL THEN {BAD_PERIOD}
                         WHEN pkey % 100 > 20 AND NOT dekads THEN {NOT_DEKADS}
                         WHEN absent THEN NULL
                         WHEN value IS NULL OR NOT isfinite(value) THEN {NOT_A_NUMBER}
                         WHEN non_negative AND value < 0 THEN {NEGATIVE}
                    END AS TINYINT) AS reason, absent
        FROM resolved
        ) WHERE reason IS NOT NULL OR NOT absent
        """,
        {"fixed": fixed},
    )


# Thousands separators only between groups of three digits, a point for decimals:
# "1,5" (1.5 or 15?) and "1,23,4" are read two ways, and DuckDB would take "1_0" as 10.
_GROUPED = r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?"
_BLANKS = " \t\r\n\u00a0\u3000\u200b\ufeff"


def _scaled(number: str) -> str:
    """SQL: the number times its series' scale, rounded to the digits it can carry.

    12345 万元 × 0.0001 is 1.2345 亿元, not 1.2345000000000002: the digits of the text
    plus those of the scale are all a scaled figure has.
    """
    decimals = "length(regexp_extract(s.value, '\\.([0-9]+)', 1))"
    return (
        f"CASE WHEN m.scale = 1 OR regexp_matches(s.value, '[eE]') THEN {number} * m.scale "
        f"ELSE round({number} * m.scale, CAST(m.digits + {decimals} AS INTEGER)) END"
    )


def _number(column: str) -> str:
    """SQL reading a value text as a number, NULL when it is not one beyond doubt."""
    t = f"trim({column}, '{_BLANKS}')"
    return (
        f"CASE WHEN regexp_full_match({t}, '{_GROUPED}') "
        f"THEN TRY_CAST(replace({t}, ',', '') AS DOUBLE) "
        f"WHEN regexp_matches({t}, '[,_]') THEN NULL ELSE TRY_CAST({t} AS DOUBLE) END"
    )


def duplicate_keys(con: duckdb.DuckDBPyConnection, regions: int) -> bool:
    """Whether any key occurs on more than one good row.

    Each key gets a dense number (key id, region, period index) and sets one bit of a
    bitmap: fewer bits than rows means a repeat. Twice as fast as sorting the keys;
    a sort is the fallback when the bitmap would be large.
    """
    keys = con.execute(
        "SELECT (SELECT count(*) FROM key_map), (SELECT count(*) FROM period_labels)"
    ).fetchall()[0]
    periods = int(keys[1])
    bits = int(keys[0]) * regions * periods
    if 0 < bits <= BITMAP_LIMIT:
        dense = f"(({KEY_ID.format('k')} * {regions} + {RID.format('k')}) * {periods} + pl.idx)"
        sql = (
            f"SELECT count(*) - bit_count(bitstring_agg({dense}::BIGINT, 0, {bits - 1})) "
            f"FROM checked JOIN period_labels pl ON pl.pkey = {PKEY.format('k')} "
            "WHERE reason IS NULL"
        )
    else:
        sql = (
            "SELECT count(*) FROM (SELECT k, lag(k) OVER (ORDER BY k) AS prev FROM checked "
            "WHERE reason IS NULL) WHERE k = prev"
        )
    row = con.execute(sql).fetchall()[0]
    return bool(row and row[0])


def mark_conflicts(con: duckdb.DuckDBPyConnection) -> None:
    """Flag rows repeating an earlier row's key with another value (reason DUPLICATE)."""
    con.execute(
        f"""
        UPDATE checked SET reason = {DUPLICATE}
        FROM (
            SELECT k, arg_min(value, line) AS first_value
            FROM checked WHERE reason IS NULL GROUP BY k HAVING min(value) <> max(value)
        ) d
        WHERE checked.reason IS NULL AND checked.k = d.k AND checked.value <> d.first_value
        """
    )


def row_errors(
    con: duckdb.DuckDBPyConnection, source: Source, limit: int | None
) -> Iterator[RowError]:
    """The bad rows, first lines first, each named by line, field and offending text."""
    cols = source.columns
    rows = con.execute(
        f"""
        SELECT c.line, c.reason, s.field, s.series, s.measure, s.region, s.period, s.value,
               CASE WHEN m.cumulative THEN p.c_error ELSE p.error END AS error,
               k.indicator, ri.region AS region_id, pl.period AS label,
               (SELECT min(o.line) FROM checked o WHERE o.k = c.k) AS first_line
        FROM (SELECT * FROM checked WHERE reason IS NOT NULL ORDER BY line, cell
              {"" if limit is None else f"LIMIT {int(limit)}"}) c
        JOIN staged s USING (cell)
        LEFT JOIN series_map m ON m.series = s.series AND m.measure_text = s.measure
        LEFT JOIN key_map k ON k.key_id = {KEY_ID.format("c.k")}
        LEFT JOIN region_ids ri ON ri.rid = {RID.format("c.k")}
        LEFT JOIN period_labels pl ON pl.pkey = {PKEY.format("c.k")}
        LEFT JOIN period_map p
          ON p.period = s.period AND p.freq = s.freq AND p.jan_feb = s.jan_feb
        ORDER BY c.line, c.cell
        """
    ).fetchall()
    for row in rows:
        line, reason, field, series, measure, region, period, value, perr = row[:9]
        ind, region_id, label, first = row[9:]
        if reason in (UNMAPPED, UNKNOWN_INDICATOR):
            text = (
                "series is not mapped in [sources.series]"
                if reason == UNMAPPED
                else ("unknown indicator (not in [[indicators]])")
            )
            yield RowError(line, cols.series or field, series, text)
        elif reason == UNKNOWN_MEASURE:
            text = "unknown measure (one of value, ytd, yoy_pct, ytd_yoy_pct)"
            yield RowError(line, cols.measure or "measure", measure, text)
        elif reason == UNKNOWN_REGION:
            text = "unknown region (not in [[regions]])"
            yield RowError(line, cols.region or "region", region, text)
        elif reason == BAD_PERIOD:
            yield RowError(line, cols.period or field, period, str(perr))
        elif reason == NOT_A_NUMBER:
            yield RowError(line, field, value, _not_a_number(value))
        elif reason == NEGATIVE:
            yield RowError(line, field, value, f"negative value for {ind} (a count or amount)")
        elif reason == NOT_DEKADS:
            text = f'a 旬 figure for {ind}, whose frequency is not "dekad"'
            yield RowError(line, cols.period or field, period, text)
        else:
            key = f"{ind}, {region_id}, {label}"
            text = f"duplicate key ({key}) with a different value than line {first}"
            yield RowError(line, field, value, text)


def _not_a_number(text: str) -> str:
    if "," in text or "_" in text:
        return (
            "not a number beyond doubt: its separators can be read two ways "
            "(commas only between groups of three digits, as in 1,234.5; no underscores)"
        )
    return "not a number"


def error_count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT count(*) FROM checked WHERE reason IS NOT NULL").fetchall()[0]
    return int(row[0]) if row else 0
