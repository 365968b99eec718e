"""The project register's tables and analyst views (schema migration of the store).

Every register load keeps what changed: a project's details and each node's dates are
stored as a new version only when they differ from the latest one, so "as known on
date D" is the versions known by D. Views (documented in the README):

- project_versions / project_node_versions: every version, with known_from/known_until
- projects: latest state of each project, the node it waits at and for how long
  (waiting_days: since the later of its planned date and the last node done; stuck
  beyond the register's stuck_after_days)
- project_nodes: planned vs actual date of every node of every project, days late
- project_counts: projects counted per configured count, region (rolled up the tree),
  frequency (dekad = 旬, month, quarter, year) and period (from project_count_days,
  which every load rebuilds from the latest versions)
The `_at(d, today)` table macros give the same as known at timestamp d, judged on today.
"""

from __future__ import annotations

from ingest import register_wide
from ingest.grains import Grain, sql_span_start

TABLES = """
CREATE TABLE register_nodes (
    register VARCHAR NOT NULL, node VARCHAR NOT NULL, position INTEGER NOT NULL,
    name VARCHAR NOT NULL, unit VARCHAR, PRIMARY KEY (register, node)
);
CREATE TABLE register_settings (
    register VARCHAR PRIMARY KEY, stuck_after_days INTEGER NOT NULL, illustrative BOOLEAN
);
CREATE TABLE register_counts (
    indicator VARCHAR PRIMARY KEY, register VARCHAR NOT NULL, node VARCHAR NOT NULL,
    min_investment DOUBLE, confirmed_only BOOLEAN NOT NULL
);
CREATE TABLE project_rows (
    register VARCHAR NOT NULL, project VARCHAR NOT NULL, name VARCHAR, region VARCHAR NOT NULL,
    unit VARCHAR, supporting VARCHAR, investment DOUBLE, category VARCHAR, funds DOUBLE,
    progress DOUBLE, load_id BIGINT NOT NULL, line BIGINT
);
CREATE TABLE node_rows (
    register VARCHAR NOT NULL, project VARCHAR NOT NULL, node VARCHAR NOT NULL,
    planned DATE, reported DATE, confirmed DATE, confirmed_by VARCHAR,
    load_id BIGINT NOT NULL, line BIGINT
);
-- projects stored before but missing from a later load of the same register
CREATE TABLE project_absences (
    register VARCHAR NOT NULL, project VARCHAR NOT NULL, load_id BIGINT NOT NULL
);
"""

# The latest version of each project and node (what project_latest_at('infinity') and
# project_node_latest_at('infinity') give), kept by every load so that loads compare and
# counts read one row per key instead of resolving every stored version.
CURRENT_TABLES = """
CREATE TABLE project_rows_current (
    register VARCHAR NOT NULL, project VARCHAR NOT NULL, name VARCHAR, region VARCHAR NOT NULL,
    unit VARCHAR, supporting VARCHAR, investment DOUBLE, category VARCHAR, funds DOUBLE,
    progress DOUBLE, known_from TIMESTAMP NOT NULL, load_id BIGINT NOT NULL
);
CREATE TABLE node_rows_current (
    register VARCHAR NOT NULL, project VARCHAR NOT NULL, node VARCHAR NOT NULL,
    planned DATE, reported DATE, confirmed DATE, confirmed_by VARCHAR,
    known_from TIMESTAMP NOT NULL, load_id BIGINT NOT NULL
);
INSERT INTO project_rows_current
SELECT register, project, unnest(v) FROM (
    SELECT p.register, p.project,
           arg_max(struct_pack(name := p.name, region := p.region, unit := p.unit,
                               supporting := p.supporting, investment := p.investment,
                               category := p.category, funds := p.funds,
                               progress := p.progress, known_from := l.known_from,
                               load_id := p.load_id),
                   (l.known_from, p.load_id)) AS v
    FROM project_rows p JOIN loads l USING (load_id) GROUP BY ALL
);
INSERT INTO node_rows_current
SELECT register, project, node, unnest(v) FROM (
    SELECT n.register, n.project, n.node,
           arg_max(struct_pack(planned := n.planned, reported := n.reported,
                               confirmed := n.confirmed, confirmed_by := n.confirmed_by,
                               known_from := l.known_from, load_id := n.load_id),
                   (l.known_from, n.load_id)) AS v
    FROM node_rows n JOIN loads l USING (load_id) GROUP BY ALL
);
"""

_PERIOD_LABEL: dict[Grain, str] = {
    "dekad": "printf('%d-%02d-D%d', year(s), month(s), (day(s) + 9) // 10)",
    "month": "strftime(s, '%Y-%m')",
    "quarter": "printf('%dQ%d', year(s), quarter(s))",
    "year": "CAST(year(s) AS VARCHAR)",
}
# A span ends the day before the span holding (its start + its longest length) begins.
_LONGEST: dict[Grain, int] = {"dekad": 11, "month": 31, "quarter": 92, "year": 366}
_SPAN_END: dict[Grain, str] = {
    g: f"CAST({sql_span_start(g, f'CAST(s + INTERVAL {n} DAY AS DATE)')} - 1 AS DATE)"
    for g, n in _LONGEST.items()
}


def _counts_by(grain: Grain) -> str:
    """One frequency of project_counts_at, its spans from the calendar of grains."""
    return f"""
    SELECT indicator, region, '{grain}' AS frequency, s AS period_start,
           CAST(sum(n) AS BIGINT) AS projects
    FROM (SELECT indicator, region, n, {sql_span_start(grain, "day")} AS s FROM e)
    GROUP BY ALL"""


_GRAINS: tuple[Grain, ...] = ("dekad", "month", "quarter", "year")


def _events(nodes: str, projects: str) -> str:
    """The events of every configured count, from the given node and project versions."""
    return f"""
WITH e AS (
    SELECT c.indicator, p.region, p.project,
           CASE WHEN c.confirmed_only THEN n.confirmed
                ELSE coalesce(n.confirmed, n.reported) END AS day
    FROM register_counts c
    JOIN {nodes} n ON n.register = c.register AND n.node = c.node
    JOIN {projects} p ON p.register = n.register AND p.project = n.project
    WHERE c.min_investment IS NULL OR p.investment >= c.min_investment
)
SELECT * FROM e WHERE day IS NOT NULL"""


def by_day(events: str) -> str:
    """The events of a relation summed by count, region and day (column n)."""
    return f"(SELECT indicator, region, day, count(*) AS n FROM {events} GROUP BY ALL)"


# Each count's events summed by region and day as the latest versions have them
# (project_count_days, first built by a migration from the narrow tables; every load
# rebuilds it from the wide ones, ingest.register_wide.LATEST_COUNT_DAYS): project_counts
# reads these few rows.
REFRESH_COUNT_DAYS = f"""
DELETE FROM project_count_days;
INSERT INTO project_count_days
SELECT * FROM {by_day("(" + _events("node_rows_current", "project_rows_current") + ")")};
"""
COUNT_DAYS = f"""
CREATE TABLE project_count_days (
    indicator VARCHAR NOT NULL, region VARCHAR NOT NULL, day DATE NOT NULL,
    projects BIGINT NOT NULL
);
{REFRESH_COUNT_DAYS}
"""
# project_count_days as by_day gives it
KEPT_DAYS = "(SELECT indicator, region, day, projects AS n FROM project_count_days)"


def _counts(days: str) -> str:
    """project_counts over events summed by day (by_day): the rollup and the four grains
    work on days, not on projects."""
    labels = " ".join(f"WHEN '{g}' THEN {_PERIOD_LABEL[g]}" for g in _GRAINS)
    ends = " ".join(f"WHEN '{g}' THEN {_SPAN_END[g]}" for g in _GRAINS)
    return f"""
WITH e AS (  -- rolled up the region tree once, for all four grains
    SELECT d.indicator, t.ancestor AS region, d.day, sum(d.n) AS n
    FROM {days} d JOIN region_tree t ON t.region = d.region GROUP BY ALL
),
g AS ({" UNION ALL ".join(_counts_by(g) for g in _GRAINS)})
SELECT indicator, region, frequency, CASE frequency {labels} END AS period,
       s AS period_start, CASE frequency {ends} END AS period_end, projects
FROM (SELECT *, period_start AS s FROM g)"""


VIEWS = (
    register_wide.VIEWS
    + f"""
-- every region with itself and each region above it
CREATE OR REPLACE VIEW region_tree AS
WITH RECURSIVE up(region, ancestor, depth) AS (
    SELECT id, id, 0 FROM regions
    UNION ALL
    SELECT u.region, r.parent, u.depth + 1 FROM up u JOIN regions r ON r.id = u.ancestor
    WHERE r.parent IS NOT NULL AND u.depth < 32
)
SELECT region, ancestor, depth FROM up;

CREATE OR REPLACE MACRO project_versions_at(d) AS TABLE
SELECT p.register, p.project, p.name, p.region, p.unit, p.supporting, p.investment,
       p.category, p.funds, p.progress, l.known_from,
       lead(l.known_from) OVER w AS known_until, l.file, p.line, p.load_id
FROM project_rows p JOIN loads l USING (load_id)
WHERE l.known_from <= CAST(d AS TIMESTAMP)
WINDOW w AS (PARTITION BY p.register, p.project ORDER BY l.known_from, p.load_id);

CREATE OR REPLACE MACRO project_node_versions_at(d) AS TABLE
SELECT n.register, n.project, n.node, n.planned, n.reported, n.confirmed, n.confirmed_by,
       l.known_from, lead(l.known_from) OVER w AS known_until, l.file, n.line, n.load_id
FROM node_rows n JOIN loads l USING (load_id)
WHERE l.known_from <= CAST(d AS TIMESTAMP)
WINDOW w AS (PARTITION BY n.register, n.project, n.node ORDER BY l.known_from, n.load_id);

CREATE OR REPLACE VIEW project_versions AS
SELECT * FROM project_versions_at('infinity');

CREATE OR REPLACE VIEW project_node_versions AS
SELECT * FROM project_node_versions_at('infinity');

CREATE OR REPLACE MACRO project_nodes_at(d, today) AS TABLE
WITH p AS (SELECT * FROM project_versions_at(d) WHERE known_until IS NULL),
v AS (SELECT * FROM project_node_versions_at(d)),
n AS (SELECT * FROM v WHERE known_until IS NULL),
f AS (SELECT register, project, node,
             arg_min(planned, known_from) FILTER (planned IS NOT NULL) AS first_planned
      FROM v GROUP BY ALL),
j AS (
    SELECT p.register, p.project, p.name AS project_name, p.region, c.position, c.node,
           c.name AS node_name, coalesce(c.unit, p.unit) AS unit, p.investment,
           n.planned, f.first_planned, n.reported, n.confirmed, n.confirmed_by,
           coalesce(n.confirmed, n.reported) AS actual
    FROM p JOIN register_nodes c ON c.register = p.register
    LEFT JOIN n ON n.register = p.register AND n.project = p.project AND n.node = c.node
    LEFT JOIN f ON f.register = p.register AND f.project = p.project AND f.node = c.node
)
SELECT register, project, project_name, region, unit, position, node, node_name, investment,
       planned, first_planned, reported, confirmed, confirmed_by, actual,
       CASE WHEN confirmed IS NOT NULL THEN 'confirmed'
            WHEN reported IS NOT NULL THEN 'reported'
            WHEN planned < CAST(today AS DATE) THEN 'overdue'
            WHEN planned IS NOT NULL THEN 'planned' ELSE 'unplanned' END AS state,
       CASE WHEN actual IS NOT NULL THEN actual - planned
            WHEN planned < CAST(today AS DATE) THEN CAST(today AS DATE) - planned
            END AS days_late,
       planned - first_planned AS slip_days,
       coalesce(actual < max(actual) OVER (
           PARTITION BY register, project ORDER BY position
           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), false) AS out_of_order
FROM j;

CREATE OR REPLACE VIEW project_nodes AS
SELECT * FROM project_nodes_at('infinity', current_date);

CREATE OR REPLACE MACRO projects_at(d, today) AS TABLE
WITH p AS (SELECT * FROM project_versions_at(d) WHERE known_until IS NULL),
first_seen AS (SELECT register, project, min(known_from) AS since
               FROM project_versions_at(d) GROUP BY ALL),
n AS (SELECT * FROM project_nodes_at(d, today)),
waits AS (  -- the first node, in order, planned and not done yet
    SELECT register, project, arg_min(node, position) AS node,
           arg_min(node_name, position) AS node_name, min(position) AS position,
           arg_min(planned, position) AS planned
    FROM n WHERE actual IS NULL AND planned IS NOT NULL GROUP BY ALL
),
agg AS (
    SELECT n.register, n.project,
           count(*) FILTER (n.actual IS NOT NULL) AS nodes_done,
           count(*) FILTER (n.state = 'overdue') AS nodes_overdue,
           count(*) FILTER (n.state = 'reported') AS nodes_unconfirmed,
           max(n.days_late) FILTER (n.state = 'overdue') AS worst_days_late,
           max(n.actual) FILTER (n.position < coalesce(w.position, 1e9)) AS last_done
    FROM n LEFT JOIN waits w USING (register, project) GROUP BY ALL
),
last_load AS (
    SELECT l.source AS register, max(l.load_id) AS load_id FROM loads l
    WHERE l.known_from <= CAST(d AS TIMESTAMP)
      AND l.source IN (SELECT register FROM register_settings) GROUP BY ALL
)
SELECT p.register, p.project, p.name, p.region, p.unit, p.supporting, p.investment,
       p.category, p.funds, p.progress, a.nodes_done, a.nodes_overdue, a.nodes_unconfirmed,
       a.worst_days_late, w.node AS waiting_at, w.node_name AS waiting_at_name,
       -- how long it waits: since the later of the node's plan and the last node done
       CASE WHEN w.node IS NOT NULL
            THEN greatest(0, CAST(today AS DATE) - greatest(a.last_done, w.planned)) END
           AS waiting_days,
       coalesce(waiting_days > r.stuck_after_days, false) AS stuck,
       NOT EXISTS (SELECT 1 FROM project_absences x JOIN last_load ll USING (register, load_id)
                   WHERE x.register = p.register AND x.project = p.project) AS listed,
       p.known_from, r.illustrative
FROM p JOIN agg a USING (register, project) JOIN first_seen s USING (register, project)
LEFT JOIN waits w USING (register, project)
LEFT JOIN register_settings r ON r.register = p.register;

CREATE OR REPLACE VIEW projects AS
SELECT * FROM projects_at('infinity', current_date);

-- The latest version of each project and node known at d, without the windows of the
-- views above: what loads and counts compare and count.
CREATE OR REPLACE MACRO project_latest_at(d) AS TABLE
SELECT register, project, unnest(v) FROM (
    SELECT p.register, p.project,
           arg_max(struct_pack(name := p.name, region := p.region, unit := p.unit,
                               supporting := p.supporting, investment := p.investment,
                               category := p.category, funds := p.funds,
                               progress := p.progress),
                   (l.known_from, p.load_id)) AS v
    FROM project_rows p JOIN loads l USING (load_id)
    WHERE l.known_from <= CAST(d AS TIMESTAMP) GROUP BY ALL
);

CREATE OR REPLACE MACRO project_node_latest_at(d) AS TABLE
SELECT register, project, node, unnest(v) FROM (
    SELECT n.register, n.project, n.node,
           arg_max(struct_pack(planned := n.planned, reported := n.reported,
                               confirmed := n.confirmed, confirmed_by := n.confirmed_by),
                   (l.known_from, n.load_id)) AS v
    FROM node_rows n JOIN loads l USING (load_id)
    WHERE l.known_from <= CAST(d AS TIMESTAMP) GROUP BY ALL
);

-- The versions a count reads as known at d: the latest dates of the counted nodes only,
-- and each project's region and investment (a third of the node versions, two columns).
CREATE OR REPLACE MACRO project_count_nodes_at(d) AS TABLE
SELECT register, project, node, unnest(v) FROM (
    SELECT n.register, n.project, n.node,
           arg_max(struct_pack(reported := n.reported, confirmed := n.confirmed),
                   (l.known_from, n.load_id)) AS v
    FROM counted_node_rows n JOIN loads l USING (load_id)
    WHERE l.known_from <= CAST(d AS TIMESTAMP) GROUP BY ALL
);

CREATE OR REPLACE MACRO project_count_projects_at(d) AS TABLE
SELECT register, project, unnest(v) FROM (
    SELECT p.register, p.project,
           arg_max(struct_pack(region := p.region, investment := p.investment),
                   (l.known_from, p.load_id)) AS v
    FROM project_rows p JOIN loads l USING (load_id)
    WHERE l.known_from <= CAST(d AS TIMESTAMP) GROUP BY ALL
);

-- the dated events each configured count counts (one per project at most), as known at
-- d and (project_count_events) as known now, from the latest versions kept by the loads
CREATE OR REPLACE MACRO project_count_events_at(d) AS TABLE
{_events("project_count_nodes_at(d)", "project_count_projects_at(d)")};

CREATE OR REPLACE VIEW project_count_events AS
{_events("node_rows_current", "project_rows_current")};

CREATE OR REPLACE MACRO project_counts_at(d) AS TABLE
{_counts(by_day("project_count_events_at(d)"))};

CREATE OR REPLACE VIEW project_counts AS
{_counts(KEPT_DAYS)};
"""
)
