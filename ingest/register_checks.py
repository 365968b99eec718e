"""The checks of a staged register CSV as set operations: every problem, with its line.

ingest.register_csv stages the file (reg: the records' project texts; reg_nodes or
reg_node_cells: their node texts; incoming_nodes: the node dates read, with their texts
and errors; region_map, number_map, date_map: each distinct text read once) and asks
write_errors for reg_errors(line, seq, field, value, reason), the same problems
ingest.register finds row by row in a workbook.
"""

from __future__ import annotations

from datetime import date

import duckdb

from ingest.readers import quote_text
from ingest.register import unknown_node
from ingest.register_schema import Register


def write_errors(con: duckdb.DuckDBPyConnection, register: Register, today: date) -> None:
    """reg_errors(line, seq, field, value, reason): every problem of the file."""
    c = register.columns
    parts = [
        f"SELECT line, 0, {quote_text(c.id)}, '', 'a project needs an id' FROM reg "
        "WHERE project = ''",
        f"SELECT r.line, 1, {quote_text(c.region)}, r.region_text, "
        "'unknown region (not in [[regions]])' FROM reg r "
        "LEFT JOIN region_map m ON m.text = r.region_text WHERE m.value IS NULL",
    ]
    parts += (
        _event_errors(register)
        if register.layout == "events"
        else [_TWICE.format(quote_text(c.id))]
    )
    for i, (column, header, most) in enumerate(
        (
            ("investment", c.investment, None),
            ("funds", c.funds, None),
            ("progress", c.progress, 100.0),
        )
    ):
        bound = "0 to 100" if most else "0 or more"
        parts.append(
            f"SELECT r.line, {3 + i}, {quote_text(header)}, r.{column}, "
            f"coalesce(m.error, 'out of range ({bound})') FROM reg r "
            f"JOIN number_map m ON m.text = r.{column} "
            f"WHERE m.error IS NOT NULL OR m.value < 0" + (f" OR m.value > {most}" if most else "")
        )
    parts += _date_errors(today)
    parts += _order_errors(register)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE reg_errors AS SELECT * FROM ("
        + " UNION ALL ".join(parts)
        + ") e(line, seq, field, value, reason)"
    )


_TWICE = (
    "SELECT line, 2, {0}, project, printf('project listed twice (first on line %d)', first) "
    "FROM (SELECT *, min(line) OVER (PARTITION BY project) AS first FROM reg "
    "WHERE project <> '') WHERE line > first"
)


def _event_errors(register: Register) -> list[str]:
    """Rows of one project whose details differ from its first; unknown or repeated nodes."""
    c = register.columns
    details = "(name, region, unit, supporting, investment, category, funds, progress)"
    texts = "(name, region_text, unit, supporting, investment, category, funds, progress)"
    # only projects whose rows differ in text can differ once read ("60" and "60.0" agree)
    varied = (
        f"(SELECT * FROM reg WHERE project IN (SELECT project FROM reg GROUP BY project "
        f"HAVING min({texts}) <> max({texts})))"
    )
    return [
        f"SELECT line, 2, {quote_text(c.id)}, project, "
        "printf('project details differ from line %d', first) FROM ("
        f"SELECT line, project, first_value(line) OVER w AS first, {details} IS DISTINCT FROM "
        f"first_value({details}) OVER w AS differs FROM ({PARSED.format(source=varied)}) "
        "WINDOW w AS (PARTITION BY project ORDER BY line)) WHERE differs",
        f"SELECT e.line, 6, {quote_text(c.node)}, e.node_text, "
        f"{quote_text(unknown_node(register))} FROM reg_events e "
        "JOIN node_map m ON m.text = e.node_text WHERE m.value IS NULL",
        f"SELECT line, 7, {quote_text(c.node)}, node, "
        "printf('node listed twice (first on line %d)', first) FROM (SELECT *, "
        "min(line) OVER (PARTITION BY project, node) AS first FROM reg_nodes) WHERE line > first",
    ]


def _date_errors(today: date) -> list[str]:
    day = f"DATE '{today.isoformat()}'"
    parts = [
        f"SELECT line, 10, f.{k}, d.{k}_text, d.{k}_error FROM incoming_nodes d JOIN node_fields f "
        f"USING (node) WHERE d.{k}_error IS NOT NULL"
        for k in ("planned", "reported", "confirmed")
    ]
    parts += [
        f"SELECT line, 11, f.{k}, CAST(d.{k} AS VARCHAR), "
        f"'in the future (after {today.isoformat()})' FROM incoming_nodes d "
        f"JOIN node_fields f USING (node) WHERE d.{k} > {day}"
        for k in ("reported", "confirmed")
    ]
    parts.append(
        "SELECT line, 12, f.confirmed, CAST(d.confirmed AS VARCHAR), "
        "'confirmed, but never reported' FROM incoming_nodes d JOIN node_fields f USING (node) "
        "WHERE d.confirmed IS NOT NULL AND d.reported IS NULL"
    )
    return parts


def _order_errors(register: Register) -> list[str]:
    """A later node of a strict pair dated before the earlier one (planned or reported)."""
    parts = []
    for first, then in register.ordered_pairs():
        for kind in ("planned", "reported"):
            parts.append(
                f"SELECT b.line, 13, f.{kind}, CAST(b.{kind} AS VARCHAR), "
                f"printf('{then} {kind} before {first} {kind} (%s)', a.{kind}) "
                f"FROM incoming_nodes a JOIN incoming_nodes b USING (project) "
                f"JOIN node_fields f ON f.node = b.node "
                f"WHERE a.node = {quote_text(first)} AND b.node = {quote_text(then)} "
                f"AND b.{kind} < a.{kind}"
            )
    return parts


# The project columns of each record, read: its region's id and its numbers.
PARSED = """
SELECT r.line, r.project, r.name, m.value AS region, r.unit, r.supporting,
       i.value AS investment, r.category, f.value AS funds, p.value AS progress
FROM {source} r JOIN region_map m ON m.text = r.region_text
LEFT JOIN number_map i ON i.text = r.investment LEFT JOIN number_map f ON f.text = r.funds
LEFT JOIN number_map p ON p.text = r.progress
"""
