"""A register load's versions: the file's projects compared with the latest, stored wide.

The staged file (incoming_wide: one row per project, node dates in lists in the load's
layout) is compared with each project's latest state (project_latest); projects that
differ become rows of project_wide. In a load dated after every other, each such row is
its project's latest state from then on: compared and written in one statement, each
version once. A load dated before the latest adds history only, and the latest states it
changes node by node are merged rows of their own.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from ingest.readers import quote_text
from ingest.register_schema import Register
from ingest.register_wide import sparse

_DETAILS = ("name", "region", "unit", "supporting", "investment", "category", "funds", "progress")
_LISTS = ("planned", "reported", "confirmed", "confirmed_by")


def layout_nodes(con: duckdb.DuckDBPyConnection, register: Register) -> tuple[list[str], set[int]]:
    """The load's node order: the configured nodes, then any other node the register's
    latest versions hold (a node dropped from config is then cleared like any other);
    and the layouts those versions are stored in."""
    nodes = register.node_ids()
    held = con.execute(
        "SELECT DISTINCT layout FROM project_wide WHERE current AND register = ?",
        [register.name],
    ).fetchall()
    layouts = {int(r[0]) for r in held}
    rows = con.execute(
        "SELECT DISTINCT unnest(nodes) AS node FROM register_layouts "
        "WHERE list_contains(?, layout) ORDER BY node",
        [sorted(layouts)],
    ).fetchall()
    return nodes + [str(r[0]) for r in rows if r[0] not in nodes], layouts


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


def remap(
    con: duckdb.DuckDBPyConnection, name: str, layout: int, nodes: list[str], held: set[int]
) -> None:
    """Rewrite the register's latest versions stored in another layout into this one
    (`held`: the layouts they are stored in)."""
    if held <= {layout}:
        return
    moved = ", ".join(
        f"{c} = CASE WHEN p.{c} IS NOT NULL THEN list_transform(m.idx, lambda i: p.{c}[i]) END"
        for c in (*_LISTS, "node_lines", "node_loads")
    )
    con.execute(
        f"""
        UPDATE project_wide p
        SET layout = $layout, {moved}
        FROM (SELECT layout AS old, list_transform($nodes, lambda n: list_position(nodes, n))
                  AS idx FROM register_layouts) m
        WHERE p.current AND p.register = $reg AND p.layout <> $layout AND m.old = p.layout
        """,
        {"layout": layout, "nodes": nodes, "reg": name},
    )


def compare(con: duckdb.DuckDBPyConnection, name: str, count: int) -> None:
    """changed_wide: the file's projects that are new or differ from their latest version
    (all the file says of them, so nothing joins the file again), with what changed
    (details_changed, nodes_changed per node; slips: nodes planned later)."""
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
                       AS slips
            FROM incoming_wide i
            LEFT JOIN (SELECT * FROM project_latest WHERE register = $reg) c USING (project)
            WHERE c.project IS NULL OR ({details[0]}) IS DISTINCT FROM ({details[1]})
               OR ({lists[0]}) IS DISTINCT FROM ({lists[1]}))
        WHERE details_changed OR list_bool_or(nodes_changed)
        """,
        {"reg": name},
    )


Stats = tuple[int, int, int, int]


def store_in_order(
    con: duckdb.DuckDBPyConnection, name: str, layout: int, count: int, load_id: int
) -> Stats:
    """Write the file's new and changed projects as their latest state and retire the
    rows they replace. Return the load's new projects, changed projects, changed nodes
    and nodes planned later than before."""
    _insert_changed(con, name, layout, count, load_id)
    retired = _retire_rows(con, load_id)
    row = con.execute(
        """
        SELECT count(*), count(*) FILTER (details_load = load_id),
               coalesce(sum(list_count(list_filter(node_loads, lambda x: x = load_id))), 0),
               coalesce(sum(slips), 0)
        FROM project_wide WHERE load_id = ? AND NOT merged
        """,
        [load_id],
    ).fetchall()[0]
    new = int(row[0]) - retired
    return new, int(row[1]) - new, int(row[2]), int(row[3])


def _insert_changed(
    con: duckdb.DuckDBPyConnection, name: str, layout: int, count: int, load_id: int
) -> None:
    """The file's new and changed projects as their latest states, compared with the
    latest in the statement that writes them (no table of the changes in between)."""
    # each node's test written out (the layout's node count is known): cheaper than a
    # lambda over eight lists
    loads = ", ".join(
        f"CASE WHEN {_differs(_LISTS, f'[{k}]')} THEN $load_id ELSE c.node_loads[{k}] END"
        for k in range(1, count + 1)
    )
    slips = " + ".join(
        f"coalesce(i.planned[{k}] > c.planned[{k}], false)::INT" for k in range(1, count + 1)
    )
    details = _differs(_DETAILS)
    params = {"reg": name, "layout": layout, "load_id": load_id}
    con.execute(
        f"""
        INSERT INTO project_wide
        SELECT $reg, project, {", ".join(_DETAILS)}, $layout, {", ".join(_LISTS)}, node_lines,
               $load_id, line, CASE WHEN details_changed THEN $load_id ELSE prior_load END,
               node_loads, slips, true, false, replaced_row
        FROM (
            SELECT i.*, c.project IS NULL OR {details} AS details_changed,
                   [{loads}] AS node_loads, {slips or "0"} AS slips,
                   c.details_load AS prior_load, c.row AS replaced_row
            FROM incoming_wide i
            LEFT JOIN (SELECT rowid AS row, * FROM project_wide
                       WHERE current AND register = $reg) c USING (project)
            WHERE c.project IS NULL OR {details} OR {_differs(_LISTS)})
        WHERE details_changed OR list_contains(node_loads, $load_id)
        """,
        params,
    )


def _differs(columns: tuple[str, ...], at: str = "") -> str:
    """Whether the file's row i and the latest state c differ in any of the columns (NULLs
    equal), one test per column: cheaper than comparing two row values."""
    return " OR ".join(f"i.{c}{at} IS DISTINCT FROM c.{c}{at}" for c in columns)


def _any_merged(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether any latest state is a merged one (rare: files loaded out of order, stores
    migrated): only then are the replaced ones looked through for them."""
    return bool(
        con.execute("SELECT count(*) FROM project_wide WHERE merged AND current").fetchall()[0][0]
    )


def _retire_rows(con: duckdb.DuckDBPyConnection, load_id: int) -> int:
    """The latest states this load's rows replaced (by the row ids they were read at, in
    order or merged) are latest no more: a version stays as history, a merged state
    goes. Return how many there were."""
    rows = "SELECT replaced_row FROM project_wide WHERE load_id = ? AND replaced_row IS NOT NULL"
    n = 0
    if _any_merged(con):
        gone = con.execute(
            f"DELETE FROM project_wide WHERE merged AND rowid IN ({rows})", [load_id]
        )
        n = int(gone.fetchall()[0][0])
    kept = con.execute(
        f"UPDATE project_wide SET current = false WHERE NOT merged AND rowid IN ({rows})",
        [load_id],
    )
    return n + int(kept.fetchall()[0][0])


def store_late(
    con: duckdb.DuckDBPyConnection,
    name: str,
    layout: int,
    count: int,
    load_id: int,
    known: datetime,
) -> Stats:
    """A load dated before the latest: its changed projects as history, and the latest
    states it changes (node by node) as merged rows. Return store_in_order's figures."""
    compare(con, name, count)
    row = con.execute(
        """
        SELECT count(*) FILTER (NOT known), count(*) FILTER (known AND details_changed),
               coalesce(sum(list_count(list_filter(nodes_changed, lambda x: x))), 0),
               coalesce(sum(slips), 0)
        FROM changed_wide
        """
    ).fetchall()[0]
    con.execute(
        f"""
        INSERT INTO project_wide
        SELECT $reg, project, {", ".join(_DETAILS)}, $layout, {", ".join(_LISTS)}, node_lines,
               $load_id, line, CASE WHEN details_changed THEN $load_id END,
               list_transform(nodes_changed, lambda x: CASE WHEN x THEN $load_id END), slips,
               false, false, NULL
        FROM changed_wide
        """,
        {"reg": name, "layout": layout, "load_id": load_id},
    )
    _merge_late(con, name, layout, count, load_id, known)
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


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
               CASE WHEN x.d THEN $load_id ELSE c.details_load END AS load_id,
               $layout AS layout, {lists},
               list_transform(range(1, {count + 1}),
                              lambda k: CASE WHEN x.t[k] THEN $load_id ELSE c.node_loads[k] END)
                   AS node_loads, c.row AS replaced_row
        FROM changed_wide i
        LEFT JOIN (SELECT rowid AS row, * FROM project_wide WHERE current AND register = $reg) c
            USING (project),
        LATERAL (SELECT i.details_changed
                        AND (c.project IS NULL OR list_contains({held}, c.details_load)) AS d,
                        {take} AS t) x
        """),
        {"reg": name, "layout": layout, "load_id": load_id},
    )
    con.execute(
        f"""
        INSERT INTO project_wide
        SELECT register, project, {", ".join(_DETAILS)}, layout, {", ".join(_LISTS)}, NULL,
               $load_id, NULL, load_id, node_loads, 0, true, true, replaced_row
        FROM merged_latest
        """,
        {"load_id": load_id},
    )
    _retire_rows(con, load_id)
    con.execute("DROP TABLE merged_latest")
