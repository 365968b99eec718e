"""Store tables and analysts' views for units, tasks, progress reports and problems.

Tasks, reports and problems are versioned like observations: a load writes only the rows
that are new or changed, each with its file and line, and `*_as_of(d)` answers with what
was known by the end of day `d` (and, for reports, dated by then). The views show
what is known now. Each version keeps `superseded_from`, when the next version of its
key became known (NULL: none yet), so a view picks the versions current on a day by a
filter on each row instead of sorting every key's versions.
"""

from __future__ import annotations

from ingest.grains import sql_span_start

MIGRATION = """
CREATE TABLE unit_catalog (
    id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, kind VARCHAR NOT NULL, parent VARCHAR,
    task_force VARCHAR, lead VARCHAR, people VARCHAR[], supporting VARCHAR[]
);
CREATE TABLE task_loads (
    load_id BIGINT PRIMARY KEY, kind VARCHAR NOT NULL, file VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL, known_from TIMESTAMP NOT NULL, loaded_at TIMESTAMP NOT NULL,
    rows_read BIGINT NOT NULL, new_rows BIGINT NOT NULL, revised_rows BIGINT NOT NULL,
    unchanged_rows BIGINT NOT NULL
);
CREATE TABLE task_vintages (
    task VARCHAR NOT NULL, title VARCHAR NOT NULL, unit VARCHAR NOT NULL, person VARCHAR,
    supporting VARCHAR[], cadence VARCHAR NOT NULL, start_date DATE, deadline DATE NOT NULL,
    quantity DOUBLE, quantity_unit VARCHAR, parent VARCHAR, withdrawn BOOLEAN NOT NULL,
    load_id BIGINT NOT NULL, line BIGINT
);
CREATE TABLE report_vintages (
    task VARCHAR NOT NULL, report_date DATE NOT NULL, quantity DOUBLE, done BOOLEAN NOT NULL,
    note VARCHAR, load_id BIGINT NOT NULL, line BIGINT
);
CREATE TABLE problem_vintages (
    problem VARCHAR NOT NULL, title VARCHAR NOT NULL, unit VARCHAR NOT NULL, task VARCHAR,
    project VARCHAR, raised DATE NOT NULL, due DATE NOT NULL, resolved DATE,
    withdrawn BOOLEAN NOT NULL, load_id BIGINT NOT NULL, line BIGINT
);
"""

# Keys of each table, and when a version is current as of the end of day d.
KEYS = {"task_vintages": ("task",), "report_vintages": ("task", "report_date"),
        "problem_vintages": ("problem",)}  # fmt: skip
CURRENT = (
    "l.known_from < CAST(d AS DATE) + INTERVAL 1 DAY AND "
    "(v.superseded_from IS NULL OR v.superseded_from >= CAST(d AS DATE) + INTERVAL 1 DAY)"
)


def supersede_sql(table: str, changed: str | None = None) -> str:
    """Set superseded_from (the known_from of the key's next version) on every version of
    the keys in the table `changed`, or of every key."""
    keys = ", ".join(KEYS[table])
    only = f"SEMI JOIN (SELECT DISTINCT {keys} FROM {changed}) c USING ({keys})" if changed else ""
    return f"""
UPDATE {table} SET superseded_from = s.next_known
FROM (
    SELECT v.rowid AS rid,
           lead(l.known_from) OVER (PARTITION BY {keys} ORDER BY l.known_from, v.load_id)
               AS next_known
    FROM {table} v JOIN task_loads l USING (load_id) {only}
) s
WHERE {table}.rowid = s.rid AND {table}.superseded_from IS DISTINCT FROM s.next_known;
"""


# A version's successor, kept by every load; filled in here for what is stored.
SUPERSEDED = "\n".join(
    f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS superseded_from TIMESTAMP;{supersede_sql(t)}"
    for t in KEYS
)

_WEEK = sql_span_start("week", "r.report_date")

VIEWS = f"""
-- A region listed as a unit keeps its region's parent unless it names another.
CREATE OR REPLACE VIEW units AS
SELECT u.id, u.name, u.kind, coalesce(u.parent, r.parent) AS parent, u.task_force, u.lead,
       u.people, u.supporting
FROM unit_catalog u LEFT JOIN regions r ON r.id = u.id
UNION ALL
SELECT id, name, 'region', parent, NULL, '', [], [] FROM regions
WHERE id NOT IN (SELECT id FROM unit_catalog);

CREATE OR REPLACE MACRO tasks_as_of(d) AS TABLE
SELECT v.task, v.title, v.unit, v.person, v.supporting, v.cadence,
       coalesce(v.start_date, make_date(year(v.deadline), 1, 1)) AS start_date,
       v.deadline, v.quantity, v.quantity_unit, v.parent,
       l.known_from, l.file, v.line, v.load_id
FROM task_vintages v JOIN task_loads l USING (load_id)
WHERE {CURRENT} AND NOT v.withdrawn;

CREATE OR REPLACE VIEW tasks AS SELECT * FROM tasks_as_of(DATE '9999-12-30');

-- A report's week is its ISO week; the week counts in the month of its Thursday.
CREATE OR REPLACE MACRO task_progress_as_of(d) AS TABLE
WITH r AS (
    SELECT v.*, l.known_from, l.file
    FROM report_vintages v JOIN task_loads l USING (load_id) WHERE {CURRENT}
)
SELECT r.task, t.unit, r.report_date, {_WEEK} AS week_start,
       printf('%d-W%02d', isoyear(r.report_date), week(r.report_date)) AS week,
       month({_WEEK} + 3) AS week_month, r.quantity, r.done, r.note,
       t.quantity AS quantity_target,
       sum(coalesce(r.quantity, 0)) OVER (PARTITION BY r.task ORDER BY r.report_date)
           AS cumulative,
       r.known_from, r.file, r.line
FROM r JOIN tasks_as_of(d) t USING (task)
WHERE r.report_date <= CAST(d AS DATE);

CREATE OR REPLACE VIEW task_progress AS
SELECT * FROM task_progress_as_of(DATE '9999-12-30');

CREATE OR REPLACE MACRO problems_as_of(d) AS TABLE
SELECT * EXCLUDE (withdrawn),
       CASE WHEN resolved IS NOT NULL AND resolved <= CAST(d AS DATE)
                 THEN CASE WHEN resolved > due THEN 'resolved_late' ELSE 'resolved' END
            WHEN CAST(d AS DATE) > due THEN 'overdue'
            ELSE 'open' END AS status,
       CASE WHEN (resolved IS NULL OR resolved > CAST(d AS DATE)) AND CAST(d AS DATE) > due
            THEN CAST(CAST(d AS DATE) - due AS INTEGER) END AS days_overdue
FROM (
    SELECT v.problem, v.title, v.unit, v.task, v.project, v.raised, v.due, v.resolved,
           v.withdrawn, l.known_from, l.file, v.line
    FROM problem_vintages v JOIN task_loads l USING (load_id) WHERE {CURRENT}
) WHERE NOT withdrawn AND raised <= CAST(d AS DATE);

CREATE OR REPLACE VIEW problems AS SELECT * FROM problems_as_of(current_date);
"""
