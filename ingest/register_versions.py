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
from ingest.register_counts import known_now
from ingest.register_schema import Register
from ingest.register_wide import sparse

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
    # each project's nodes gathered once, then put at their positions
    fields = ("planned", "reported", "confirmed", "confirmed_by", "line")
    put = "list_transform(range(1, {n}), lambda j: s[list_position(ks, j)].{c})"
    lists = ", ".join(put.format(n=len(nodes) + 1, c=c) + f" AS {c}" for c in fields[:4])
    lists += ", " + (put.format(n=len(nodes) + 1, c="line") if lines else "NULL::BIGINT[]")
    packed = ", ".join(f"{c} := n.{c}" for c in fields if c != "confirmed_by")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE incoming_wide AS "
        + sparse(f"""
        SELECT project, name, region, unit, supporting, investment, category, funds,
               progress, line, {lists} AS node_lines
        FROM (SELECT *, list_transform(s, lambda e: e.k) AS ks FROM (
            SELECT p.project, any_value(p.name) AS name, any_value(p.region) AS region,
                   any_value(p.unit) AS unit, any_value(p.supporting) AS supporting,
                   any_value(p.investment) AS investment, any_value(p.category) AS category,
                   any_value(p.funds) AS funds, any_value(p.progress) AS progress,
                   any_value(p.line) AS line,
                   list(struct_pack(k := n.k, {packed},
                                    confirmed_by := nullif(n.confirmed_by, ''))) AS s
            FROM incoming_projects p
            LEFT JOIN (SELECT *, CASE node {position} END AS k FROM incoming_nodes) n
              USING (project)
            GROUP BY p.project))
        """)
    )


def remap(con: duckdb.DuckDBPyConnection, name: str, layout: int, nodes: list[str]) -> None:
    """Rewrite the register's latest versions stored in another layout into this one."""
    moved = ", ".join(
        f"{c} = CASE WHEN p.{c} IS NOT NULL THEN list_transform(m.idx, lambda i: p.{c}[i]) END"
        for c in _LISTS
    )
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
    """changed_wide: the file's projects that are new or differ from their latest version
    (all the file says of them, so nothing joins the file again), with what changed
    (details_changed, nodes_changed per node; slips: nodes planned later) and the loads of
    the latest version's details and node dates (prior_load, prior_loads)."""
    ks = f"range(1, {count + 1})"
    mine = ", ".join(f"i.{c}[k]" for c in _LISTS)
    theirs = ", ".join(f"c.{c}[k]" for c in _LISTS)
    details = ", ".join(f"i.{c}" for c in _DETAILS), ", ".join(f"c.{c}" for c in _DETAILS)
    lists = ", ".join(f"i.{c}" for c in _LISTS), ", ".join(f"c.{c}" for c in _LISTS)
    given = f"{details[0]}, {lists[0]}"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE changed_wide AS
        SELECT * FROM (
            SELECT i.project, {given}, i.node_lines, i.line, c.project IS NOT NULL AS known,
                   c.project IS NULL OR ({details[0]}) IS DISTINCT FROM ({details[1]})
                       AS details_changed,
                   list_transform({ks}, lambda k: ({mine}) IS DISTINCT FROM ({theirs}))
                       AS nodes_changed,
                   list_count(list_filter({ks}, lambda k: i.planned[k] > c.planned[k]))
                       AS slips,
                   c.load_id AS prior_load, c.node_loads AS prior_loads
            FROM incoming_wide i
            LEFT JOIN (SELECT * FROM project_latest WHERE register = $reg) c USING (project)
            WHERE c.project IS NULL OR ({details[0]}) IS DISTINCT FROM ({details[1]})
               OR ({lists[0]}) IS DISTINCT FROM ({lists[1]}))
        WHERE details_changed OR list_bool_or(nodes_changed)
        """,
        {"reg": name},
    )


def changed_stats(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int, int]:
    """New projects, changed projects, changed nodes, nodes planned later than before."""
    row = con.execute(
        """
        SELECT count(*) FILTER (NOT known), count(*) FILTER (known AND details_changed),
               coalesce(sum(list_count(list_filter(nodes_changed, lambda x: x))), 0),
               coalesce(sum(slips), 0)
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
    if known_now(con, known):  # every version it replaces is known before it
        _replace_latest(con, name, "changed_wide")
        con.execute(
            f"""
            INSERT INTO project_latest
            SELECT $reg, project, {", ".join(_DETAILS)},
                   CASE WHEN details_changed THEN $load_id ELSE prior_load END, $layout,
                   {", ".join(_LISTS)},
                   list_transform(range(1, {count + 1}), lambda k:
                       CASE WHEN nodes_changed[k] THEN $load_id ELSE prior_loads[k] END)
            FROM changed_wide
            """,
            params,
        )
    else:
        _merge_late(con, name, layout, count, load_id, known)


def _replace_latest(con: duckdb.DuckDBPyConnection, name: str, table: str) -> None:
    con.execute(
        "DELETE FROM project_latest "
        f"WHERE register = ? AND project IN (SELECT project FROM {table})",
        [name],
    )


def _known_by(con: duckdb.DuckDBPyConnection, known: datetime) -> str:
    """The loads known by `known`, as an SQL list."""
    rows = con.execute("SELECT load_id FROM loads WHERE known_from <= ?", [known]).fetchall()
    return f"[{', '.join(str(int(r[0])) for r in rows)}]::BIGINT[]"


def _merge_late(
    con: duckdb.DuckDBPyConnection,
    name: str,
    layout: int,
    count: int,
    load_id: int,
    known: datetime,
) -> None:
    """A load dated before the latest: only details and nodes whose latest version is
    known before it take its dates; the others keep theirs."""
    held = _known_by(con, known)
    take = (
        f"list_transform(range(1, {count + 1}), lambda k: i.nodes_changed[k] AND "
        f"(c.node_loads[k] IS NULL OR list_contains({held}, c.node_loads[k])))"
    )
    details = ", ".join(f"CASE WHEN x.d THEN i.{c} ELSE c.{c} END AS {c}" for c in _DETAILS)
    lists = ", ".join(
        f"list_transform(range(1, {count + 1}), "
        f"lambda k: CASE WHEN x.t[k] THEN i.{c}[k] ELSE c.{c}[k] END) AS {c}"
        for c in _LISTS
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE merged_latest AS "
        + sparse(f"""
        SELECT $reg AS register, project, {details},
               CASE WHEN x.d THEN $load_id ELSE c.load_id END AS load_id, $layout AS layout,
               {lists},
               list_transform(range(1, {count + 1}),
                              lambda k: CASE WHEN x.t[k] THEN $load_id ELSE c.node_loads[k] END)
                   AS node_loads
        FROM changed_wide i
        LEFT JOIN (SELECT * FROM project_latest WHERE register = $reg) c USING (project),
        LATERAL (SELECT i.details_changed
                        AND (c.project IS NULL OR list_contains({held}, c.load_id)) AS d,
                        {take} AS t) x
        """),
        {"reg": name, "layout": layout, "load_id": load_id},
    )
    _replace_latest(con, name, "merged_latest")
    con.execute("INSERT INTO project_latest SELECT * FROM merged_latest")
    con.execute("DROP TABLE merged_latest")
