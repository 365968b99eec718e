"""A register CSV of the `projects` layout staged wide in one pass, when every cell is plain.

One statement reads the file's records straight into one row each with its node dates in
lists (the load's layout), parsing in SQL only the forms whose reading is unambiguous:
dates written 2026-03-05, 2026/3/5 or 2026年3月5日, plain decimal numbers. A record's
line is its place in the file unless empty lines or quoted line breaks moved it (then
the lines are counted one by one, as ingest.readers does). One aggregate then
says whether anything is wrong or unusual (a bad or other-form cell, an unknown region,
a duplicate, a date in the future, nodes out of order …). Only then does the cell-by-cell
path (ingest.register_csv) read the file again, to accept the other forms the same way
as ever or to name every bad cell with its line and field.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb

from ingest.errors import IngestError
from ingest.readers import ReadPlan, Records, headless, quote_ident, read_records
from ingest.register import region_names
from ingest.register_csv import as_source, check_header, register_map
from ingest.register_schema import Register, RegisterColumns
from ingest.register_wide import sparse
from ingest.schema import Region
from ingest.text import clean_text, name_key

_PLAIN_DATE = r"\d{4}年\d{1,2}月\d{1,2}日?"
_PLAIN_NUMBER = r"[+-]?(\d+(\.\d*)?|\.\d+)"
TEMP = ("region_map", "line_runs")


def stage_wide(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    register: Register,
    regions: list[Region],
    today: date,
    nodes: list[str],
) -> int | None:
    """incoming_wide straight from the file; its records, or None when a cell needs the
    cell-by-cell path (nothing is left staged then)."""
    try:
        known = region_names(regions)
        # the names as written (most cells are) matched in the read itself
        exact = [(t, r, None) for t, r in known.items() if clean_text(t) == t]
        register_map(con, "region_map", exact, "VARCHAR")

        def query(names: list[str], sample: list[list[str]]) -> ReadPlan | None:
            try:
                check_header(path, register, names)
            except IngestError:
                return None  # the cell-by-cell path names what is missing
            forms = date_columns(date_headers(register, names, nodes), names, sample)
            (dates, dateformat), (stamps, stampformat) = forms
            return ReadPlan(
                _wide(register, names, nodes, dates, stamps),
                dates,
                dateformat,
                stamps,
                stampformat,
            )

        read = read_records(con, path, as_source(register), "incoming_wide", query)
        if read is None:
            return None
        wrong = _wrong(register, today, nodes)
        blank, anything = _tidy(con, register.header_row, read, known, wrong)
        if anything is None:  # records dropped or regions mapped since it was looked at
            anything = bool(con.execute(f"SELECT {wrong} FROM incoming_wide").fetchall()[0][0])
        if anything:
            con.execute("DROP TABLE IF EXISTS temp.incoming_wide")
            return None
        return read.rows - blank
    finally:
        for name in TEMP:
            con.execute(f"DROP TABLE IF EXISTS temp.{name}")


def _text(names: list[str], header: str) -> str:
    """The trimmed text of a column of the records r ('' when the file has no such column)."""
    key = name_key(header)
    return f"trim(coalesce(r.{quote_ident(key)}, ''))" if key in names else "''"


def _tidy(
    con: duckdb.DuckDBPyConnection,
    header_row: int,
    read: Records,
    known: dict[str, str],
    wrong: str,
) -> tuple[int, bool | None]:
    """Number the lines one by one where records and lines differ, drop the records with
    no text and map the region texts the read left unmatched; return the records dropped
    and, when nothing needed dropping or mapping, whether anything is `wrong` (an
    aggregate over incoming_wide) — else None: it is still to be looked at."""
    if read.numbered:
        first = header_row + 1
        con.execute(
            "CREATE OR REPLACE TEMP TABLE incoming_wide AS "
            f"SELECT w.* REPLACE (r.line + (w.line - {first} - r.first) AS line) "
            f"FROM incoming_wide w ASOF JOIN line_runs r ON w.line - {first} >= r.first"
        )
    blank, texts, anything = con.execute(
        "SELECT count(*) FILTER (blank), "
        "coalesce(list(DISTINCT region_text) FILTER (region IS NULL AND NOT blank), []), "
        f"{wrong} FROM incoming_wide"
    ).fetchall()[0]
    if blank:
        con.execute("DELETE FROM incoming_wide WHERE blank")
    found = [(t, known[clean_text(t)], None) for t in texts if clean_text(t) in known]
    if found:
        register_map(con, "region_map", found, "VARCHAR")
        con.execute(
            "UPDATE incoming_wide w SET region = m.value FROM region_map m "
            "WHERE w.region IS NULL AND m.text = w.region_text"
        )
    return int(blank), None if blank or texts else bool(anything)


def plain_date(t: str) -> str:
    """SQL reading a date text the way ingest.register.parse_date does, for the forms where
    DuckDB's own reading agrees with it (NULL for an empty text and any other form)."""
    return (
        f"CASE WHEN {t} = '' THEN NULL "  # most cells of a register are empty: decided first
        f"WHEN {t}[5] IN ('-', '/') AND length({t}) BETWEEN 8 AND 10 "
        f"THEN try_cast({t} AS DATE) "
        f"WHEN {t}[5] = '年' AND regexp_full_match({t}, '{_PLAIN_DATE}') "
        f"THEN try_cast(translate({t}, '年月日', '--') AS DATE) END"
    )


def date_headers(register: Register, names: list[str], nodes: list[str]) -> dict[str, str]:
    """The file's date columns, by the inner names their cells are read as (planned_0 …)."""
    c = register.columns
    label = {n.id: n.name for n in register.nodes}
    found = {}
    for kind, suffix in (
        ("planned", c.planned_suffix),
        ("reported", c.reported_suffix),
        ("confirmed", c.confirmed_suffix),
    ):
        for k, node in enumerate(nodes):
            header = name_key(label.get(node, "") + suffix)
            if node in label and header in names:
                found[f"{kind}_{k}"] = header
    return found


# The forms DuckDB reads as dates while it reads the file, as parse_date reads them.
_FORMS = {
    "%Y-%m-%d": re.compile(r"\d{4}-\d{1,2}-\d{1,2}", re.ASCII),
    "%Y/%m/%d": re.compile(r"\d{4}/\d{1,2}/\d{1,2}", re.ASCII),
}


Forms = tuple[tuple[frozenset[str], str], tuple[frozenset[str], str]]


def date_columns(headers: dict[str, str], names: list[str], sample: list[list[str]]) -> Forms:
    """The date columns whose first records are all written in one plain form, to be read
    as dates, by form: the form most of their cells take first (read as DATE), the other
    second (read as TIMESTAMP: DuckDB reads one form of each)."""
    by_form: dict[str, list[str]] = {form: [] for form in _FORMS}
    cells: Counter[str] = Counter({form: 0 for form in _FORMS})
    for header in headers.values():
        j = names.index(header)
        texts = [row[j].strip() for row in sample if len(row) > j and row[j].strip()]
        for form, pattern in _FORMS.items():
            if texts and all(pattern.fullmatch(t) for t in texts):
                by_form[form].append(header)
                cells[form] += len(texts)
    first, second = (
        (frozenset(by_form[f]), f if by_form[f] else "") for f, _ in cells.most_common()
    )
    return first, second


def not_plain_date(d: str) -> str:
    """SQL: whether a date DuckDB read from a cell may not be what parse_date reads there.
    DuckDB also reads 'epoch' (1970-01-01), 'infinity' and years of other lengths: the
    cell-by-cell path decides those."""
    return (
        f"coalesce(NOT isfinite({d}) OR year({d}) NOT BETWEEN 1000 AND 9999 "
        f"OR {d} = DATE '1970-01-01', false)"
    )


def _dates(
    register: Register,
    names: list[str],
    nodes: list[str],
    typed: frozenset[str],
    stamps: frozenset[str],
) -> tuple[list[str], list[str], str, str]:
    """The date cells' texts (read from the records) and dates (read from the texts, or
    by the read itself in the `typed` and `stamps` columns), the three lists and the test
    of a cell the fast path cannot read."""
    headers = date_headers(register, names, nodes)
    texts, dates, lists, bad = [], [], [], []
    for kind in ("planned", "reported", "confirmed"):
        items = []
        for k in range(len(nodes)):
            t = f"{kind}_{k}"
            if t not in headers:
                items.append("NULL::DATE")
                continue
            items.append(f"d_{t}")
            column = f"r.{quote_ident(headers[t])}"
            if headers[t] in typed or headers[t] in stamps:
                texts.append(f"CAST({column} AS DATE) AS d_{t}")
                bad.append(not_plain_date(f"d_{t}"))
                continue
            # untrimmed: a date with outer spaces other than trailing ones is not plain
            # (the cell-by-cell path reads it), and trimming every cell costs more
            # than reading it
            texts.append(f"coalesce({column}, '') AS {t}")
            dates.append(f"{plain_date(t)} AS d_{t}")
            # a year below 1000 is not four digits (1-3 digit years DuckDB reads)
            bad.append(f"({t} <> '' AND coalesce(year(d_{t}) < 1000, true))")
        lists.append(f"[{', '.join(items)}] AS {kind}")
    return texts, dates, ", ".join(lists), " OR ".join(bad) or "false"


def _numbers(register: Register, names: list[str]) -> tuple[list[str], list[str], str]:
    """The number cells' texts (read from the records) and numbers (read from the texts),
    and the test of a bad one."""
    c = register.columns
    texts, numbers, bad = [], [], []
    for column, header, most in (
        ("investment", c.investment, None),
        ("funds", c.funds, None),
        ("progress", c.progress, 100.0),
    ):
        t = f"{column}_text"
        texts.append(f"{_text(names, header)} AS {t}")
        numbers.append(
            f"CASE WHEN regexp_full_match({t}, '{_PLAIN_NUMBER}') "
            f"THEN CAST({t} AS DOUBLE) END AS {column}"
        )
        limit = f" OR {column} > {most}" if most is not None else ""
        bad.append(f"({t} <> '' AND ({column} IS NULL OR {column} < 0{limit}))")
    return texts, numbers, " OR ".join(bad)


def _wide(
    register: Register,
    names: list[str],
    nodes: list[str],
    typed: frozenset[str],
    stamps: frozenset[str],
) -> str:
    """The query staging incoming_wide from the records: `blank` a record with no text,
    `bad` a cell the fast path cannot read (the region is matched apart)."""
    c = register.columns
    label = {n.id: n.name for n in register.nodes}
    date_texts, dates, lists, bad_date = _dates(register, names, nodes, typed, stamps)
    number_texts, numbers, bad_number = _numbers(register, names)
    confirmers = ", ".join(
        f"nullif({_text(names, label[n] + c.confirmed_by_suffix)}, '')" if n in label else "NULL"
        for n in nodes
    )
    # a record with no text is skipped; one with a project id has text (decided first)
    texts = [
        f"r.{quote_ident(n)} IS NOT NULL"
        if n in typed or n in stamps
        else f"trim(coalesce(r.{quote_ident(n)}, '')) <> ''"
        for n in names
    ]
    blank = f"CASE WHEN {_text(names, c.id)} <> '' THEN false ELSE NOT ({' OR '.join(texts)}) END"
    # a value under a column with no header: the cell-by-cell path refuses the file
    unnamed = " OR ".join(f"coalesce(r.{quote_ident(n)}, '') <> ''" for n in headless(names))
    inner = ", ".join(
        [f"{_text(names, h)} AS {k}" for k, h in _project_texts(c).items()]
        + date_texts
        + number_texts
    )
    return sparse(f"""
    SELECT project, name, m.value AS region, region_text, unit, supporting, investment,
           category, funds, progress, line, {lists}, confirmed_by,
           NULL::BIGINT[] AS node_lines, blank,
           project = '' OR unnamed OR {bad_date} OR {bad_number} AS bad
    FROM (  -- the texts are read first: a file's own column may bear an inner name
        SELECT *, {", ".join(dates + numbers)}
        FROM (
            SELECT row_number() OVER () + {register.header_row} AS line, {inner},
                   [{confirmers}]::VARCHAR[] AS confirmed_by, {blank} AS blank,
                   {unnamed or "false"} AS unnamed
            FROM records r
        )
    ) f
    LEFT JOIN region_map m ON m.text = f.region_text
    """)


def _project_texts(c: RegisterColumns) -> dict[str, str]:
    """The project columns' headers, by the inner names they are read as."""
    return {
        "project": c.id,
        "name": c.name,
        "region_text": c.region,
        "unit": c.unit,
        "supporting": c.supporting,
        "category": c.category,
    }


def _wrong(register: Register, today: date, nodes: list[str]) -> str:
    """SQL, an aggregate over incoming_wide: whether any check of ingest.register_checks
    could find a problem."""
    day = f"DATE '{today.isoformat()}'"
    ks = f"range(1, {len(nodes) + 1})"
    checks = [
        "bool_or(bad OR region IS NULL)",
        "count(*) <> count(DISTINCT project)",
        f"bool_or(list_max(reported) > {day} OR list_max(confirmed) > {day})",
        # (a file without confirmed dates stores no list: nothing to look through)
        f"bool_or(confirmed IS NOT NULL AND list_bool_or(list_transform({ks}, "
        "lambda k: confirmed[k] IS NOT NULL AND reported[k] IS NULL)))",
    ]
    for first, then in register.ordered_pairs():
        a, b = nodes.index(first) + 1, nodes.index(then) + 1
        checks.append(f"bool_or(planned[{b}] < planned[{a}] OR reported[{b}] < reported[{a}])")
    return f"coalesce({' OR '.join(f'coalesce({x}, false)' for x in checks)}, false)"
