"""A task's completion day and totals under revised reports, held by Hypothesis to a
direct reading of the rules: the latest version known by the day counts, and a quantity
task is finished on the first report whose running sum reaches the target. The day is
searched within stretches before the as-of day (metrics.task_status.STRETCHES): reached on
either side of each stretch's end, it is the same day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.store import open_store
from ingest.task_tables import supersede_sql
from metrics.task_status import STRETCHES, TaskScoring, install

START, DEADLINE = date(2026, 1, 5), date(2026, 3, 27)
Version = tuple[int, int, float | None, bool]  # load, day offset, quantity, done


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_store(tmp_path_factory.mktemp("reach") / "store.duckdb")
    install(con, TaskScoring())
    yield con
    con.close()


def _load(
    con: duckdb.DuckDBPyConnection, target: float, loads: list[int], versions: list[Version]
) -> None:
    """One task, and loads known from the given days (written in this order), each with
    its reports; a load that rewrites an existing report counts as revising, as ingest
    counts it."""
    for table in ("task_loads", "task_vintages", "report_vintages"):
        con.execute(f"DELETE FROM {table}")
    con.execute(
        "INSERT INTO task_loads VALUES (0, 'tasks', 'f', '', '2025-01-01', now(), 1, 1, 0, 0)"
    )
    con.execute(
        "INSERT INTO task_vintages VALUES ('T', 't', 'u', '', [], 'week', ?, ?, ?, '', "
        "NULL, false, 0, 1, NULL)",
        [START, DEADLINE, target],
    )
    seen: set[int] = set()
    for load, known in enumerate(loads, start=1):
        mine = [v for v in versions if v[0] == load]
        revised = sum(1 for v in mine if v[1] in seen)
        seen |= {v[1] for v in mine}
        day = datetime(2026, 1, 1) + timedelta(days=known)
        con.execute(
            "INSERT INTO task_loads VALUES (?, 'progress', 'f', '', ?, now(), ?, ?, ?, 0)",
            [load, day, len(mine), len(mine) - revised, revised],
        )
        for _, offset, quantity, done in mine:
            con.execute(
                "INSERT INTO report_vintages VALUES ('T', ?, ?, ?, '', ?, 1, NULL)",
                [START + timedelta(days=offset), quantity, done, load],
            )
        # what a load of these reports records of the versions it supersedes
        con.execute("CREATE OR REPLACE TEMP TABLE changed AS SELECT * FROM report_vintages "
                    "WHERE load_id = ?", [load])  # fmt: skip
        con.execute(supersede_sql("report_vintages", "changed"))


def _expected(
    target: float, loads: list[int], versions: list[Version], as_of: date
) -> tuple[float, date | None]:
    """Done quantity and completion day as of a day, read straight from the rules."""
    known = datetime.combine(as_of, datetime.min.time()) + timedelta(days=1)
    latest: dict[int, tuple[tuple[datetime, int], float | None, bool]] = {}
    for load, offset, quantity, done in versions:
        when = datetime(2026, 1, 1) + timedelta(days=loads[load - 1])
        if when >= known or START + timedelta(days=offset) > as_of:
            continue
        order = (when, load)
        if offset not in latest or latest[offset][0] < order:
            latest[offset] = (order, quantity, done)
    running, reached = 0.0, None
    for offset in sorted(latest):
        _, quantity, done = latest[offset]
        running += quantity or 0.0
        day = START + timedelta(days=offset)
        if reached is None and (done or running >= target):
            reached = day
    return running, reached


# (load, day, quantity, done): a done flag now and then, a quantity or none with it
VERSIONS = st.lists(
    st.tuples(
        st.integers(1, 4),
        st.sampled_from(range(0, 241, 6)),
        st.sampled_from([0.5, 1.0, 2.0, 3.0]),
        st.sampled_from([False] * 6 + [True]),
    )
    | st.tuples(st.integers(1, 4), st.sampled_from(range(0, 241, 6)), st.none(), st.just(True)),
    max_size=14,
)


@settings(deadline=None, max_examples=30)
@given(
    st.sampled_from([1.0, 3.0, 5.5, 8.0]),
    st.lists(st.integers(0, 150), min_size=4, max_size=4),
    VERSIONS,
    st.integers(0, 260),
)
def test_completion_day_follows_the_latest_known_versions(
    store: duckdb.DuckDBPyConnection,
    target: float,
    loads: list[int],
    versions: list[Version],
    as_of_offset: int,
) -> None:
    # one version per load and day: a load holds a key once
    unique = list({(v[0], v[1]): v for v in versions}.values())
    _load(store, target, loads, unique)
    as_of = START + timedelta(days=as_of_offset)
    [(done_quantity, done_on)] = store.execute(
        "SELECT done_quantity, done_on FROM task_status_as_of(?)", [as_of]
    ).fetchall()
    assert (done_quantity, done_on) == _expected(target, loads, unique, as_of)


AS_OF = START + timedelta(days=300)
# a report a day: one each, zero on every fifth day and none on every seventh
DAILY: list[Version] = [
    (1, n, None if n % 7 == 3 else float(n % 5 != 1), False) for n in range(320)
]


def test_a_target_reached_at_a_stretchs_end_or_beside_it(
    store: duckdb.DuckDBPyConnection,
) -> None:
    _load(store, 1.0, [0, 0, 0, 0], [])
    store.executemany(
        "INSERT INTO report_vintages VALUES ('T', ?, ?, false, '', 1, 1, NULL)",
        [(START + timedelta(days=n), q) for _, n, q, _ in DAILY],
    )
    ends = {300 - days for days in STRETCHES} | {0, 300}
    for reached in sorted({n + k for n in ends for k in (-1, 0, 1)} - {-1, 301}):
        target = sum(q or 0.0 for _, n, q, _ in DAILY if n <= reached)
        store.execute("UPDATE task_vintages SET quantity = ?", [target])
        [(done_quantity, done_on)] = store.execute(
            "SELECT done_quantity, done_on FROM task_status_as_of(?)", [AS_OF]
        ).fetchall()
        expected = _expected(target, [0, 0, 0, 0], DAILY, AS_OF)
        assert (done_quantity, done_on) == expected, reached
