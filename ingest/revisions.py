"""How a file's values compare with the stored vintages: new, revised, unchanged or older.

A file's figures are known from its vintage (`--vintage`, default now). A value whose key
already has a later vintage does not change the current figure: it is an older vintage,
kept as history (or unchanged, when it equals what was known at its date).
"""

from __future__ import annotations

from datetime import datetime

import duckdb

# Equal at any precision a statistics office publishes (about 12 significant digits):
# a scale conversion's last-bit noise (12345 万元 × 0.0001 = 1.2345000000000002 亿元)
# is no revision.
RELATIVE_TOLERANCE = 1e-12


def same(a: str, b: str) -> str:
    """SQL: whether two values are one figure (NULL when either is NULL)."""
    return f"(abs({a} - {b}) <= {RELATIVE_TOLERANCE} * greatest(abs({a}), abs({b})))"


def prior_values(con: duckdb.DuckDBPyConnection, known_from: datetime | None) -> None:
    """prior(k, value, newer, value_then) for each stored key of the file's series.

    value is the current figure; newer says a vintage later than the file's exists;
    value_then is the figure known at the file's vintage.
    """
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE prior AS
        SELECT (f.kr << 25) | v.pkey AS k,
               arg_max(v.value, (l.known_from, v.load_id)) AS value,
               max(l.known_from) > $at AS newer,
               arg_max(v.value, (l.known_from, v.load_id)) FILTER (l.known_from <= $at)
                 AS value_then
        FROM vintages v JOIN file_series f ON f.known_id = v.series_id
        JOIN loads l USING (load_id)
        GROUP BY ALL
        """,
        {"at": known_from or _now(con)},
    )


def with_status(known: bool) -> str:
    """incoming as `i` with the status of each value: new, revised, unchanged or older."""
    if not known:
        return "(SELECT *, 'new' AS status FROM incoming) i"
    return f"""(
        SELECT i.*,
               CASE WHEN p.k IS NULL THEN 'new'
                    WHEN p.newer AND {same("p.value_then", "i.value")} THEN 'unchanged'
                    WHEN p.newer THEN 'older'
                    WHEN {same("p.value", "i.value")} THEN 'unchanged'
                    ELSE 'revised' END AS status
        FROM incoming i LEFT JOIN prior p USING (k)
    ) i"""


def _now(con: duckdb.DuckDBPyConnection) -> datetime:
    """The moment a load without a vintage is known from, as the loads table records it."""
    row = con.execute("SELECT now()::TIMESTAMP").fetchall()[0]
    return row[0]  # type: ignore[no-any-return]
