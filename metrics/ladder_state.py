"""Whether a store's escalation ladder is the one a refresh would install, to skip it.

The ladder is views and macros over the stored checks, tasks and nodes, plus small
tables of what the config gives (rules, talks, target splits): none of it depends on
the data, yet binding its views costs about as much as a refresh after a small release.
The store keeps a fingerprint of the last install: the config's part, this code, and
the catalog's shape after the install (a view the ladder reads given other columns by a
migration, or a view dropped by hand, installs it again).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import duckdb

from ingest import task_tables
from ingest.fingerprint import source_digest
from ingest.store import transaction
from metrics import ladder, per_period, splits, task_pace, task_status
from metrics.splits import Split

STATE = "escalation_installed"
# The names of the store's views and macros and the columns of its tables and views: a
# view the ladder reads whose columns change (by a migration) makes the ladder's views
# fail to bind, and one dropped by hand must be made again. (Not the views' SQL: DuckDB
# writes an EXCLUDE list in no fixed order.)
CATALOG_SQL = """
SELECT string_agg(line, chr(10) ORDER BY line) FROM (
    SELECT 'v ' || view_name AS line FROM duckdb_views()
    WHERE NOT internal AND NOT temporary AND schema_name = 'main'
    UNION ALL
    SELECT 'c ' || table_name || ' ' || column_name || ' ' || data_type FROM duckdb_columns()
    WHERE NOT internal AND schema_name = 'main' AND database_name = current_database()
    UNION ALL
    SELECT 'm ' || function_name || ' ' || CAST(parameters AS VARCHAR) FROM duckdb_functions()
    WHERE NOT internal AND function_type IN ('macro', 'table_macro') AND schema_name = 'main'
      AND database_name = current_database()
)
"""


def _code() -> str:
    """The fingerprint of the code whose SQL an install runs."""
    return source_digest([ladder, per_period, splits, task_pace, task_status, task_tables])


CODE = _code()


def install(
    con: duckdb.DuckDBPyConnection,
    esc: ladder.Escalation,
    scoring: task_status.TaskScoring,
    rules: Sequence[per_period.EveryPeriod],
    target_splits: Callable[[], Sequence[Split]],
    targets_digest: str,
    *,
    force: bool = False,
) -> bool:
    """Install the ladder and the target splits unless the store holds this very install;
    `targets_digest` stands for the targets, regions and indicators the splits follow
    from (computed only when installing). True when installed."""
    wanted = hashlib.sha1(
        "\n".join(
            [
                CODE,
                esc.model_dump_json(),
                scoring.model_dump_json(),
                *(r.model_dump_json() for r in rules),
                targets_digest,
            ]
        ).encode()
    ).hexdigest()
    if not force and _recorded(con) == f"{wanted} {_catalog(con)}":
        return False
    ladder.install(con, esc, scoring, rules)
    splits.install(con, target_splits())
    con.execute(f"CREATE TABLE IF NOT EXISTS {STATE} (fingerprint VARCHAR NOT NULL)")
    catalog = _catalog(con)  # after the install: what the next refresh will find
    with transaction(con):
        con.execute(f"DELETE FROM {STATE}")
        con.execute(f"INSERT INTO {STATE} VALUES (?)", [f"{wanted} {catalog}"])
    return True


def _recorded(con: duckdb.DuckDBPyConnection) -> str | None:
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main' "
        "AND database_name = current_database()",
        [STATE],
    ).fetchall()
    if not found[0][0]:
        return None
    rows = con.execute(f"SELECT fingerprint FROM {STATE}").fetchall()
    return str(rows[0][0]) if len(rows) == 1 else None


def _catalog(con: duckdb.DuckDBPyConnection) -> str:
    text = con.execute(CATALOG_SQL).fetchall()[0][0] or ""
    return hashlib.sha1(str(text).encode()).hexdigest()
