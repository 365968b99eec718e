"""The project register stored wide: one row per project version, its node dates in lists.

A load writes one row for each project that changed (project_wide) and flags it the
project's latest state (`current`), so each version is written once: ten times fewer rows
than one per node. The lists follow the node order of a layout (register_layouts), one per
register and node list, so a node list changed in config never misreads older rows.
project_history (every version) and project_latest (each project's latest state) are views
over it, and so are the narrow relations analysts and the other views read — project_rows,
node_rows (a row only where the load changed that part), project_rows_current,
node_rows_current — with the same columns and rows as when they were tables.
"""

from __future__ import annotations

LISTS = ("planned", "reported", "confirmed", "confirmed_by")


def sparse(query: str) -> str:
    """The query with each node list NULL where it holds no value at all (stored as one
    bit instead of a list of NULLs: registers leave whole columns empty)."""
    lists = ", ".join(f"CASE WHEN list_count({c}) > 0 THEN {c} END AS {c}" for c in LISTS)
    return f"SELECT * REPLACE ({lists}) FROM ({query})"


WIDE_TABLES = """
CREATE TABLE register_layouts (
    layout INTEGER PRIMARY KEY, register VARCHAR NOT NULL, nodes VARCHAR[] NOT NULL
);
-- every project version a load stored (its details and all its nodes' dates) and which
-- of them that load changed; node_lines NULL: every node on the project's line
CREATE TABLE project_history (
    register VARCHAR NOT NULL, project VARCHAR NOT NULL, name VARCHAR, region VARCHAR NOT NULL,
    unit VARCHAR, supporting VARCHAR, investment DOUBLE, category VARCHAR, funds DOUBLE,
    progress DOUBLE, layout INTEGER NOT NULL, planned DATE[], reported DATE[],
    confirmed DATE[], confirmed_by VARCHAR[], node_lines BIGINT[],
    details_changed BOOLEAN NOT NULL, nodes_changed BOOLEAN[] NOT NULL,
    load_id BIGINT NOT NULL, line BIGINT
);
-- the latest version of each project: load_id of its details, node_loads of each node's
-- dates (NULL: never dated)
CREATE TABLE project_latest (
    register VARCHAR NOT NULL, project VARCHAR NOT NULL, name VARCHAR, region VARCHAR NOT NULL,
    unit VARCHAR, supporting VARCHAR, investment DOUBLE, category VARCHAR, funds DOUBLE,
    progress DOUBLE, load_id BIGINT NOT NULL, layout INTEGER NOT NULL, planned DATE[],
    reported DATE[], confirmed DATE[], confirmed_by VARCHAR[], node_loads BIGINT[]
);
"""

# One layout per register: its configured nodes, then any other node it has stored.
_BACKFILL_LAYOUTS = """
INSERT INTO register_layouts
SELECT row_number() OVER (ORDER BY register), register,
       coalesce(list(node ORDER BY position NULLS LAST, node) FILTER (node IS NOT NULL), [])
FROM (SELECT r.register, n.node, c.position
      FROM (SELECT register FROM project_rows UNION SELECT register FROM register_nodes) r
      LEFT JOIN (SELECT register, node FROM node_rows UNION SELECT register, node
                 FROM register_nodes) n USING (register)
      LEFT JOIN register_nodes c USING (register, node))
GROUP BY register;
"""
_DETAILS = (
    "struct_pack(name := {p}.name, region := {p}.region, unit := {p}.unit, "
    "supporting := {p}.supporting, investment := {p}.investment, category := {p}.category, "
    "funds := {p}.funds, progress := {p}.progress)"
)
# Each field of a list put at its node's position (s: structs with k, ks: their k).
_PUT = "list_transform(range(1, len(y.nodes) + 1), lambda j: l.s[list_position(l.ks, j)].{c})"
# Each version's details: what it stored, else the latest earlier version's (else the
# first's); its node lists: the dates it stored (rows migrated from the narrow tables hold
# no others, nodes_changed says which).
_BACKFILL_HISTORY = (
    "INSERT INTO project_history "
    + sparse(f"""
WITH v AS (
    SELECT x.register, x.project, x.load_id, l.known_from
    FROM (SELECT register, project, load_id FROM project_rows
          UNION SELECT register, project, load_id FROM node_rows) x
    JOIN loads l USING (load_id)
),
d AS (
    SELECT register, project, load_id, line, details_changed,
           coalesce(last_value(s IGNORE NULLS) OVER w, first_value(s IGNORE NULLS) OVER a) AS s
    FROM (SELECT v.*, p.line, p.project IS NOT NULL AS details_changed,
                 CASE WHEN p.project IS NOT NULL THEN {_DETAILS.format(p="p")} END AS s
          FROM v LEFT JOIN project_rows p ON p.register = v.register
               AND p.project = v.project AND p.load_id = v.load_id)
    WINDOW w AS (PARTITION BY register, project ORDER BY known_from, load_id
                 ROWS UNBOUNDED PRECEDING),
           a AS (PARTITION BY register, project ORDER BY known_from, load_id
                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
),
y AS (SELECT layout, register, unnest(nodes) AS node, generate_subscripts(nodes, 1) AS k
      FROM register_layouts),
g AS (  -- the node versions each load stored, gathered per project
    SELECT n.register, n.project, n.load_id,
           list(struct_pack(k := y.k, planned := n.planned, reported := n.reported,
                            confirmed := n.confirmed, confirmed_by := n.confirmed_by,
                            line := n.line)) AS s
    FROM node_rows n JOIN y USING (register, node) GROUP BY ALL
),
lists AS (SELECT *, list_transform(s, lambda e: e.k) AS ks FROM g)
SELECT d.register, d.project, d.s.name, d.s.region, d.s.unit, d.s.supporting,
       d.s.investment, d.s.category, d.s.funds, d.s.progress, y.layout,
       {_PUT.format(c="planned")} AS planned, {_PUT.format(c="reported")} AS reported,
       {_PUT.format(c="confirmed")} AS confirmed,
       {_PUT.format(c="confirmed_by")} AS confirmed_by,
       {_PUT.format(c="line")} AS node_lines, d.details_changed,
       list_transform(range(1, len(y.nodes) + 1),
                      lambda j: coalesce(list_contains(l.ks, j), false)) AS nodes_changed,
       d.load_id, coalesce(d.line, list_min(list_transform(l.s, lambda e: e.line)))
FROM d JOIN register_layouts y USING (register)
LEFT JOIN lists l USING (register, project, load_id)
""")
    + ";\n"
)
_BACKFILL_LATEST = (
    "INSERT INTO project_latest "
    + sparse(f"""
WITH y AS (SELECT layout, register, unnest(nodes) AS node, generate_subscripts(nodes, 1) AS k
           FROM register_layouts),
g AS (
    SELECT n.register, n.project,
           list(struct_pack(k := y.k, planned := n.planned, reported := n.reported,
                            confirmed := n.confirmed, confirmed_by := n.confirmed_by,
                            load_id := n.load_id)) AS s
    FROM node_rows_current n JOIN y USING (register, node) GROUP BY ALL
),
l AS (SELECT *, list_transform(s, lambda e: e.k) AS ks FROM g)
SELECT p.register, p.project, p.name, p.region, p.unit, p.supporting, p.investment,
       p.category, p.funds, p.progress, p.load_id, y.layout,
       {_PUT.format(c="planned")} AS planned, {_PUT.format(c="reported")} AS reported,
       {_PUT.format(c="confirmed")} AS confirmed,
       {_PUT.format(c="confirmed_by")} AS confirmed_by, {_PUT.format(c="load_id")}
FROM project_rows_current p JOIN register_layouts y USING (register)
LEFT JOIN l USING (register, project)
""")
    + ";\n"
)
# The migration to the wide tables: backfilled from the narrow ones, which become views.
MIGRATION = (
    WIDE_TABLES
    + _BACKFILL_LAYOUTS
    + _BACKFILL_HISTORY
    + _BACKFILL_LATEST
    + """
DROP TABLE node_rows_current; DROP TABLE project_rows_current;
DROP TABLE node_rows; DROP TABLE project_rows;
"""
)

_PROJECT_COLUMNS = "name, region, unit, supporting, investment, category, funds, progress"
_LIST_COLUMNS = ", ".join(LISTS)

# Each version written once: project_history's rows, each flagged while it is its
# project's latest state (current), with the load of its details and of each node's dates
# (details_load, node_loads: project_latest's load_id and node_loads). What a load changed
# is where those loads are its own. A latest state merged from a load dated before the
# latest (and each latest state an older store kept apart) is a row of its own, `merged`:
# current, never a version. slips: nodes planned later than in the row it replaced.
ONE_COPY = f"""
CREATE TABLE project_wide (
    register VARCHAR NOT NULL, project VARCHAR NOT NULL, name VARCHAR, region VARCHAR NOT NULL,
    unit VARCHAR, supporting VARCHAR, investment DOUBLE, category VARCHAR, funds DOUBLE,
    progress DOUBLE, layout INTEGER NOT NULL, planned DATE[], reported DATE[],
    confirmed DATE[], confirmed_by VARCHAR[], node_lines BIGINT[], load_id BIGINT NOT NULL,
    line BIGINT, details_load BIGINT, node_loads BIGINT[], slips INTEGER NOT NULL,
    current BOOLEAN NOT NULL, merged BOOLEAN NOT NULL
);
INSERT INTO project_wide
SELECT register, project, {_PROJECT_COLUMNS}, layout, {_LIST_COLUMNS}, node_lines, load_id, line,
       CASE WHEN details_changed THEN load_id END,
       list_transform(nodes_changed, lambda x: CASE WHEN x THEN load_id END), 0, false, false
FROM project_history;
INSERT INTO project_wide
SELECT register, project, {_PROJECT_COLUMNS}, layout, {_LIST_COLUMNS}, NULL, load_id, NULL, load_id,
       node_loads, 0, true, true
FROM project_latest;
DROP TABLE project_history; DROP TABLE project_latest;
"""
# replaced_row: the row id of the latest state a version replaced, as its load read it
# (row ids move once deleted rows are compacted: meaningful to that load only).
REPLACED_ROW = "ALTER TABLE project_wide ADD COLUMN replaced_row BIGINT;"


# The two relations a load once wrote apart, and the narrow ones, as the tables they were.
# The narrow ones read project_wide itself: a node changed where its load is the row's.
VIEWS = f"""
CREATE OR REPLACE VIEW project_history AS
SELECT register, project, {_PROJECT_COLUMNS}, layout, {_LIST_COLUMNS}, node_lines,
       coalesce(details_load = load_id, false) AS details_changed,
       list_transform(node_loads, lambda x: coalesce(x = load_id, false)) AS nodes_changed,
       load_id, line
FROM project_wide WHERE NOT merged;

CREATE OR REPLACE VIEW project_latest AS
SELECT register, project, {_PROJECT_COLUMNS}, details_load AS load_id, layout,
       {_LIST_COLUMNS}, node_loads
FROM project_wide WHERE current;

CREATE OR REPLACE VIEW project_rows AS
SELECT register, project, {_PROJECT_COLUMNS}, load_id, line
FROM project_wide WHERE details_load = load_id AND NOT merged;

CREATE OR REPLACE VIEW node_rows AS
SELECT register, project, node, planned, reported, confirmed, confirmed_by, load_id, line
FROM (
    SELECT h.register, h.project, unnest(y.nodes) AS node, unnest(h.planned) AS planned,
           unnest(h.reported) AS reported, unnest(h.confirmed) AS confirmed,
           unnest(h.confirmed_by) AS confirmed_by, h.load_id,
           coalesce(unnest(h.node_lines), h.line) AS line,
           unnest(h.node_loads) AS node_load
    FROM project_wide h JOIN register_layouts y USING (layout)
    WHERE NOT h.merged
)
WHERE node_load = load_id;

-- node_rows of the nodes some count counts, picked from the lists (not unnested)
CREATE OR REPLACE VIEW counted_node_rows AS
SELECT h.register, h.project, y.node, h.reported[y.k] AS reported,
       h.confirmed[y.k] AS confirmed, h.load_id
FROM project_wide h
JOIN (SELECT y.layout, y.node, y.k
      FROM (SELECT layout, register, unnest(nodes) AS node,
                   generate_subscripts(nodes, 1) AS k FROM register_layouts) y
      SEMI JOIN register_counts c USING (register, node)) y ON y.layout = h.layout
WHERE h.node_loads[y.k] = h.load_id AND NOT h.merged;

CREATE OR REPLACE VIEW project_rows_current AS
SELECT p.register, p.project, {_PROJECT_COLUMNS}, l.known_from, p.load_id
FROM project_latest p JOIN loads l USING (load_id);

CREATE OR REPLACE VIEW node_rows_current AS
SELECT n.register, n.project, n.node, n.planned, n.reported, n.confirmed, n.confirmed_by,
       l.known_from, n.load_id
FROM (
    SELECT p.register, p.project, unnest(y.nodes) AS node, unnest(p.planned) AS planned,
           unnest(p.reported) AS reported, unnest(p.confirmed) AS confirmed,
           unnest(p.confirmed_by) AS confirmed_by, unnest(p.node_loads) AS load_id
    FROM project_latest p JOIN register_layouts y USING (layout)
) n JOIN loads l USING (load_id);
"""

# Each count's events by region and day from the latest versions, rebuilt by every load:
# one list element per counted node and project (what project_count_events has).
LATEST_COUNT_DAYS = """
DELETE FROM project_count_days;
INSERT INTO project_count_days
SELECT indicator, region, day, count(*) FROM (
    SELECT c.indicator, p.region,
           CASE WHEN c.confirmed_only THEN p.confirmed[y.k]
                ELSE coalesce(p.confirmed[y.k], p.reported[y.k]) END AS day
    FROM register_counts c JOIN project_latest p ON p.register = c.register
    JOIN (SELECT layout, unnest(nodes) AS node, generate_subscripts(nodes, 1) AS k
          FROM register_layouts) y ON y.layout = p.layout AND y.node = c.node
    WHERE c.min_investment IS NULL OR p.investment >= c.min_investment
)
WHERE day IS NOT NULL GROUP BY ALL;
"""
