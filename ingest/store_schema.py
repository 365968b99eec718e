"""The store's tables as SQL migrations, applied once each, in order."""

from __future__ import annotations

from ingest import register_sql, register_wide
from ingest.task_tables import MIGRATION as TASK_TABLES
from ingest.task_tables import SUPERSEDED

# Each migration runs once, in order, inside one transaction with its version row.
MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE loads (
            load_id BIGINT PRIMARY KEY,
            source VARCHAR,
            file VARCHAR NOT NULL,
            sha256 VARCHAR NOT NULL,
            known_from TIMESTAMP NOT NULL,
            loaded_at TIMESTAMP NOT NULL,
            rows_read BIGINT NOT NULL,
            new_values BIGINT NOT NULL,
            revised_values BIGINT NOT NULL,
            unchanged_values BIGINT NOT NULL
        );
        CREATE TABLE periods (
            period VARCHAR PRIMARY KEY,
            period_start DATE NOT NULL,
            period_end DATE NOT NULL,
            months TINYINT NOT NULL,
            freq VARCHAR NOT NULL
        );
        CREATE TABLE observation_vintages (
            indicator VARCHAR NOT NULL,
            region VARCHAR NOT NULL,
            period VARCHAR NOT NULL,
            measure VARCHAR NOT NULL,
            value DOUBLE NOT NULL,
            load_id BIGINT NOT NULL,
            line BIGINT
        );
        CREATE TABLE indicators (
            id VARCHAR PRIMARY KEY, name VARCHAR, unit VARCHAR, kind VARCHAR,
            frequency VARCHAR, direction VARCHAR, owner VARCHAR, illustrative BOOLEAN
        );
        CREATE TABLE regions (id VARCHAR PRIMARY KEY, name VARCHAR, parent VARCHAR);
        """,
    ),
    (
        2,
        """
        CREATE TABLE progress_checks (
            indicator VARCHAR NOT NULL, region VARCHAR NOT NULL, year INTEGER NOT NULL,
            month INTEGER NOT NULL, horizon VARCHAR NOT NULL, horizon_month INTEGER NOT NULL,
            actual DOUBLE, pace_target DOUBLE, horizon_target DOUBLE, attainment DOUBLE,
            gap DOUBLE, required_rate DOUBLE, remaining_periods INTEGER,
            raw_status VARCHAR NOT NULL, status VARCHAR NOT NULL, cascade_note VARCHAR,
            pacing VARCHAR, rolled_up BOOLEAN, stale BOOLEAN, rank_in_parent INTEGER,
            computed_at TIMESTAMP NOT NULL
        );
        CREATE TABLE rollup_mismatches (
            indicator VARCHAR, region VARCHAR, year INTEGER, month INTEGER,
            reported DOUBLE, children_sum DOUBLE
        );
        CREATE TABLE status_labels (status VARCHAR PRIMARY KEY, label VARCHAR);
        """,
    ),
    (
        3,
        """
        CREATE TABLE forecast_results (
            indicator VARCHAR NOT NULL, region VARCHAR NOT NULL, year INTEGER NOT NULL,
            month INTEGER NOT NULL, horizon VARCHAR NOT NULL, horizon_month INTEGER NOT NULL,
            target DOUBLE, point DOUBLE, lower80 DOUBLE, upper80 DOUBLE, lower95 DOUBLE,
            upper95 DOUBLE, p_meet DOUBLE, expected_shortfall DOUBLE,
            forecast_status VARCHAR, model VARCHAR NOT NULL, backtest_mase DOUBLE,
            note VARCHAR, input_hash VARCHAR NOT NULL, computed_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        4,
        # Vintages keyed by integers: a series id (indicator × region × measure) and the
        # period key yyyy·10⁴ + first month·100 + last month. Writing and grouping
        # integers is several times cheaper than strings; observation_vintages stays
        # as a view with the same columns.
        """
        CREATE TABLE series (
            series_id INTEGER PRIMARY KEY,
            indicator VARCHAR NOT NULL,
            region VARCHAR NOT NULL,
            measure VARCHAR NOT NULL,
            UNIQUE (indicator, region, measure)
        );
        ALTER TABLE periods ADD COLUMN pkey INTEGER;
        UPDATE periods
        SET pkey = year(period_start) * 10000 + month(period_start) * 100 + month(period_end);
        CREATE TABLE vintages (
            series_id INTEGER NOT NULL,
            pkey INTEGER NOT NULL,
            value DOUBLE NOT NULL,
            load_id BIGINT NOT NULL,
            line BIGINT
        );
        INSERT INTO series
        SELECT row_number() OVER (ORDER BY indicator, region, measure) - 1, *
        FROM (SELECT DISTINCT indicator, region, measure FROM observation_vintages);
        INSERT INTO vintages
        SELECT s.series_id, p.pkey, v.value, v.load_id, v.line
        FROM observation_vintages v
        JOIN series s USING (indicator, region, measure) JOIN periods p USING (period);
        DROP TABLE observation_vintages;
        """,
    ),
    (
        5,
        # Checks stored by target id with enum statuses: a refresh rewrites millions of
        # rows, and repeating the names on each made storing them the slowest step.
        # progress_checks stays as a view with the same columns.
        """
        CREATE TYPE check_horizon AS ENUM ('month', 'quarter', 'year');
        CREATE TYPE check_status AS ENUM ('no_data', 'on_track', 'at_risk', 'behind');
        CREATE TABLE check_targets (
            target_id INTEGER PRIMARY KEY, indicator VARCHAR NOT NULL,
            region VARCHAR NOT NULL, year INTEGER NOT NULL, pacing VARCHAR
        );
        CREATE TABLE check_results (
            target_id INTEGER NOT NULL, month INTEGER NOT NULL, horizon check_horizon NOT NULL,
            horizon_month INTEGER NOT NULL, actual DOUBLE, pace_target DOUBLE,
            horizon_target DOUBLE, attainment DOUBLE, gap DOUBLE, required_rate DOUBLE,
            remaining_periods INTEGER, raw_status check_status NOT NULL,
            status check_status NOT NULL,
            cascade TINYINT,  -- 1: the month is behind, 2: the quarter is behind
            rolled_up BOOLEAN, stale BOOLEAN, rank_in_parent INTEGER,
            computed_at TIMESTAMP NOT NULL
        );
        INSERT INTO check_targets
        SELECT row_number() OVER (ORDER BY indicator, region, year) - 1, *
        FROM (SELECT DISTINCT indicator, region, year, pacing FROM progress_checks);
        INSERT INTO check_results
        SELECT t.target_id, p.month, p.horizon, p.horizon_month, p.actual, p.pace_target,
               p.horizon_target, p.attainment, p.gap, p.required_rate, p.remaining_periods,
               p.raw_status, p.status,
               CASE p.cascade_note WHEN 'this month is behind its own target' THEN 1
                                   WHEN 'the current quarter is behind' THEN 2 END,
               p.rolled_up, p.stale, p.rank_in_parent, p.computed_at
        FROM progress_checks p JOIN check_targets t USING (indicator, region, year);
        DROP TABLE progress_checks;
        """,
    ),
    (
        6,
        # One row per target and as-of month with the three horizons side by side, each
        # horizon's statuses in one small code (raw severity + 4 × severity + 16 when the
        # cascade raised it; severities 0 no data … 3 behind), and what follows from the
        # numbers (attainment, gap, required rate, periods left) derived in the view:
        # every stored column cost about 0.03 s per million checks on each refresh.
        # What is constant per target (annual target, staleness, computed_at) lives in
        # check_targets.
        """
        CREATE TABLE check_targets_6 (
            target_id INTEGER NOT NULL, indicator VARCHAR NOT NULL,
            region VARCHAR NOT NULL, year INTEGER NOT NULL, pacing VARCHAR,
            kind VARCHAR NOT NULL, direction VARCHAR NOT NULL, step TINYINT NOT NULL,
            annual DOUBLE, stale_month TINYINT, computed_at TIMESTAMP NOT NULL
        );
        INSERT INTO check_targets_6
        SELECT t.target_id, t.indicator, t.region, t.year, t.pacing,
               coalesce(i.kind, 'flow'), coalesce(i.direction, 'higher'),
               CASE i.frequency WHEN 'quarterly' THEN 3 ELSE 1 END, c.annual,
               c.stale_month, coalesce(c.computed_at, now())
        FROM check_targets t LEFT JOIN indicators i ON i.id = t.indicator
        LEFT JOIN (SELECT target_id, max(month) FILTER (stale) AS stale_month,
                          any_value(horizon_target) FILTER (horizon = 'year') AS annual,
                          max(computed_at) AS computed_at
                   FROM check_results GROUP BY target_id) c USING (target_id);
        CREATE TABLE check_results_6 (
            target_id INTEGER NOT NULL, month TINYINT NOT NULL, rolled_up BOOLEAN,
            y_actual DOUBLE, y_pace DOUBLE, y_code UTINYINT, y_rank INTEGER,
            q_actual DOUBLE, q_pace DOUBLE, q_target DOUBLE, q_code UTINYINT, q_rank INTEGER,
            m_actual DOUBLE, m_pace DOUBLE, m_code UTINYINT, m_rank INTEGER
        );
        INSERT INTO check_results_6
        WITH c AS (
            SELECT *, enum_code(raw_status) + 4 * enum_code(status)
                      + 16 * CAST(cascade IS NOT NULL AS INTEGER) AS code
            FROM check_results
        )
        SELECT target_id, month, bool_or(rolled_up),
               any_value(actual) FILTER (horizon = 'year'),
               any_value(pace_target) FILTER (horizon = 'year'),
               any_value(code) FILTER (horizon = 'year'),
               any_value(rank_in_parent) FILTER (horizon = 'year'),
               any_value(actual) FILTER (horizon = 'quarter'),
               any_value(pace_target) FILTER (horizon = 'quarter'),
               any_value(horizon_target) FILTER (horizon = 'quarter'),
               any_value(code) FILTER (horizon = 'quarter'),
               any_value(rank_in_parent) FILTER (horizon = 'quarter'),
               any_value(actual) FILTER (horizon = 'month'),
               any_value(pace_target) FILTER (horizon = 'month'),
               any_value(code) FILTER (horizon = 'month'),
               any_value(rank_in_parent) FILTER (horizon = 'month')
        FROM c GROUP BY target_id, month;
        DROP TABLE check_results;
        DROP TABLE check_targets;
        DROP TYPE check_horizon;
        DROP TYPE check_status;
        ALTER TABLE check_targets_6 RENAME TO check_targets;
        ALTER TABLE check_results_6 RENAME TO check_results;
        """,
    ),
    (
        7,
        # The unit answering for a target (its own, else its region's; the indicator's
        # owner is joined in the views), and the last month of the target's year with
        # data (NULL: none at all, the target is checked once as no_data).
        """
        ALTER TABLE check_targets ADD COLUMN owner VARCHAR;
        ALTER TABLE check_targets ADD COLUMN data_month TINYINT;
        """,
    ),
    # Units, tasks, progress reports and problems (ingest/task_tables.py).
    (8, TASK_TABLES),
    (9, register_sql.TABLES),  # the project register (ingest/register_sql.py)
    # Values a load brought with a vintage older than the stored one: kept as history.
    (10, "ALTER TABLE loads ADD COLUMN older_values BIGINT NOT NULL DEFAULT 0;"),
    # No table changes: the register's views gain project_latest_at and friends, and the
    # views are re-created with every migration.
    (11, "SELECT 1;"),
    # Stock indicators summed over a register's projects ([[registers.sums]]).
    (
        12,
        "CREATE TABLE register_sums "
        "(indicator VARCHAR PRIMARY KEY, register VARCHAR, field VARCHAR);",
    ),
    # No table changes: the views progress_latest, forecasts and forecasts_latest.
    (13, "SELECT 1;"),
    # The latest version of each project and node, kept by every register load.
    (14, register_sql.CURRENT_TABLES),
    # Targets of register counts checked at the end of every 旬 (metrics/project_dekads.py).
    (
        15,
        """
        CREATE TABLE progress_dekads (
            indicator VARCHAR NOT NULL, region VARCHAR NOT NULL, year INTEGER NOT NULL,
            period VARCHAR NOT NULL, period_start DATE NOT NULL, period_end DATE NOT NULL,
            as_of_day DATE NOT NULL, actual DOUBLE, pace_target DOUBLE, dekad_target DOUBLE,
            attainment DOUBLE, gap DOUBLE, status VARCHAR NOT NULL, computed_at TIMESTAMP NOT NULL
        );
        """,
    ),
    # When each task, report and problem version was superseded (ingest/task_tables.py).
    (16, SUPERSEDED),
    # The register counts' events by day, rebuilt by every register load.
    (17, register_sql.COUNT_DAYS),
    # Nowcasts of quarterly growth from monthly releases, one set per as-of date, and the
    # news each date's releases brought (forecasts/nowcast_stage.py).
    (
        18,
        """
        CREATE TABLE nowcast_results (
            indicator VARCHAR NOT NULL, region VARCHAR NOT NULL, as_of DATE NOT NULL,
            quarter VARCHAR NOT NULL, target DOUBLE, point DOUBLE NOT NULL,
            sd DOUBLE NOT NULL, lower80 DOUBLE, upper80 DOUBLE, lower95 DOUBLE,
            upper95 DOUBLE, p_meet DOUBLE, expected_shortfall DOUBLE, model VARCHAR NOT NULL,
            reason VARCHAR NOT NULL, input_hash VARCHAR NOT NULL, computed_at TIMESTAMP NOT NULL
        );
        CREATE TABLE nowcast_news_rows (
            indicator VARCHAR NOT NULL, region VARCHAR NOT NULL, as_of DATE NOT NULL,
            previous_as_of DATE NOT NULL, quarter VARCHAR NOT NULL, release VARCHAR NOT NULL,
            series VARCHAR NOT NULL, surprise DOUBLE, weight DOUBLE, impact DOUBLE
        );
        """,
    ),
    # What the last refresh saw, so that the next one recomputes only what changed: the
    # newest load, a digest of the config, each target's own inputs, and the day
    # staleness was judged on; per target the newest month of its series (yyyymm).
    (
        19,
        """
        ALTER TABLE check_targets ADD COLUMN series_latest INTEGER;
        CREATE TABLE check_state (
            load_id BIGINT NOT NULL, inputs VARCHAR NOT NULL, targets VARCHAR NOT NULL,
            today DATE NOT NULL
        );
        CREATE TABLE check_inputs (target_id INTEGER PRIMARY KEY, inputs VARCHAR NOT NULL);
        """,
    ),
    # No table changes: project_counts_at(d) resolves the counted nodes' versions only
    # (the register's views gain project_count_nodes_at and project_count_projects_at).
    (20, "SELECT 1;"),
    # No table changes: the view monthly rolls 旬 figures up to their months.
    (21, "SELECT 1;"),
    # The register stored wide, one row per project version (ingest/register_wide.py);
    # project_rows, node_rows and their _current tables become views with the same rows.
    (22, register_wide.MIGRATION),
    # No table changes: the view monthly reads its 旬 from the vintages directly.
    (23, "SELECT 1;"),
    # The day each target's next figure is due (its staleness is read from it); NULL
    # until the next refresh judges it.
    (24, "ALTER TABLE check_targets ADD COLUMN release_due DATE;"),
    # Each project version written once (project_wide); project_history and project_latest
    # become views with the same rows (ingest/register_wide.py).
    (25, register_wide.ONE_COPY),
    # A version keeps the row id of the latest state it replaced, for its load to retire.
    (26, register_wide.REPLACED_ROW),
]
