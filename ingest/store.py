"""The DuckDB store: opening, schema migrations and the analysts' views."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ingest import register_sql
from ingest.errors import StoreError
from ingest.schema import Indicator, Region
from ingest.store_schema import MIGRATIONS
from ingest.store_views import VIEWS
from ingest.task_tables import VIEWS as TASK_VIEWS

# 16 vectors of 2,048 rows
ROW_GROUP_ROWS = 16_384

__all__ = [
    "MIGRATIONS",
    "ROW_GROUP_ROWS",
    "open_store",
    "schema_version",
    "sync_catalog",
    "transaction",
]


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run the block in one transaction: all of it commits, or none of it."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def open_store(
    path: str | Path, read_only: bool = False, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, creating and migrating the schema when writable.

    With a memory limit, what does not fit (a large file's staged rows) spills to
    `<store>.tmp/` instead of growing the process.
    """
    con = duckdb.connect()
    mode = ", READ_ONLY" if read_only else ""
    try:
        # Row groups smaller than DuckDB's default (122,880 rows): an append of at least
        # one row group is compressed straight into the file instead of being logged whole
        # to the WAL and compressed again at the checkpoint. The size is not stored in
        # the file: analysts who open it are unaffected.
        con.execute(f"ATTACH ? AS store (ROW_GROUP_SIZE {ROW_GROUP_ROWS}{mode})", [str(path)])
        con.execute("USE store")
    except duckdb.Error as exc:
        con.close()
        raise StoreError(f"{path}: cannot open the DuckDB file: {exc}") from exc
    # The progress bar would write into the CLI's output and the service's log.
    con.execute("SET enable_progress_bar = false")
    if memory_limit:
        con.execute("SET memory_limit = ?", [memory_limit])
        con.execute("SET temp_directory = ?", [f"{path}.tmp"])
        con.execute("SET preserve_insertion_order = true")
    if not read_only:
        migrate(con)
    return con


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of an open store (0 when empty)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchall()[0]
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0]
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Apply pending migrations; each one commits with its version row or not at all."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version "
        "(version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
    )
    current = schema_version(con)
    latest = MIGRATIONS[-1][0]
    if current > latest:
        raise StoreError(f"store schema version {current} is newer than this kpiwatch ({latest})")
    try:
        # Every version the store has not recorded, not only those above its highest: a
        # migration's own row is what says it ran. A damaged file can fail this read too.
        applied = {int(r[0]) for r in con.execute("SELECT version FROM schema_version").fetchall()}
        pending = [(v, sql) for v, sql in MIGRATIONS if v not in applied]
        if not pending:
            return
        with transaction(con):
            for version, sql in pending:
                con.execute(sql)
                con.execute("INSERT INTO schema_version VALUES (?, now())", [version])
            con.execute(VIEWS)
            con.execute(TASK_VIEWS)
            con.execute(register_sql.VIEWS)
    except duckdb.Error as exc:
        raise StoreError(f"schema migration failed: {exc}") from exc


def sync_catalog(
    con: duckdb.DuckDBPyConnection, indicators: Iterable[Indicator], regions: Iterable[Region]
) -> bool:
    """Mirror the configured indicators and regions into their tables; True if changed."""
    ind_rows = sorted(
        (i.id, i.name, i.unit, i.kind, i.frequency, i.direction, i.owner, i.illustrative)
        for i in indicators
    )
    reg_rows = sorted((r.id, r.name, r.parent) for r in regions)
    if (
        con.execute("SELECT * FROM indicators ORDER BY id").fetchall() == ind_rows
        and con.execute("SELECT * FROM regions ORDER BY id").fetchall() == reg_rows
    ):
        return False
    con.execute("DELETE FROM indicators")
    con.execute("DELETE FROM regions")
    # Whole columns as list parameters: executemany costs a statement per row.
    if ind_rows:
        con.execute(
            "INSERT INTO indicators SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
            "unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
            "unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::BOOLEAN[])",
            [list(column) for column in zip(*ind_rows, strict=True)],
        )
    if reg_rows:
        con.execute(
            "INSERT INTO regions SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
            "unnest(?::VARCHAR[])",
            [list(column) for column in zip(*reg_rows, strict=True)],
        )
    return True
