"""A register load's versions: the file's projects compared with the latest, stored wide.

The staged file (incoming_wide: one row per project, node dates in lists in the load's
layout) is compared with project_latest; projects that differ become rows of
project_history, and project_latest is brought up to date unless a version known later
holds (a load dated before the latest adds history only, node by node).
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from ingest.readers import quote_text
from ingest.register_schema import Register

_DETAILS = ("name", "region", "unit", "supporting", "investment", "category", "funds", "progress")
_LISTS = ("planned", "reported", "confirmed", "confirmed_by")


def layout_nodes(con: duckdb.DuckDBPyConnection, register: Register) -> list[str]:
    """The load's node order: the configured nodes, then any other node the register's
    latest versions hold (a node dropped from config is then cleared like any other)."""
    nodes = register.node_ids()
    rows = con.execute(
        "SELECT DISTINCT unnest(y.nodes) AS node FROM register_layouts y "
        "WHERE y.layout IN (SELECT DISTINCT layout FROM project_latest WHERE register = ?) "
        "ORDER BY node",
        [register.name],
    ).fetchall()
    return nodes + [str(r[0]) for r in rows if r[0] not in nodes]


def layout_id(con: duckdb.DuckDBPyConnection, name: str, nodes: list[str]) -> int:
    """The layout of these nodes for the register, added when new."""
    found = con.execute(
        "SELECT layout FROM register_layouts WHERE register = ? AND nodes = ?", [name, nodes]
    ).fetchall()
    if found:
        return int(found[0][0])
    new = con.execute("SELECT coalesce(max(layout), 0) + 1 FROM register_layouts").fetchall()
    new_id = int(new[0][0])
    con.execute("INSERT INTO register_layouts VALUES (?, ?, ?)", [new_id, name, nodes])
    return new_id


def widen(con: duckdb.DuckDBPyConnection, nodes: list[str], lines: bool) -> None:
    """incoming_wide from incoming_projects and incoming_nodes (one row per node); with
    `lines`, each node's own line (the events layout)."""
    position = " ".join(f"WHEN {quote_text(n)} THEN {k}" for k, n in enumerate(nodes, 1))

    def each(expr: str) -> str:
        picks = (f"max({expr}) FILTER (k = {k})" for k in range(1, len(nodes) + 1))
        return "[" + ", ".join(picks) + "]"

    lists = ", ".join(f"{each(f'n.{c}')} AS {c}" for c in ("planned", "reported", "confirmed"))
    confirmer = "nullif(n.confirmed_by, '')"
    lists += f", {each(confirmer)} AS confirmed_by"
    lists += f", {each('n.line') if lines else 'NULL::BIGINT[]'} AS node_lines"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE incoming_wide AS
        SELECT p.project, any_value(p.name) AS name, any_value(p.region) AS region,
               any_value(p.unit) AS unit, any_value(p.supporting) AS supporting,
               any_value(p.investment) AS investment, any_value(p.category) AS category,
               any_value(p.funds) AS funds, any_value(p.progress) AS progress,
               any_value(p.line) AS line, {lists}
        FROM incoming_projects p
        LEFT JOIN (SELECT *, CASE node {position} END AS k FROM incoming_nodes) n
          USING (project)
        GROUP BY p.project
        """
    )


def remap(con: duckdb.DuckDBPyConnection, name: str, layout: int, nodes: list[str]) -> None:
    """Rewrite the register's latest versions stored in another layout into this one."""
    moved = ", ".join(f"{c} = list_transform(m.idx, lambda i: p.{c}[i])" for c in _LISTS)
    con.execute(
        f"""
        UPDATE project_latest p
        SET layout = $layout, {moved},
            node_loads = list_transform(m.idx, lambda i: p.node_loads[i])
        FROM (SELECT layout AS old, list_transform($nodes, lambda n: list_position(nodes, n))
                  AS idx FROM register_layouts) m
        WHERE p.register = $reg AND p.layout <> $layout AND m.old = p.layout
        """,
        {"layout": layout, "nodes": nodes, "reg": name},
    )


def compare(con: duckdb.DuckDBPyConnection, name: str, count: int) -> None:
    """changed_wide: the file's projects that are new or differ from their latest version,
    with what changed (details_changed, nodes_changed per node) and that version (prior)."""
    ks = f"range(1, {count + 1})"
    mine = ", ".join(f"i.{c}[k]" for c in _LISTS)
    theirs = ", ".join(f"c.{c}[k]" for c in _LISTS)
    details = ", ".join(f"i.{c}" for c in _DETAILS), ", ".join(f"c.{c}" for c in _DETAILS)
    lists = ", ".join(f"i.{c}" for c in _LISTS), ", ".join(f"c.{c}" for c in _LISTS)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE changed_wide AS
        SELECT * FROM (
            SELECT i.project, {", ".join(f"i.{c}" for c in _DETAILS)}, i.line,
                   {", ".join(f"i.{c}" for c in _LISTS)}, i.node_lines,
                   c.project IS NOT NULL AS known,
                   c.project IS NULL OR ({details[0]}) IS DISTINCT FROM ({details[1]})
                       AS details_changed,
                   list_transform({ks}, lambda k: ({mine}) IS DISTINCT FROM ({theirs}))
                       AS nodes_changed,
                   c AS prior
            FROM incoming_wide i
            LEFT JOIN (SELECT * FROM project_latest WHERE register = $reg) c USING (project)
            WHERE c.project IS NULL OR ({details[0]}) IS DISTINCT FROM ({details[1]})
               OR ({lists[0]}) IS DISTINCT FROM ({lists[1]}))
        WHERE details_changed OR list_bool_or(nodes_changed)
        """,
        {"reg": name},
    )


def changed_stats(con: duckdb.DuckDBPyConnection, count: int) -> tuple[int, int, int, int]:
    """New projects, changed projects, changed nodes, nodes planned later than before."""
    slipped = (
        f"list_count(list_filter(range(1, {count + 1}), lambda k: nodes_changed[k] "
        "AND planned[k] > prior.planned[k]))"
    )
    row = con.execute(
        f"""
        SELECT count(*) FILTER (NOT known), count(*) FILTER (known AND details_changed),
               coalesce(sum(list_count(list_filter(nodes_changed, lambda x: x))), 0),
               coalesce(sum({slipped}), 0)
        FROM changed_wide
        """
    ).fetchall()[0]
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


def store_versions(
    con: duckdb.DuckDBPyConnection,
    name: str,
    layout: int,
    count: int,
    load_id: int,
    known: datetime,
) -> None:
    """Add the changed projects to project_history and bring project_latest up to date."""
    params = {"reg": name, "layout": layout, "load_id": load_id}
    con.execute(
        f"""
        INSERT INTO project_history
        SELECT $reg, project, {", ".join(_DETAILS)}, $layout, {", ".join(_LISTS)}, node_lines,
               details_changed, nodes_changed, $load_id, line
        FROM changed_wide
        """,
        params,
    )
    # what a version known later holds is kept: only versions known by then are replaced
    older = [
        int(r[0])
        for r in con.execute("SELECT load_id FROM loads WHERE known_from <= ?", [known]).fetchall()
    ]
    held = f"[{', '.join(map(str, older))}]::BIGINT[]"
    take = (
        f"list_transform(range(1, {count + 1}), lambda k: nodes_changed[k] AND "
        f"(prior.node_loads[k] IS NULL OR list_contains({held}, prior.node_loads[k])))"
    )
    details = ", ".join(f"CASE WHEN d THEN {c} ELSE prior.{c} END" for c in _DETAILS)
    lists = ", ".join(
        f"list_transform(range(1, {count + 1}), "
        f"lambda k: CASE WHEN t[k] THEN {c}[k] ELSE prior.{c}[k] END)"
        for c in _LISTS
    )
    con.execute(
        "DELETE FROM project_latest "
        "WHERE register = ? AND project IN (SELECT project FROM changed_wide)",
        [name],
    )
    con.execute(
        f"""
        INSERT INTO project_latest
        SELECT $reg, project, {details}, CASE WHEN d THEN $load_id ELSE prior.load_id END,
               $layout, {lists},
               list_transform(range(1, {count + 1}),
                              lambda k: CASE WHEN t[k] THEN $load_id ELSE prior.node_loads[k] END)
        FROM (SELECT *, details_changed AND (NOT known OR list_contains({held}, prior.load_id))
                        AS d, {take} AS t
              FROM changed_wide)
        """,
        params,
    )
